"""Pixel analysis of images and video (A1-A3): colours, layout, brightness, motion, scene cuts,
and optionally the ImageNet classes a small classifier sees."""

from __future__ import annotations

import numpy as np

from mexa_ray.config import ExpertSpec
from mexa_ray.experts.base import Expert
from mexa_ray.experts.colours import colour_name, colour_shares
from mexa_ray.experts.imagenet import ImageNetClassifier
from mexa_ray.experts.regions import describe_regions, find_regions
from mexa_ray.experts.settings import VisualSettings
from mexa_ray.experts.text_utils import fmt_num
from mexa_ray.media.image import read_image
from mexa_ray.media.video import Frames, read_frames
from mexa_ray.types import Media, Query, Skill

#: the 3 x 3 grid that reports name places on a picture by ("top left" .. "bottom right")
ROWS = ("top", "middle", "bottom")
COLS = ("left", "centre", "right")


def _small(img: np.ndarray, side: int = 96) -> np.ndarray:
    step = max(1, max(img.shape[:2]) // side)
    return img[::step, ::step]


def _luma(img: np.ndarray) -> np.ndarray:
    return img[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _brightness_word(v: float) -> str:
    return "dark" if v < 70 else "bright" if v > 180 else "medium-bright"


#: at most this many shapes in the short caption of a drawing
_CAPTION_SHAPES = 8


def image_lines(img: np.ndarray, detailed: bool) -> list[str]:
    """Facts about one RGB frame; the short form is one sentence (A3)."""
    small = _small(img)
    luma = float(_luma(small).mean())
    shares = colour_shares(small)
    background = shares[0][0] if shares else "unknown"
    plain, shapes = find_regions(_small(img, 192)[..., :3])
    if plain is not None:
        background = colour_name(plain)
        places = [f"{r.named()} at {r.place()}" for r in shapes]
    else:  # a photograph: name the grid cells whose colour differs from the main one
        places = _cells(small, background)
    if plain is not None:  # what is on it first: the background is not what a picture shows
        # the short form names every shape on a plain background (a question routed to it may
        # count them: "Are there more than 2 circles?"); the detailed one lists them below, so
        # its first line names one and no shape is counted twice. "; " between them, as in the
        # list of shapes, so that each is a clause of its own ("a blue triangle; a red circle"
        # names no blue circle); the background stays with the last, as in a one-shape caption
        shown = places[: 1 if detailed else _CAPTION_SHAPES]
        short = (
            f"A {_brightness_word(luma)} picture of "
            + ("; ".join(shown) or "nothing")
            + f", on a plain {background} background."
        )
    else:
        short = (
            f"A {_brightness_word(luma)} picture, mostly {background}"
            + (f", with {places[0]}" if places else "")
            + "."
        )
    if not detailed:
        return [short]
    gy, gx = np.gradient(_luma(small))
    edges = float(np.mean(np.hypot(gx, gy)))
    lines = [short]
    if plain is not None:  # the background apart, so its colour is not taken for an object's
        objects = colour_shares(_foreground(small, plain))
        lines += [
            f"Background colour: plain {background}.",
            "Object colours: "
            + (", ".join(f"{n} {100 * s:.0f}%" for n, s in objects) or "none")
            + ".",
        ]
    else:
        lines.append(
            "Dominant colours: " + ", ".join(f"{n} {100 * s:.0f}%" for n, s in shares) + "."
        )
    lines.append(
        f"Mean brightness {fmt_num(round(luma))} of 255 ({_brightness_word(luma)}); "
        f"contrast (std) {fmt_num(round(float(_luma(small).std())))}."
    )
    if plain is not None:
        lines.append(f"Shapes: {describe_regions(shapes)}.")
    else:
        lines.append(
            f"Regions that differ from the mostly {background} picture: "
            + ("; ".join(places) if places else "none")
            + "."
        )
    lines.append(
        f"Edge density {fmt_num(round(edges, 1))} ("
        + ("busy, detailed" if edges > 12 else "smooth, few edges")
        + ")."
    )
    return lines


def _foreground(small: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The pixels that differ from a plain background colour."""
    px = small[..., :3].reshape(-1, 3).astype(np.float32)
    return px[np.linalg.norm(px - background, axis=1) > 60]


def _cells(small: np.ndarray, background: str) -> list[str]:
    """Cells of the 3 x 3 grid whose main colour is not the picture's main colour."""
    regions = []
    h, w = small.shape[:2]
    for r, row in enumerate(ROWS):
        for c, col in enumerate(COLS):
            cell = small[r * h // 3 : (r + 1) * h // 3, c * w // 3 : (c + 1) * w // 3]
            if cell.size:
                name = colour_shares(cell, top=1)[0][0]
                if name != background:
                    regions.append(
                        f"{name} at the {row} {col}"
                        if (r, c) != (1, 1)
                        else f"{name} at the centre"
                    )
    return regions


def _histogram(frame: np.ndarray) -> np.ndarray:
    """Coarse colour histogram (4 levels a channel): robust to compression noise, not to cuts."""
    q = (frame // 64).reshape(-1, 3).astype(np.int64)
    hist = np.bincount(q[:, 0] * 16 + q[:, 1] * 4 + q[:, 2], minlength=64).astype(np.float32)
    return hist / hist.sum()


def video_lines(v: Frames, cut_threshold: float = 0.5) -> list[str]:
    lines = [
        f"Video: duration {fmt_num(round(v.duration_s, 2))} s, {v.frame_count} frames at "
        f"{fmt_num(round(v.fps, 2))} fps, {v.width} x {v.height} pixels, "
        + ("with an audio track." if v.has_audio else "without audio.")
    ]
    frames = v.frames
    grey = [_luma(f) for f in frames]
    hists = [_histogram(f) for f in frames]
    cuts = [
        v.times[i]
        for i in range(1, len(frames))
        if 0.5 * np.abs(hists[i] - hists[i - 1]).sum() > cut_threshold
    ]
    motion = [float(np.abs(grey[i] - grey[i - 1]).mean()) for i in range(1, len(grey))]
    all_px = np.concatenate([f.reshape(-1, 3) for f in frames])
    colours = ", ".join(f"{n} {100 * s:.0f}%" for n, s in colour_shares(all_px))
    lines.append(f"Dominant colours over the whole video: {colours}.")
    if motion:
        lines.append(
            f"Motion energy between sampled frames: mean {fmt_num(round(np.mean(motion), 1))}, "
            f"max {fmt_num(round(max(motion), 1))} (0 means a static picture)."
        )
    lines.append(
        f"{len(cuts)} scene cut{'s' if len(cuts) != 1 else ''}"
        + (" at " + ", ".join(f"{t:.2f}s" for t in cuts) if cuts else "")
        + "."
    )
    cut_index = {i for i in range(1, len(frames)) if v.times[i] in cuts}
    track = _track_motion(frames, v.times, cut_index)
    if track:
        lines.append(track)
    bounds = [0.0] + cuts + [v.duration_s]
    for a, b in zip(bounds[:-1], bounds[1:]):
        mid = min(range(len(v.times)), key=lambda k: abs(v.times[k] - (a + b) / 2))
        lines.append(
            f"Scene {fmt_num(round(a, 2))}-{fmt_num(round(b, 2))}s: "
            + image_lines(frames[mid], detailed=False)[0]
        )
    return lines


def _track_motion(frames, times, cut_index: set[int]) -> str | None:
    """Where the changing pixels are over time: the path of the main moving region."""
    points = []
    for i in range(1, len(frames)):
        if i in cut_index:  # a cut changes every pixel: no motion to follow across it
            continue
        diff = np.abs(frames[i].astype(np.int16) - frames[i - 1].astype(np.int16)).max(axis=2)
        mask = diff > 40
        if mask.mean() > 0.002:
            ys, xs = np.nonzero(mask)
            h, w = mask.shape
            background = colour_shares(frames[i], top=1)[0][0]
            moving = [n for n, _ in colour_shares(frames[i][mask], top=3) if n != background]
            points.append(
                (times[i], xs.mean() / w, ys.mean() / h, moving[0] if moving else background)
            )
    if len(points) < 2:
        return None
    (t0, x0, y0, _), (t1, x1, y1, _) = points[0], points[-1]
    dx, dy = x1 - x0, y1 - y0
    if max(abs(dx), abs(dy)) < 0.15:
        where = "around the same place"
    elif abs(dx) >= abs(dy):
        where = "rightwards (from left to right)" if dx > 0 else "leftwards (from right to left)"
    else:
        where = "downwards (from top to bottom)" if dy > 0 else "upwards (from bottom to top)"
    names = [p[3] for p in points]
    colour = max(set(names), key=names.count)
    return (
        f"A moving {colour} region travels {where} between {t0:.2f}s and {t1:.2f}s "
        f"(horizontal position {x0:.2f} to {x1:.2f}, vertical {y0:.2f} to {y1:.2f} "
        "of the frame)."
    )


class VisualExpert(Expert):
    """Image and video facts from pixels, plus what an ImageNet classifier sees when the config
    gives one (settings.classifier: {arch, weights, size, top_k}); a vision-language model
    slots in as another backend. See VisualSettings.
    """

    settings: VisualSettings

    def __init__(self, spec: ExpertSpec, skills: dict[str, Skill]) -> None:
        super().__init__(spec, skills)
        chosen = self.settings.classifier
        self.top_k = chosen.top_k if chosen is not None else 3
        self.classifier = (
            ImageNetClassifier(
                chosen.arch,
                chosen.weights,
                chosen.size,
                field=f"experts.{spec.name}.settings.classifier",
            )
            if chosen is not None
            else None
        )

    def _classes(self, rgb: np.ndarray) -> list[str]:
        return [self.classifier.line(rgb, self.top_k)] if self.classifier is not None else []

    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        detailed = skill.id != "A3"
        if item.type == "image":
            img = read_image(item.local_path())
            head = f"Image of {img.shape[1]} x {img.shape[0]} pixels."
            return "\n".join([head] + image_lines(img, detailed) + self._classes(img))
        v = read_frames(item.local_path(), max_frames=self.settings.max_frames)
        middle = v.frames[len(v.frames) // 2]
        if skill.id == "A1":
            return "\n".join(video_lines(v, self.settings.cut_threshold) + self._classes(middle))
        return "\n".join(
            [
                f"Middle frame ({v.times[len(v.frames) // 2]:.2f}s) of a "
                f"{fmt_num(round(v.duration_s, 2))}-second video:"
            ]
            + image_lines(middle, detailed)
            + self._classes(middle)
        )
