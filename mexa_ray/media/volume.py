"""3D volumes (CT scans) stored as NumPy arrays, as M3D-Bench does."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FORMATS = ("npy",)


def read_volume(path: str | Path) -> np.ndarray:
    vol = np.load(path, allow_pickle=False)
    vol = np.squeeze(vol)
    if vol.ndim != 3 or not np.issubdtype(vol.dtype, np.number):
        raise ValueError(f"a volume must be a numeric 3D array, got shape {vol.shape} of {vol.dtype}")
    return vol


def probe(path: str | Path, fmt: str) -> dict:
    return {"shape": list(read_volume(path).shape)}
