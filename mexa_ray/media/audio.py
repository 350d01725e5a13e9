"""Audio (WAV, FLAC, OGG, MP3) read with soundfile (libsndfile)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

FORMATS = ("wav", "flac", "ogg", "mp3")


def read_audio(path: str | Path, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Return mono float32 samples in [-1, 1] and the sample rate."""
    info = sf.info(str(path))
    frames = -1 if max_seconds is None else int(max_seconds * info.samplerate)
    data, sr = sf.read(str(path), frames=frames, dtype="float32", always_2d=True)
    return data.mean(axis=1), int(sr)


def probe(path: str | Path, fmt: str) -> dict:
    info = sf.info(str(path))
    if info.frames <= 0:
        raise ValueError("the audio has no samples")
    return {"duration_s": info.frames / info.samplerate, "sample_rate": info.samplerate,
            "channels": info.channels}
