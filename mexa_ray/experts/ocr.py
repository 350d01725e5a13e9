"""OCR expert (E1, E2): RapidOCR's ONNX detection and recognition models read the text in images
and video keyframes, with where each line is on the picture.

The rapidocr-onnxruntime package ships its models, so the offline default reads text with no
download. Lines are reported top to bottom with their position and confidence, which is what a
reasoner needs to tell a title from a caption.
"""

from __future__ import annotations

import threading

import numpy as np

from mexa_ray.config import ExpertSpec
from mexa_ray.errors import ConfigError
from mexa_ray.experts.base import Expert
from mexa_ray.experts.settings import OCRSettings
from mexa_ray.experts.visual import COLS, ROWS
from mexa_ray.media.image import read_image
from mexa_ray.media.video import read_frames
from mexa_ray.types import Media, Query, Skill


def where(box: list, width: int, height: int) -> str:
    """ "top left" .. "bottom right" for a text box, from its centre (the visual expert's grid)."""
    xs, ys = [p[0] for p in box], [p[1] for p in box]
    cx, cy = sum(xs) / len(xs), sum(ys) / len(ys)
    row = ROWS[min(2, int(3 * cy / max(1, height)))]
    col = COLS[min(2, int(3 * cx / max(1, width)))]
    return "centre" if (row, col) == ("middle", "centre") else f"{row} {col}"


def line_text(text: str, place: str, confidence: float) -> str:
    return f'"{text}" ({place}, confidence {confidence:.2f})'


class OCRExpert(Expert):
    """Reads the lines of text in an image or a video's keyframes; see OCRSettings."""

    settings: OCRSettings

    def __init__(self, spec: ExpertSpec, skills: dict[str, Skill]) -> None:
        super().__init__(spec, skills)
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError:
            raise ConfigError(
                f"expert {spec.name!r}: backend 'ocr' needs rapidocr-onnxruntime "
                "(pip install 'mexa-ray[offline]')",
                field="backend",
            ) from None
        self.engine = RapidOCR()
        self.min_confidence = self.settings.min_confidence
        self._lock = threading.Lock()
        self.read(np.full((64, 256, 3), 255, dtype=np.uint8))  # warm-up: the first run allocates

    def read(self, rgb: np.ndarray) -> list[tuple[str, str, float]]:
        """(text, position, confidence) per line found, top to bottom."""
        with self._lock:
            found, _ = self.engine(np.ascontiguousarray(rgb[..., ::-1]))  # the engine wants BGR
        height, width = rgb.shape[:2]
        lines = sorted(
            (line for line in found or [] if float(line[2]) >= self.min_confidence),
            key=lambda line: (min(p[1] for p in line[0]), min(p[0] for p in line[0])),
        )
        return [(text, where(box, width, height), float(conf)) for box, text, conf in lines]

    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        if item.type == "image":
            lines = [line_text(*found) for found in self.read(read_image(item.local_path()))]
            return (
                ("Text found in the image:\n" + "\n".join(lines))
                if lines
                else "No text was found in the image."
            )
        frames = read_frames(
            item.local_path(), max_frames=self.settings.frames, max_side=self.settings.max_side
        )
        out, seen = [], set()
        for t, frame in zip(frames.times, frames.frames):
            for text, place, confidence in self.read(frame):
                if text not in seen:  # a caption that stays on screen is reported once
                    seen.add(text)
                    out.append(f"[{t:.1f}s] {line_text(text, place, confidence)}")
        return (
            ("Text found in the video's keyframes:\n" + "\n".join(out))
            if out
            else f"No text was found in {len(frames.frames)} keyframes of the video."
        )
