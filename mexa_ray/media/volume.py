"""3D volumes (CT scans): NumPy arrays as M3D-Bench stores them, and NIfTI where nibabel is
installed (the `medical` extra)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

FORMATS = ("npy", "nii")


def _read_nifti(path: Path) -> np.ndarray:
    try:
        import nibabel as nib
    except ImportError:
        raise ValueError("NIfTI volumes need nibabel (pip install 'mexa-ray[medical]')") from None
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":  # .nii.gz, or a gzipped upload spooled under a .nii name
        data = gzip.decompress(data)
    return np.asarray(nib.Nifti1Image.from_bytes(data).dataobj)


def read_volume(path: str | Path) -> np.ndarray:
    p = Path(path)
    if p.name.endswith((".nii", ".nii.gz")):
        vol = _read_nifti(p)
    else:
        vol = np.load(p, allow_pickle=False)
    vol = np.squeeze(vol)
    if vol.ndim != 3 or not np.issubdtype(vol.dtype, np.number):
        raise ValueError(
            f"a volume must be a numeric 3D array, got shape {vol.shape} of {vol.dtype}"
        )
    return vol


def probe(path: str | Path, fmt: str) -> dict:
    return {"shape": list(read_volume(path).shape)}
