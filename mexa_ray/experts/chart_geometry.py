"""Reading a chart's data off its pixels and its text: the plot's axes calibrated from their tick
labels, bars measured to their ends, lines traced per series colour, pie wedges measured by angle.

Everything here works on an RGB array and the text boxes an OCR engine found in it (`TextBox`), so
it does not depend on which engine read the text. OpenCV finds the coloured regions
(connected components); NumPy does the rest.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

#: how far (RGB distance) a pixel may be from a series colour and still be that series
COLOUR_TOLERANCE = 40.0
#: saturation and darkness below which a pixel is ink (text, axes, grid), not a series colour
INK_SATURATION = 0.18


@dataclass
class TextBox:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    confidence: float = 1.0
    #: read with the picture turned (text set vertically): its box is tall by nature
    turned: bool = False

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def height(self) -> float:
        return self.y1 - self.y0


_NUMBER = re.compile(
    r"^[\s$€£¥(+]*(?P<sign>[-−–])?[\s$€£¥]*(?P<num>\d{1,3}(?:[,\s]\d{3})+|\d*\.?\d+)"
    r"\s*(?P<suffix>[kKmMbB%]|bn|mn)?[)\s%]*(?:[-–—_|]\s*)?$"  # a tick mark read with it
)
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "bn": 1e9, "mn": 1e6, "%": 1.0}


def number(text: str) -> float | None:
    """A tick label's value: "1,000", "2.5k", "−3", "40%", "$12"; None for other text."""
    m = _NUMBER.match(text.strip())
    if m is None:
        return None
    value = float(re.sub(r"[,\s]", "", m.group("num")))
    suffix = (m.group("suffix") or "").lower()
    value *= _SUFFIX.get(suffix, 1.0)
    return -value if m.group("sign") else value


@dataclass
class Axis:
    """Pixel position -> value along one direction, from tick labels."""

    #: "x" (values along the image's columns) or "y" (along its rows)
    direction: str
    scale: float
    offset: float
    log: bool
    #: the tick values read, in pixel order, and where they stand
    ticks: list[tuple[float, float]] = field(default_factory=list)

    def value(self, pixel: float) -> float:
        v = self.scale * pixel + self.offset
        return 10**v if self.log else v

    @property
    def span(self) -> float:
        values = [v for _, v in self.ticks]
        return max(values) - min(values)

    @property
    def resolution(self) -> float:
        """About how finely a value can be read: one pixel's worth, at least 1% of the range
        the ticks cover (bar ends and line points are found to a pixel or two)."""
        values = [v for _, v in self.ticks]
        if self.log:
            return 0.02 * (max(values) - min(values))
        return max(2 * abs(self.scale), 0.01 * self.span)


def _fit(points: list[tuple[float, float]], log: bool) -> tuple[float, float, float]:
    """Least squares value = a * pixel + b (of log10 values when `log`); the worst residual as a
    share of the values' range."""
    px = np.array([p for p, _ in points], dtype=float)
    vals = np.array([v for _, v in points], dtype=float)
    if log:
        vals = np.log10(vals)
    a, b = np.polyfit(px, vals, 1)
    spread = float(vals.max() - vals.min()) or 1.0
    worst = float(np.max(np.abs(a * px + b - vals))) / spread
    return float(a), float(b), worst


def calibrate(boxes: list[TextBox], direction: str) -> tuple[Axis, list[TextBox]] | None:
    """The numeric tick labels that line up along one axis (a column of them for "y", a row
    for "x") and the axis they calibrate: linear, or logarithmic when the values grow by a
    constant factor. None when no three labels line up."""
    read = [(b, number(b.text)) for b in boxes]
    numeric = [(b, v) for b, v in read if v is not None]
    if len(numeric) < 3:
        return None
    groups: list[list[tuple[TextBox, float]]] = []
    for b, v in numeric:
        for group in groups:
            ref = group[0][0]
            if direction == "y":
                # right-aligned labels in one column (their right edges together)
                together = abs(b.x1 - ref.x1) <= max(6.0, 0.6 * ref.height)
            else:
                together = abs(b.cy - ref.cy) <= max(4.0, 0.5 * ref.height)
            if together:
                group.append((b, v))
                break
        else:
            groups.append([(b, v)])
    best = None
    for group in groups:
        where = {id(b): (b.cy if direction == "y" else b.cx) for b, _ in group}
        # ticks stand in order: keep the longest run of labels whose values rise (or fall)
        # steadily along the pixels; a stray number read nearby (a misread "0") drops out
        group = _monotonic(sorted(group, key=lambda bv: where[id(bv[0])]))
        if len(group) < 3:
            continue  # two numbers side by side are no axis: a misread pair could scale it
        points = [(where[id(box)], v) for box, v in group]
        slope, intercept, worst = _fit(points, log=False)
        log = False
        if worst > 0.03 and all(v > 0 for _, v in points) and len(points) >= 3:
            log_slope, log_intercept, log_worst = _fit(points, log=True)
            if log_worst < worst:
                slope, intercept, worst, log = log_slope, log_intercept, log_worst, True
        if worst > 0.05:
            continue
        score = (len(group), -worst)
        if best is None or score > best[0]:
            axis = Axis(direction, slope, intercept, log, points)
            best = (score, axis, [g for g, _ in group])
    if best is None:
        return None
    return best[1], best[2]


def _monotonic(group: list[tuple[TextBox, float]]) -> list[tuple[TextBox, float]]:
    """The longest subsequence (in pixel order) whose values strictly rise, or strictly fall."""
    best: list[tuple[TextBox, float]] = []
    for sign in (1, -1):
        n = len(group)
        length, prev = [1] * n, [-1] * n
        for i in range(n):
            for j in range(i):
                if sign * (group[i][1] - group[j][1]) > 0 and length[j] + 1 > length[i]:
                    length[i], prev[i] = length[j] + 1, j
        if not n:
            continue
        i = int(np.argmax(length))
        run = []
        while i >= 0:
            run.append(group[i])
            i = prev[i]
        if len(run) > len(best):
            best = run[::-1]
    return best


def background(rgb: np.ndarray) -> np.ndarray:
    """The page the chart is drawn on: the most common colour of the picture's outer frame
    (wide bars may cover most of the picture itself)."""
    h, w = rgb.shape[:2]
    bh, bw = max(2, h // 30), max(2, w // 30)
    frame = np.concatenate(
        [
            rgb[:bh].reshape(-1, 3),
            rgb[-bh:].reshape(-1, 3),
            rgb[:, :bw].reshape(-1, 3),
            rgb[:, -bw:].reshape(-1, 3),
        ]
    )
    q = (frame[::3] // 8).astype(np.int32)
    keys = q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2]
    top = int(np.bincount(keys).argmax())
    return np.array([(top // 1024) * 8 + 4, ((top // 32) % 32) * 8 + 4, (top % 32) * 8 + 4])


def saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV-style saturation in [0, 1] per pixel. Channel by channel: numpy reduces a last axis
    of three several times slower than it compares whole planes, and a chart is read with this
    several times over."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    hi = np.maximum(np.maximum(r, g), b).astype(np.float32)
    lo = np.minimum(np.minimum(r, g), b).astype(np.float32)
    return np.where(hi > 0, (hi - lo) / np.maximum(hi, 1.0), 0.0)


def colour_distance(rgb: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Euclidean distance in RGB from each pixel to `colour` (channel by channel, as
    `saturation`)."""
    total = np.zeros(rgb.shape[:-1], dtype=np.float32)
    for channel in range(3):
        diff = rgb[..., channel].astype(np.float32) - np.float32(colour[channel])
        total += diff * diff
    return np.sqrt(total)


def series_colours(
    rgb: np.ndarray, mask: np.ndarray, min_share: float = 0.0015, top: int = 8
) -> list[np.ndarray]:
    """The distinct colours of the chart's marks inside `mask` (bars, lines, wedges): coloured
    pixels (not ink, not the page) grouped by a coarse colour, most frequent first, merged when
    close."""
    bg = background(rgb)
    near_bg = colour_distance(rgb, bg) < 30
    coloured = mask & ~near_bg & (saturation(rgb) > INK_SATURATION)
    pixels = rgb[coloured]
    if len(pixels) == 0:
        return []
    q = (pixels // 16).astype(np.int32)
    keys = q[:, 0] * 256 + q[:, 1] * 16 + q[:, 2]
    counts = np.bincount(keys)
    order = np.argsort(-counts)
    total = float(mask.sum())
    found: list[np.ndarray] = []
    for key in order[: top * 6]:
        if counts[key] < min_share * total:
            break
        members = pixels[keys == key]
        colour = members.mean(axis=0)
        # one mark's shades (a smoothed edge, a lighter outline) are one series: palettes
        # set their series much further apart than this
        if all(np.linalg.norm(colour - c) > 1.5 * COLOUR_TOLERANCE for c in found):
            found.append(colour)
        if len(found) >= top:
            break
    return found


def colour_mask(rgb: np.ndarray, colour: np.ndarray, tolerance: float = COLOUR_TOLERANCE):
    return colour_distance(rgb, colour) < tolerance


@dataclass
class Bar:
    x0: int
    y0: int
    x1: int
    y1: int
    series: int

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


def bars(
    rgb: np.ndarray, colours: list[np.ndarray], plot: tuple[int, int, int, int]
) -> tuple[list[Bar], str | None]:
    """Filled rectangles of each series colour inside the plot area, and their orientation:
    "vertical" when they share a bottom edge (or stand on one line), "horizontal" when they
    share a left edge; (no bars, None) when they do not look like bars."""
    import cv2

    x0, y0, x1, y1 = plot
    found: list[Bar] = []
    for s, colour in enumerate(colours):
        mask = colour_mask(rgb, colour)
        window = np.zeros_like(mask)
        window[y0:y1, x0:x1] = mask[y0:y1, x0:x1]
        n, _, stats, _ = cv2.connectedComponentsWithStats(window.astype(np.uint8), connectivity=8)
        for i in range(1, n):
            bx, by, bw, bh, area = (int(v) for v in stats[i])
            if bw < 5 or bh < 5 or area < 0.85 * bw * bh:
                continue  # not a filled rectangle (a line, even a flat one; a marker; text)
            found.append(Bar(bx, by, bx + bw, by + bh, s))
    if len(found) < 2:
        return [], None

    def shared(values: list[int]) -> float:
        """The share of bars whose edge is within 3 px of the most common one."""
        arr = np.array(values)
        return max(float(np.mean(np.abs(arr - v) <= 3)) for v in arr)

    bottoms, lefts = [b.y1 for b in found], [b.x0 for b in found]
    vertical, horizontal = shared(bottoms), shared(lefts)
    if max(vertical, horizontal) < 0.5:
        return [], None
    return found, "vertical" if vertical >= horizontal else "horizontal"


def trace(rgb: np.ndarray, colour: np.ndarray, plot: tuple[int, int, int, int]) -> dict[int, float]:
    """A line series: for each pixel column of the plot area, the mean row of the series'
    colour there (columns it does not reach are left out)."""
    x0, y0, x1, y1 = plot
    mask = colour_mask(rgb[y0:y1, x0:x1], colour)
    out = {}
    rows = np.arange(y0, y1, dtype=float)
    for j in range(mask.shape[1]):
        col = mask[:, j]
        if col.any():
            out[x0 + j] = float(rows[col].mean())
    return out


@dataclass
class Pie:
    cx: float
    cy: float
    radius: float
    inner: float
    #: (start angle, end angle, colour) of each wedge, angles in degrees clockwise from 12
    #: o'clock
    wedges: list[tuple[float, float, np.ndarray]]


def _round(mask: np.ndarray, cx: float, cy: float, r: float) -> bool:
    """Whether a region's rim lies at one distance from its centre: along 36 rays, where the
    region ends is within 12% of the radius for nine rays in ten."""
    h, w = mask.shape
    steps = np.linspace(0.0, 1.3 * r, int(1.3 * r) + 1)
    close = 0
    for a in np.radians(np.arange(0, 360, 10)):
        xs = np.clip((cx + steps * np.sin(a)).astype(int), 0, w - 1)
        ys = np.clip((cy - steps * np.cos(a)).astype(int), 0, h - 1)
        inside = np.flatnonzero(mask[ys, xs])
        if len(inside) and abs(steps[inside[-1]] - r) <= 0.12 * r:
            close += 1
    return close >= 0.9 * 36


def pie(rgb: np.ndarray, min_fraction: float = 0.05) -> Pie | None:
    """The largest roughly round coloured region (a pie, or a donut with a hole), its wedges
    measured by angle on a circle between the hole and the rim."""
    import cv2

    bg = background(rgb)
    solid = (colour_distance(rgb, bg) > 40).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    h, w = solid.shape
    best = None
    for i in range(1, n):
        bx, by, bw, bh, area = (int(v) for v in stats[i])
        if bw < 40 or bh < 40 or area < min_fraction * h * w or abs(bw - bh) > 0.12 * max(bw, bh):
            continue
        fill = area / (math.pi * (bw / 2) * (bh / 2))
        if fill < 0.45 or fill > 1.08:
            continue
        if not _round(labels == i, bx + bw / 2, by + bh / 2, (bw + bh) / 4):
            continue  # square-ish, but not a disc: a block of bars, a legend
        if best is None or area > best[-1]:
            best = (bx + bw / 2, by + bh / 2, (bw + bh) / 4, area)
    if best is None:
        return None
    cx, cy, r, _ = best
    # the hole of a donut: the page colour at the centre, out to where the ring starts
    inner = 0.0
    for frac in np.linspace(0.0, 0.9, 46):
        y, x = int(cy), int(cx + frac * r)
        if np.linalg.norm(rgb[y, x].astype(np.float32) - bg) > 40:
            inner = frac * r
            break
    radius = inner + 0.6 * (r - inner) if inner else 0.75 * r
    angles = np.arange(0.0, 360.0, 0.5)
    xs = np.clip((cx + radius * np.sin(np.radians(angles))).astype(int), 0, w - 1)
    ys = np.clip((cy - radius * np.cos(np.radians(angles))).astype(int), 0, h - 1)
    samples = rgb[ys, xs].astype(np.float32)
    wedges: list[tuple[float, float, np.ndarray]] = []
    start, current = 0.0, samples[0]
    for a, colour in zip(angles[1:], samples[1:]):
        if np.linalg.norm(colour - current) > COLOUR_TOLERANCE:
            wedges.append((start, float(a), current))
            start, current = float(a), colour
    wedges.append((start, 360.0, current))
    # the first wedge may straddle 12 o'clock: join it to the last when they are one colour
    if len(wedges) > 1 and np.linalg.norm(wedges[0][2] - wedges[-1][2]) <= COLOUR_TOLERANCE:
        first, last = wedges[0], wedges.pop()
        wedges[0] = (last[0] - 360.0, first[1], first[2])
    # separators (thin white or dark edges between wedges) are no wedges
    wedges = [wd for wd in wedges if wd[1] - wd[0] >= 2.0]
    if len(wedges) < 2:
        return None
    return Pie(cx, cy, r, inner, wedges)


def axis_lines(rgb: np.ndarray) -> tuple[int | None, int | None]:
    """(row of the x axis, column of the y axis): the lowest row and the leftmost column that
    a straight line of ink (grey or dark, not a series colour) crosses for more than half the
    picture; None where there is none (charts drawn without axis lines)."""
    # dark grey or black: axis lines are drawn so; a light grey plot background (ggplot's) and
    # light gridlines are not
    luminance = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    ink = (luminance < 170) & (saturation(rgb) < INK_SATURATION)
    h, w = ink.shape
    # a frame around the whole picture is no axis: the outer rows and columns are left out
    margin_h, margin_w = max(2, h // 50), max(2, w // 50)
    rows = np.flatnonzero(ink.mean(axis=1) > 0.5)
    cols = np.flatnonzero(ink.mean(axis=0) > 0.5)
    rows = rows[(rows > margin_h) & (rows < h - margin_h)]
    cols = cols[(cols > margin_w) & (cols < w - margin_w)]
    row = int(rows.max()) if len(rows) and rows.max() > 0.5 * h else None
    col = int(cols.min()) if len(cols) and cols.min() < 0.5 * w else None
    return row, col


def marks_box(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    """The box round the chart's coloured marks (bars, lines, wedges), or None."""
    bg = background(rgb)
    coloured = (saturation(rgb) > INK_SATURATION) & (colour_distance(rgb, bg) > 30)
    ys, xs = np.nonzero(coloured)
    if len(xs) < 50:
        return None
    return int(np.percentile(xs, 0.5)), int(ys.min()), int(np.percentile(xs, 99.5)), int(ys.max())


def text_lines(rgb: np.ndarray, region: tuple[int, int, int, int]) -> list[tuple[int, ...]]:
    """Boxes of dark text in a region of the picture (x0, y0, x1, y1), found as connected
    dark strokes joined into lines: where a text detector misses short labels (a single digit
    beside an axis), their strokes are still there. Tick marks (strokes one or two pixels
    thin) are left out."""
    import cv2

    x0, y0, x1, y1 = (max(0, v) for v in region)
    x1, y1 = min(x1, rgb.shape[1]), min(y1, rgb.shape[0])
    if x1 - x0 < 4 or y1 - y0 < 4:
        return []
    sub = rgb[y0:y1, x0:x1].astype(np.float32)
    dark = (sub @ np.array([0.299, 0.587, 0.114], dtype=np.float32)) < 150
    n, _, stats, _ = cv2.connectedComponentsWithStats(dark.astype(np.uint8), connectivity=8)
    strokes = []
    for i in range(1, n):
        bx, by, bw, bh, area = (int(v) for v in stats[i])
        if bh < 5 or bh > 60 or (bw <= 2 and bh <= 6) or bw > 8 * bh:
            continue  # a tick mark, an axis line, a long rule
        strokes.append([bx, by, bx + bw, by + bh])
    strokes.sort()
    lines: list[list[int]] = []
    for s in strokes:
        for line in lines:
            overlap = min(line[3], s[3]) - max(line[1], s[1])
            height = max(line[3] - line[1], s[3] - s[1])
            if overlap > 0.4 * min(line[3] - line[1], s[3] - s[1]) and s[0] - line[2] <= height:
                line[:] = [
                    min(line[0], s[0]),
                    min(line[1], s[1]),
                    max(line[2], s[2]),
                    max(line[3], s[3]),
                ]
                break
        else:
            lines.append(list(s))
    return [(a + x0, b + y0, c + x0, d + y0) for a, b, c, d in lines]
