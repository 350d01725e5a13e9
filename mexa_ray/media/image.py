"""Images read with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

FORMATS = ("png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff")


def read_image(path: str | Path) -> np.ndarray:
    """Return an (H, W, 3) uint8 RGB array."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def probe(path: str | Path, fmt: str) -> dict:
    with Image.open(path) as im:
        size = im.size
        im.verify()  # checks the whole file's structure without decoding pixels
    return {"width": size[0], "height": size[1]}
