"""Names for RGB colours, so reports say "red" rather than (214, 39, 40)."""

from __future__ import annotations

import numpy as np

PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128),
    "dark grey": (64, 64, 64), "light grey": (192, 192, 192),
    "red": (220, 30, 30), "dark red": (128, 0, 0), "orange": (255, 140, 0),
    "yellow": (240, 220, 30), "green": (40, 170, 40), "dark green": (0, 90, 0),
    "cyan": (0, 200, 220), "blue": (30, 60, 220), "navy": (0, 0, 110),
    "purple": (130, 40, 170), "pink": (255, 150, 190), "magenta": (220, 0, 220),
    "brown": (130, 80, 30), "beige": (220, 200, 160),
}
_NAMES = list(PALETTE)
_RGB = np.array([PALETTE[n] for n in _NAMES], dtype=np.float32)


def colour_name(rgb) -> str:
    """Nearest palette name for an RGB triple in 0-255 (or 0-1 floats)."""
    c = np.asarray(rgb, dtype=np.float32)
    if c.max() <= 1.0:
        c = c * 255.0
    return _NAMES[int(np.argmin(((_RGB - c) ** 2).sum(axis=1)))]


def colour_shares(pixels: np.ndarray, top: int = 4) -> list[tuple[str, float]]:
    """Share of each named colour among (N, 3) pixels, largest first."""
    px = pixels.reshape(-1, 3).astype(np.float32)
    if px.size and px.max() <= 1.0:
        px = px * 255.0
    idx = np.argmin(((px[:, None, :] - _RGB[None, :, :]) ** 2).sum(axis=2), axis=1)
    counts = np.bincount(idx, minlength=len(_NAMES)) / max(1, len(idx))
    order = np.argsort(-counts)[:top]
    return [(_NAMES[i], float(counts[i])) for i in order if counts[i] > 0]
