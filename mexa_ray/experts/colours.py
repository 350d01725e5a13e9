"""Names for RGB colours, so reports say "red" rather than (214, 39, 40).

Names come from hue, saturation and value (scikit-image's HSV conversion), the way people name
colours: a yellow-green (124, 179, 66) is "green" although it lies closer to grey in RGB, which
is how the nearest-palette-entry naming this replaced went wrong on real icons.
"""

from __future__ import annotations

import numpy as np

#: every name a report may use
NAMES = (
    "black",
    "white",
    "grey",
    "dark grey",
    "light grey",
    "red",
    "dark red",
    "orange",
    "yellow",
    "green",
    "dark green",
    "cyan",
    "blue",
    "navy",
    "purple",
    "pink",
    "magenta",
    "brown",
    "beige",
)

#: (upper hue bound in degrees, name) for saturated colours
_HUES = (
    (20, "red"),
    (40, "orange"),
    (68, "yellow"),
    (165, "green"),
    (195, "cyan"),
    (255, "blue"),
    (290, "purple"),
    (335, "magenta"),
    (360, "red"),
)


def _names(rgb: np.ndarray) -> np.ndarray:
    """Colour names of (N, 3) pixels in 0-255."""
    from skimage.color import rgb2hsv

    hsv = rgb2hsv(np.clip(rgb, 0, 255).reshape(-1, 1, 3).astype(np.float64) / 255.0).reshape(-1, 3)
    h, s, v = hsv[:, 0] * 360, hsv[:, 1], hsv[:, 2]
    bounds = np.array([b for b, _ in _HUES])
    hue_names = np.array([n for _, n in _HUES], dtype=object)[
        np.searchsorted(bounds, h, side="right").clip(0, len(_HUES) - 1)
    ]
    out = hue_names.copy()
    warm = (h < 68) | (h >= 335)
    out[(hue_names == "orange") & (v < 0.7)] = "brown"
    out[(hue_names == "yellow") & (v < 0.5)] = "brown"
    out[(hue_names == "red") & (v < 0.45)] = "dark red"
    out[(hue_names == "green") & (v < 0.4)] = "dark green"
    out[(hue_names == "blue") & (v < 0.4)] = "navy"
    out[((hue_names == "red") | (hue_names == "magenta")) & (s < 0.45) & (v > 0.7)] = "pink"
    out[warm & (s >= 0.12) & (s < 0.3) & (v > 0.7)] = "beige"
    grey = s < np.where(v > 0.7, 0.12, 0.2)
    out[grey] = np.select(
        [v[grey] > 0.86, v[grey] > 0.68, v[grey] > 0.45, v[grey] > 0.28],
        ["white", "light grey", "grey", "dark grey"],
        "black",
    )
    out[v < 0.16] = "black"
    return out


def near_names(rgb, share: float = 0.25) -> list[str]:
    """Other names a colour is close to ("magenta" that is nearly "purple", a "dark grey" that
    people call "black"): the names of the colours a small step away in hue, saturation and
    value, where they take at least `share` of the steps. Colour words are fuzzy at their
    borders; a report that gives both lets a question in either word find it."""
    from skimage.color import hsv2rgb, rgb2hsv

    c = np.asarray(rgb, dtype=np.float64).reshape(1, 1, 3)
    if c.max() > 1.0:
        c = c / 255.0
    h, s, v = rgb2hsv(c).reshape(3)
    grid = np.array(
        [
            ((h + dh / 360) % 1.0, s, np.clip(v + dv, 0, 1))
            for dh in (-8, -4, 0, 4, 8)
            for dv in (-0.08, 0, 0.08)
        ]
    )
    names, counts = np.unique(
        _names(hsv2rgb(grid.reshape(-1, 1, 3)).reshape(-1, 3) * 255), return_counts=True
    )
    own = colour_name(c.reshape(3))
    order = np.argsort(-counts, kind="stable")
    return [str(names[i]) for i in order if names[i] != own and counts[i] >= share * len(grid)]


def with_article(phrase: str) -> str:
    """ "an orange circle", "a red square"."""
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def colour_name(rgb) -> str:
    """The name of one RGB triple in 0-255 (or 0-1 floats)."""
    c = np.asarray(rgb, dtype=np.float32).reshape(1, 3)
    if c.max() <= 1.0:
        c = c * 255.0
    return str(_names(c)[0])


def colour_shares(pixels: np.ndarray, top: int = 4) -> list[tuple[str, float]]:
    """Share of each named colour among (N, 3) pixels, largest first."""
    px = pixels.reshape(-1, 3).astype(np.float32)
    if not px.size:
        return []
    if px.max() <= 1.0:
        px = px * 255.0
    names, counts = np.unique(_names(px), return_counts=True)
    order = np.argsort(-counts, kind="stable")[:top]
    return [(str(names[i]), float(counts[i] / len(px))) for i in order]
