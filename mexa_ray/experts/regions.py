"""Shapes and objects on a plain background: where they are, their colour and their outline.

A picture whose border is mostly one colour (a sign, a diagram, an icon, a slide) is split into
that background and the connected regions that differ from it (scikit-image's labelling and
region properties). Each region is named by its outline: a polygon's corners, how round and how
convex it is, and whether its corners point along the axes (a square) or between them (a
diamond). Photographs, whose border is not one colour, get no region lines: the classifier and
the colour lines speak for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mexa_ray.experts.colours import colour_shares, near_names, with_article

#: a region smaller than this share of the picture is noise or a detail, not a shape
MIN_AREA = 0.004
#: at most this many regions are reported, largest first
MAX_REGIONS = 6


@dataclass
class Region:
    shape: str
    colour: str
    #: other names the colour is close to (see colours.near_names)
    near: list[str]
    #: share of the picture's area
    area: float
    #: centre, as fractions of width and height
    x: float
    y: float

    def named(self) -> str:
        """ "a magenta (nearly purple) heart" """
        near = f" (nearly {' or '.join(self.near)})" if self.near else ""
        return f"{with_article(self.colour)}{near} {self.shape}"

    def place(self) -> str:
        rows, cols = ("top", "middle", "bottom"), ("left", "centre", "right")
        r, c = min(2, int(self.y * 3)), min(2, int(self.x * 3))
        return "the centre" if (r, c) == (1, 1) else f"the {rows[r]} {cols[c]}"


def background(rgb: np.ndarray, tolerance: float = 40.0) -> np.ndarray | None:
    """The border's colour when at least 70% of the border is that colour, else None."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.float32)
    median = np.median(border, axis=0)
    close = np.linalg.norm(border - median, axis=1) < tolerance
    return median if close.mean() >= 0.7 else None


def _shape_name(mask: np.ndarray) -> str:
    """The outline's name, from the region's own geometry."""
    from skimage.measure import approximate_polygon, find_contours, regionprops

    props = regionprops(mask.astype(np.uint8))[0]
    area, perimeter = props.area, max(props.perimeter, 1.0)
    circularity = 4 * np.pi * area / perimeter**2
    solidity, extent = props.solidity, props.extent
    h, w = props.image.shape
    aspect = max(h, w) / max(1, min(h, w))
    contour = max(find_contours(np.pad(props.image, 1).astype(float), 0.5), key=len)
    corners = len(approximate_polygon(contour, tolerance=0.04 * perimeter)) - 1
    if solidity < 0.75 and corners >= 8:
        return "star"
    if solidity < 0.8:
        return "crescent" if corners <= 6 else "irregular shape"
    if circularity >= 0.85 and solidity >= 0.95:
        return "circle" if aspect <= 1.15 else "oval"
    if corners == 3:
        return "triangle"
    if corners == 4 and solidity >= 0.93:
        if extent >= 0.8:
            return "square" if aspect <= 1.15 else "rectangle"
        if 0.4 <= extent <= 0.65:
            return "diamond"
    if solidity < 0.97 and _notched_top(props.image):
        return "heart"
    if corners == 5:
        return "pentagon"
    if corners == 6:
        return "hexagon"
    if circularity >= 0.75:
        return "circle" if aspect <= 1.15 else "oval"
    return "irregular shape"


def _notched_top(image: np.ndarray) -> bool:
    """A dip in the middle of the top edge between two lobes (a heart's outline)."""
    h, w = image.shape
    tops = [np.argmax(image[:, c]) if image[:, c].any() else h for c in range(w)]
    mid = tops[w // 2]
    lobes = min(min(tops[: w // 2]), min(tops[w // 2 :]))
    return mid - lobes > 0.12 * h


def find_regions(rgb: np.ndarray) -> tuple[np.ndarray | None, list[Region]]:
    """(background colour, regions largest first); no regions when the background is not plain."""
    from skimage.measure import label, regionprops

    bg = background(rgb)
    if bg is None:
        return None, []
    distance = np.linalg.norm(rgb[..., :3].astype(np.float32) - bg, axis=2)
    labels = label(distance > 60, connectivity=2)
    h, w = labels.shape
    regions = []
    for props in sorted(regionprops(labels), key=lambda p: -p.area)[:MAX_REGIONS]:
        if props.area < MIN_AREA * h * w:
            break
        mask = labels == props.label
        pixels = rgb[..., :3][mask]
        colour = colour_shares(pixels, top=1)[0][0]
        near = [n for n in near_names(np.median(pixels, axis=0)) if n != colour][:1]
        y, x = props.centroid
        regions.append(Region(_shape_name(mask), colour, near, props.area / (h * w), x / w, y / h))
    return bg, regions


def describe_regions(regions: list[Region]) -> str:
    if not regions:
        return "none"
    return "; ".join(
        f"{r.named()} at {r.place()} ({100 * r.area:.0f}% of the picture)" for r in regions
    )
