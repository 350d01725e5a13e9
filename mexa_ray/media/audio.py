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
    return {
        "duration_s": info.frames / info.samplerate,
        "sample_rate": info.samplerate,
        "channels": info.channels,
    }


def load_waveform(path: str | Path, rate: int, max_seconds: float | None = None) -> np.ndarray:
    """Mono float32 samples at `rate` from an audio file or a video's audio track.

    Speech and audio-language models want one fixed rate (16 kHz for Whisper); FFmpeg's resampler
    (through PyAV) converts any input, and reading video containers gives B1 its subtitles.
    """
    import av

    chunks: list[np.ndarray] = []
    limit = None if max_seconds is None else int(max_seconds * rate)
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("the file has no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        total = 0
        for frame in container.decode(container.streams.audio[0]):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
                total += chunks[-1].size
            if limit is not None and total >= limit:
                break
        else:
            for out in resampler.resample(None):  # flush what the resampler holds back
                chunks.append(out.to_ndarray().reshape(-1))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return samples[:limit] if limit is not None else samples
