"""A chart's data recovered from its geometry and its text (`chart_geometry`): what kind of chart
it is, its title and axis labels, the series and their values per category (or x), and what could
not be read. The chart expert writes this as its report and hands the table to the table
analysis, so a question about the chart is computed as a question about a table is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mexa_ray.experts.chart_geometry import (
    INK_SATURATION,
    Axis,
    Bar,
    Pie,
    TextBox,
    axis_lines,
    bars,
    calibrate,
    number,
    pie,
    saturation,
    series_colours,
    trace,
)
from mexa_ray.experts.colours import colour_name


@dataclass
class ChartData:
    #: "vertical bar", "horizontal bar", "line", "pie", "donut"
    kind: str
    title: str | None = None
    #: the value axis's label ("Body mass (g)"), the category axis's ("Year")
    value_label: str | None = None
    category_label: str | None = None
    #: the series names, in legend order (one unnamed series: [""])
    series: list[str] = field(default_factory=list)
    #: the categories (x labels, bar labels, wedge labels) in reading order
    categories: list[str] = field(default_factory=list)
    #: series -> category -> value
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    #: the value axis's range and log scale, and how finely values can be read
    axis: Axis | None = None
    #: a line series' highest and lowest point along a numeric x axis: series -> (x, value)
    peaks: dict[str, tuple[float, float]] = field(default_factory=dict)
    troughs: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: what could not be read, for the report to say
    not_read: list[str] = field(default_factory=list)
    #: where the category labels should stand but none was read (x0, y0, x1, y1): the reader
    #: may read that band again with the text turned upright (labels set vertically)
    label_band: tuple[int, int, int, int] | None = None


def _title(boxes: list[TextBox], height: int, used: set[int]) -> str | None:
    """The widest text in the top fifth that is not a tick label."""
    top = [
        (b.x1 - b.x0, i)
        for i, b in enumerate(boxes)
        if i not in used and b.cy < 0.2 * height and number(b.text) is None
    ]
    if not top:
        return None
    i = max(top)[1]
    used.add(i)
    return boxes[i].text


def _legend(
    rgb: np.ndarray,
    boxes: list[TextBox],
    colours: list[np.ndarray],
    used: set[int],
    plot: tuple[int, int, int, int] | None = None,
) -> dict[int, tuple[str, TextBox]]:
    """Series colour -> (name, its text box): a text with a patch (or a line sample) of one
    series colour just left of it, as legends draw their entries; inside the plot or right of
    it (a category label under a bar has the bar's colour beside it too)."""
    found: dict[int, tuple[str, TextBox]] = {}
    h, w = rgb.shape[:2]
    for i, b in enumerate(boxes):
        if i in used or number(b.text) is not None:
            continue
        if plot is not None and (b.cy > plot[3] or b.x0 < plot[0]):
            continue
        reach = int(max(12, 3 * b.height))
        x0, x1 = max(0, int(b.x0) - reach), max(0, int(b.x0) - 1)
        y0, y1 = max(0, int(b.y0)), min(h, int(b.y1) + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        patch = rgb[y0:y1, x0:x1].reshape(-1, 3)
        # a legend's sample may be a thin line, lighter than the series where it is smoothed:
        # each coloured pixel counts for the series colour nearest it, within a wide margin
        coloured = patch[saturation(patch[None])[0] > INK_SATURATION].astype(np.float32)
        if len(coloured) < 3 or not colours:
            continue
        dist = np.linalg.norm(coloured[:, None, :] - np.array(colours)[None], axis=-1)
        nearest = dist.argmin(axis=1)[dist.min(axis=1) < 80]
        if len(nearest) < 3:
            continue
        s = int(np.bincount(nearest).argmax())
        if s not in found:
            found[s] = (b.text, b)
            used.add(i)
    return found


def _in_legend(bar: Bar, legend: dict[int, tuple[str, TextBox]]) -> bool:
    for _, box in legend.values():
        if box.y0 - 4 <= bar.cy <= box.y1 + 4 and bar.x1 <= box.x0 + 2:
            if box.x0 - bar.x1 < 4 * box.height:
                return True
    return False


def _mask_text(shape: tuple[int, ...], boxes: list[TextBox], pad: int = 2) -> np.ndarray:
    mask = np.ones(shape[:2], dtype=bool)
    for b in boxes:
        mask[
            max(0, int(b.y0) - pad) : int(b.y1) + pad, max(0, int(b.x0) - pad) : int(b.x1) + pad
        ] = False
    return mask


def _label_row(labels: list[TextBox], vertical: bool) -> list[TextBox]:
    """The labels that stand in one row along the axis (their near edges together: tops under
    vertical bars, right ends beside horizontal ones), not the axis's title further out."""
    if len(labels) < 2:
        return labels
    edge = (lambda b: b.y0) if vertical else (lambda b: -b.x1)
    rows: list[list[TextBox]] = []
    for b in sorted(labels, key=edge):
        for row in rows:
            if abs(edge(b) - edge(row[0])) <= max(6.0, 0.5 * min(b.height, row[0].height)):
                row.append(b)
                break
        else:
            rows.append([b])
    return max(rows, key=len)


def _distinct(found: list[Bar]) -> list[Bar]:
    """One bar per rectangle: a second colour found on the same rectangle (its outline, a
    shade) is not a second series."""
    out: list[Bar] = []
    for bar in sorted(found, key=lambda b: -((b.x1 - b.x0) * (b.y1 - b.y0))):
        if not any(
            abs(bar.x0 - o.x0) <= 3
            and abs(bar.x1 - o.x1) <= 3
            and abs(bar.y0 - o.y0) <= 3
            and abs(bar.y1 - o.y1) <= 3
            for o in out
        ):
            out.append(bar)
    return out


def _under(labels: list[TextBox], bar: Bar, vertical: bool) -> TextBox | None:
    """The label that names a bar: below it (left of it, for a horizontal bar), centred within
    about a bar and a half of its middle (a grouped bar's label stands under its group)."""
    if vertical:
        size, at = bar.x1 - bar.x0, bar.cx
        near = [b for b in labels if b.y0 >= bar.y1 - 4 and abs(b.cx - at) <= 1.6 * size + 4]
        return min(near, key=lambda b: (abs(b.cx - at), b.y0), default=None)
    size, at = bar.y1 - bar.y0, bar.cy
    near = [b for b in labels if b.x1 <= bar.x0 + 4 and abs(b.cy - at) <= 1.6 * size + 4]
    return min(near, key=lambda b: (abs(b.cy - at), -b.x1), default=None)


def _nearest(labels: list[TextBox], at: float, along: str) -> TextBox | None:
    if not labels:
        return None
    key = (lambda b: abs(b.cx - at)) if along == "x" else (lambda b: abs(b.cy - at))
    return min(labels, key=key)


def _name(b: TextBox) -> str:
    """A label as written, without the tick mark read beside it ("Black-")."""
    return b.text.strip().strip("-–—_|").strip()


def read_chart(rgb: np.ndarray, boxes: list[TextBox]) -> ChartData | None:
    """The chart's data, or None when the picture holds no chart this reader can read."""
    h, w = rgb.shape[:2]
    used: set[int] = set()
    found_pie = pie(rgb)
    y_cal = calibrate(boxes, "y")
    x_cal = calibrate(boxes, "x")
    if found_pie is not None and (y_cal is None or len(y_cal[1]) < 3):
        return _read_pie(rgb, boxes, found_pie, used)
    if y_cal is None and x_cal is None:
        return None
    # the value axis: numbers down the left for columns and lines, along the bottom for
    # horizontal bars (whose categories then stand down the left)
    for cal in (y_cal, x_cal):
        if cal is not None:
            used |= {boxes.index(b) for b in cal[1]}
    title = _title(boxes, h, used)
    text_mask = _mask_text(rgb.shape, boxes)
    plot = _plot_area(rgb, boxes, y_cal, x_cal)
    area = np.zeros((h, w), dtype=bool)
    area[plot[1] : plot[3], plot[0] : plot[2]] = True
    colours = series_colours(rgb, area & text_mask)
    if not colours:
        return None
    legend = _legend(rgb, boxes, colours, used, plot)
    found, orientation = bars(rgb, colours, plot)
    found = _distinct([b for b in found if not _in_legend(b, legend)])
    if len(found) < 2:
        orientation = None
    if orientation == "horizontal" and x_cal is not None:
        return _read_bars(boxes, found, "horizontal", x_cal[0], legend, colours, title, used)
    if orientation == "vertical" and y_cal is not None:
        return _read_bars(boxes, found, "vertical", y_cal[0], legend, colours, title, used)
    if y_cal is not None:
        return _read_lines(rgb, boxes, colours, plot, y_cal[0], x_cal, legend, title, used)
    return None


def _plot_area(rgb, boxes, y_cal, x_cal) -> tuple[int, int, int, int]:
    """The rectangle the marks are drawn in: right of the y tick labels, above the x tick
    labels, below the title band."""
    h, w = rgb.shape[:2]
    x0 = int(max((b.x1 for b in y_cal[1]), default=0)) + 3 if y_cal else 0
    y1 = int(min((b.y0 for b in x_cal[1]), default=h)) - 3 if x_cal else h
    if y_cal and not x_cal:  # category labels below: level with the lowest tick or lower
        lowest = max(b.cy for b in y_cal[1])
        below = [b for b in boxes if b.y0 > lowest - 4 and number(b.text) is None]
        y1 = int(min((b.y0 for b in below), default=h)) - 3
    if x_cal and not y_cal:  # horizontal bars: category labels at the left
        leftmost = min(b.x0 for b in x_cal[1])
        left = [b for b in boxes if b.x1 < leftmost + 40 and number(b.text) is None]
        x0 = int(max((b.x1 for b in left), default=0)) + 3
    # an axis line, where one is drawn, is the plot's edge itself
    row, col = axis_lines(rgb)
    if row is not None and (y1 >= h - 3 or abs(row - y1) < 0.25 * h):
        y1 = row
    if col is not None and abs(col - x0) < 0.25 * w:
        x0 = col + 1
    y0 = int(0.08 * h)
    return max(0, x0), max(0, y0), w, max(y0 + 1, min(h, y1))


def _category_labels(boxes, used, along: str, plot_edge: float) -> list[TextBox]:
    """Texts beyond the plot's edge (below it for "x", left of it for "y") that name
    categories; numbers count too (years under bars)."""
    if along == "x":
        return [b for i, b in enumerate(boxes) if i not in used and b.y0 >= plot_edge - 4]
    return [b for i, b in enumerate(boxes) if i not in used and b.x1 <= plot_edge + 4]


def _series_names(legend, colours, present: list[int]) -> list[str]:
    """Each series colour's name: its legend entry, else its colour's name (when several
    series are drawn), made unique; "" for a chart of one series."""
    names: list[str] = []
    for s, colour in enumerate(colours):
        if s in legend:
            name = legend[s][0]
        else:
            name = colour_name(colour) if len(present) > 1 else ""
        if name in names and name:
            name = f"{name} {sum(n.startswith(name) for n in names) + 1}"
        names.append(name)
    return names


def _read_bars(boxes, found, orientation, axis, legend, colours, title, used) -> ChartData:
    vertical = orientation == "vertical"
    kind = f"{orientation} bar"
    data = ChartData(kind, title=title, axis=axis)
    if vertical:
        baseline = float(np.median([b.y1 for b in found]))
        edge = max(b.y1 for b in found)
        labels = _category_labels(boxes, used, "x", edge)
    else:
        baseline = float(np.median([b.x0 for b in found]))
        edge = min(b.x0 for b in found)
        labels = _category_labels(boxes, used, "y", edge)
    # text set vertically (labels turned 90 degrees) is misread when read across: such boxes
    # name nothing, and the band is read again upright
    turned = [
        b
        for b in labels
        if not b.turned and b.height > 1.3 * (b.x1 - b.x0) and len(b.text.strip()) > 1
    ]
    labels = _label_row([b for b in labels if b.text.strip() and b not in turned], vertical)
    names = _series_names(legend, colours, sorted({b.series for b in found}))
    zero = axis.value(baseline)
    taken: dict[int, set[int]] = {}  # a label names one bar of each series
    for bar in sorted(found, key=lambda b: b.cx if vertical else b.cy):
        free = [b for b in labels if id(b) not in taken.setdefault(bar.series, set())]
        if vertical:
            top, bottom = bar.y0, bar.y1
            at_base = abs(bottom - baseline) <= 3
            value = (
                axis.value(top)
                - (zero if at_base else axis.value(bottom))
                + (zero if at_base else 0.0)
            )
            if abs(top - baseline) <= 3 and bottom > baseline + 3:  # below the baseline
                value = axis.value(bottom)
            label = _under(free, bar, vertical=True)
        else:
            left, right = bar.x0, bar.x1
            at_base = abs(left - baseline) <= 3
            value = (
                axis.value(right)
                - (zero if at_base else axis.value(left))
                + (zero if at_base else 0.0)
            )
            label = _under(free, bar, vertical=False)
        if label is not None:
            taken[bar.series].add(id(label))
        category = _name(label) if label else f"bar {len(data.categories) + 1}"
        series = names[bar.series] if bar.series < len(names) else ""
        if series not in data.values:
            data.values[series] = {}
        key = category
        if key in data.values[series]:  # stacked: the segments of one bar add up
            data.values[series][key] += value
        else:
            data.values[series][key] = value
        if category not in data.categories:
            data.categories.append(category)
    data.series = [n for n in names if n in data.values]
    data.value_label = _value_label(boxes, used, axis)
    unnamed = sum(c.startswith("bar ") for c in data.categories)
    if not labels or turned or unnamed > len(data.categories) / 2:
        data.not_read.append("the category labels (bars are numbered instead)")
        if vertical:
            x0, x1 = min(b.x0 for b in found), max(b.x1 for b in found)
            data.label_band = (int(x0), int(edge) + 1, int(x1), int(edge) + 160)
    return data


def _value_label(boxes, used, axis: Axis) -> str | None:
    """The value axis's title: the text beside its tick labels (left of them for a y axis,
    below them for an x axis), not a tick label, not the title."""
    ticks = [p for p, _ in axis.ticks]
    if axis.direction == "y":
        lo, hi = min(ticks), max(ticks)
        cands = [
            b
            for i, b in enumerate(boxes)
            if i not in used and number(b.text) is None and lo - 40 <= b.cy <= hi + 40
        ]
        first_tick = min((b.x0 for b in boxes if number(b.text) is not None), default=1e9)
        cands = [b for b in cands if b.x1 < first_tick + 2]
        pick = min(cands, key=lambda b: b.x0) if cands else None
    else:
        cands = [b for i, b in enumerate(boxes) if i not in used and number(b.text) is None]
        low = max((b.y1 for b in boxes if number(b.text) is not None), default=0)
        cands = [b for b in cands if b.y0 >= low - 2]
        pick = max(cands, key=lambda b: b.y1) if cands else None
    if pick is None or pick.height > 1.5 * (pick.x1 - pick.x0) or pick.confidence < 0.8:
        return None  # text set vertically is misread when read across: better unsaid
    used.add(boxes.index(pick))
    return pick.text


def _read_lines(rgb, boxes, colours, plot, axis, x_cal, legend, title, used) -> ChartData | None:
    data = ChartData("line", title=title, axis=axis)
    width = plot[2] - plot[0]
    # the legend's samples are drawn in the series colours too: blank them out first
    page = rgb.copy()
    for _, box in legend.values():
        reach = int(max(12, 4 * box.height))
        page[int(box.y0) - 2 : int(box.y1) + 2, max(0, int(box.x0) - reach) : int(box.x1)] = 255
    traces = {}
    for s, colour in enumerate(colours):
        line = trace(page, colour, plot)
        if len(line) >= 0.25 * width:
            traces[s] = line
    if not traces:
        return None
    # a smoothed edge of a line is drawn in a lighter shade along the same path: one series
    for s in sorted(traces, key=lambda k: len(traces[k])):
        for other in traces:
            if other == s or other not in traces:
                continue
            common = set(traces[s]) & set(traces[other])
            if (
                len(common) > 0.8 * len(traces[s])
                and np.mean([abs(traces[s][c] - traces[other][c]) for c in common]) < 3.0
            ):
                del traces[s]
                break
    names = _series_names(legend, colours, sorted(traces))
    # the categories: the labels under the plot (x tick labels, numbers or words); along a
    # numeric x axis, every whole x value the lines span (a year between two labelled ones)
    labels = x_cal[1] if x_cal is not None else _category_labels(boxes, used, "x", plot[3])
    labels = sorted([b for b in labels if b.text.strip()], key=lambda b: b.cx)
    positions = [(_name(b), b.cx) for b in labels]
    if x_cal is not None and not x_cal[0].log:
        spanned = [c for line in traces.values() for c in line]
        positions = _whole_steps(x_cal[0], min(spanned), max(spanned)) or positions
    data.categories = [name for name, _ in positions]
    for s, line in traces.items():
        name = names[s]
        data.series.append(name)
        values: dict[str, float] = {}
        cols = np.array(sorted(line))
        for label, at in positions:
            j = int(cols[np.argmin(np.abs(cols - at))])
            if abs(j - at) <= 6:
                values[label] = axis.value(line[j])
        data.values[name] = values
        if x_cal is not None:
            # the highest and lowest point of the traced line, at its x value
            rows = np.array([line[int(c)] for c in cols])
            top, bottom = int(cols[int(np.argmin(rows))]), int(cols[int(np.argmax(rows))])
            data.peaks[name] = (x_cal[0].value(top), axis.value(line[top]))
            data.troughs[name] = (x_cal[0].value(bottom), axis.value(line[bottom]))
    data.value_label = _value_label(boxes, used, axis)
    spread = (labels[-1].cx - labels[0].cx) if len(labels) > 1 else 0.0
    if len(labels) < 3 or spread < 0.5 * (plot[2] - plot[0]):
        # too few labels across the plot to place the points: none read, or set vertically
        data.not_read.append("the x axis labels")
        data.label_band = (plot[0], plot[3], plot[2], plot[3] + 160)
    return data


def _whole_steps(x_axis: Axis, first: float, last: float) -> list[tuple[str, float]]:
    """(x value, pixel) at every whole x value (every 5 or 10 over a long span) between two
    pixel columns: the points of a line over years, labelled or not."""
    lo, hi = sorted((x_axis.value(first), x_axis.value(last)))
    ticks = [v for _, v in x_axis.ticks]
    if not all(float(v).is_integer() for v in ticks) or hi - lo < 2:
        return []
    span = hi - lo
    step = 1 if span <= 40 else 5 if span <= 200 else 10 if span <= 400 else 0
    if not step:
        return []
    start = math.ceil(lo / step) * step
    xs = np.arange(start, math.floor(hi) + 1, step)
    return [(str(int(x)), (x - x_axis.offset) / x_axis.scale) for x in xs]


def _title_like(b: TextBox, found: Pie) -> bool:
    """A text above the pie, centred over it and wide: its title, not a wedge's label."""
    return (
        b.y1 < found.cy - found.radius
        and abs(b.cx - found.cx) < 0.3 * found.radius
        and (b.x1 - b.x0) > 0.8 * found.radius
    )


def _read_pie(rgb, boxes, found: Pie, used) -> ChartData:
    kind = "donut" if found.inner > 0.15 * found.radius else "pie"
    data = ChartData(kind)
    spans = [(a1 - a0) for a0, a1, _ in found.wedges]
    total = sum(spans)
    shares = [100.0 * s / total for s in spans]

    # texts by the angle they stand at around the centre: a label outside the wedge, its
    # percentage inside
    def angle(b: TextBox) -> float:
        return math.degrees(math.atan2(b.cx - found.cx, found.cy - b.cy)) % 360.0

    def within(a: float, wedge: tuple[float, float, np.ndarray]) -> bool:
        a0, a1, _ = wedge
        return a0 <= a < a1 or a0 <= a - 360.0 < a1

    legend = _legend(rgb, boxes, [c for _, _, c in found.wedges], used)
    series = ""
    data.series = [series]
    data.values[series] = {}
    for k, wedge in enumerate(found.wedges):
        label = None
        if k in legend:
            label = legend[k][0]
        else:
            outside = [
                b
                for i, b in enumerate(boxes)
                if i not in used
                and number(b.text) is None
                and math.hypot(b.cx - found.cx, b.cy - found.cy) > 0.5 * found.radius
                and within(angle(b), wedge)
                and not _title_like(b, found)
            ]
            if outside:
                pick = min(outside, key=lambda b: math.hypot(b.cx - found.cx, b.cy - found.cy))
                label = _name(pick)
                used.add(boxes.index(pick))
        name = label or f"{colour_name(wedge[2])} wedge"
        data.categories.append(name)
        data.values[series][name] = shares[k]
    if any(k not in legend and name.endswith(" wedge") for k, name in enumerate(data.categories)):
        data.not_read.append("some wedge labels (named by colour instead)")
    # the title once the wedges have their labels: a label may stand high above the pie too
    data.title = _title(boxes, rgb.shape[0], used)
    return data
