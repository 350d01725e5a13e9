"""Video read with PyAV (FFmpeg): uniformly sampled RGB frames with their timestamps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

FORMATS = ("mp4", "avi", "mov", "mkv", "webm", "mpeg", "mpg")


@dataclass
class Frames:
    frames: list[np.ndarray]  # (H, W, 3) uint8, downscaled to at most `max_side`
    times: list[float]  # seconds from the start
    fps: float
    duration_s: float
    frame_count: int
    width: int
    height: int
    has_audio: bool


def read_frames(path: str | Path, max_frames: int = 32, max_side: int = 160) -> Frames:
    """Decode the stream once, keeping about `max_frames` frames spread evenly over it.

    Frames are downscaled as they are decoded and thinned by a doubling stride, so memory stays
    bounded for long videos whose container does not state a frame count.
    """
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 0.0
        has_audio = bool(container.streams.audio)
        width, height = stream.codec_context.width, stream.codec_context.height
        scale = min(1.0, max_side / max(width, height, 1))
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        stride, count, last_t = 1, 0, 0.0
        kept: list[tuple[float, np.ndarray]] = []
        for i, frame in enumerate(container.decode(stream)):
            count += 1
            last_t = float(frame.time) if frame.time is not None else (i / fps if fps else 0.0)
            if i % stride:
                continue
            kept.append(
                (last_t, frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray())
            )
            if len(kept) >= 2 * max_frames:
                kept, stride = kept[::2], stride * 2
        if not kept:
            raise ValueError("no frame could be decoded")
    if len(kept) > max_frames:
        kept = [kept[k] for k in np.linspace(0, len(kept) - 1, max_frames).round().astype(int)]
    duration = last_t + (1.0 / fps if fps else 0.0)
    return Frames(
        [f for _, f in kept],
        [t for t, _ in kept],
        fps or (count / duration if duration else 0.0),
        duration,
        count,
        width,
        height,
        has_audio,
    )


def probe(path: str | Path, fmt: str) -> dict:
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("the file has no video stream")
        stream = container.streams.video[0]
        for _frame in container.decode(stream):
            break
        else:
            raise ValueError("no frame could be decoded")
        return {
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "duration_s": _duration_s(container, stream),
        }


def _duration_s(container, stream) -> float | None:
    """From the header (the stream's, else the container's); None when neither says."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def has_audio_track(path: str | Path) -> bool:
    """Whether the container holds an audio stream (read from the header; nothing decoded)."""
    with av.open(str(path)) as container:
        return bool(container.streams.audio)
