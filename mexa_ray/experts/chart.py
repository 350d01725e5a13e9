"""Chart expert (F1, E2): the plotted data of bar, line and pie charts, read as numbers.

RapidOCR reads the chart's text (title, tick labels, category labels, legend, data labels);
`chart_reading` calibrates the value axis from its tick labels and measures the marks (bar ends,
line points per series colour, wedge angles). The report states the recovered data as a small
table with its extremes, each line's trend and each wedge's share, how finely the axis lets a
value be read, and what could not be read; then the table goes through the same question
analysis as a table file (`table_analysis`), so "about how much was X in 1950?" or "did A
exceed B?" is computed, not guessed. A picture with no chart this reader can read gets a report
that says so, never a made-up table.
"""

from __future__ import annotations

import difflib
import math
import re
import threading

import numpy as np
import pandas as pd

from mexa_ray.config import ExpertSpec
from mexa_ray.errors import ConfigError
from mexa_ray.experts.base import Expert
from mexa_ray.experts.chart_geometry import (
    TextBox,
    axis_lines,
    calibrate,
    marks_box,
    text_lines,
)
from mexa_ray.experts.chart_reading import ChartData, read_chart
from mexa_ray.experts.settings import ChartSettings
from mexa_ray.experts.table_analysis import analyse
from mexa_ray.experts.table_question import parse
from mexa_ray.media.image import read_image
from mexa_ray.types import Media, Query, Skill

#: the height PP-OCR's recogniser reads a line at (its input shape is 3 x 48 x width)
REC_HEIGHT = 48

#: few words, so that a picture routed here by mistake adds nothing an option could meet
NO_CHART = "No chart was found in the image."


def _digits(resolution: float | None) -> int:
    """Decimal places worth printing for values read to `resolution`."""
    if not resolution or resolution <= 0:
        return 2
    return max(0, min(6, -math.floor(math.log10(resolution))))


def value_text(value: float, digits: int) -> str:
    text = f"{value:,.{digits}f}".replace(",", "")
    return text.rstrip("0").rstrip(".") if "." in text else text


def trend(values: list[float], tolerance: float) -> str:
    """How a series moves over its points, in words."""
    if len(values) < 3:
        return "too few points for a trend"
    steps = np.diff(values)
    up, down = steps > tolerance, steps < -tolerance
    if not up.any() and not down.any():
        return "flat"
    if not down.any():
        return "rising"
    if not up.any():
        return "falling"
    peak, low = int(np.argmax(values)), int(np.argmin(values))
    if 0 < peak < len(values) - 1 and not down[:peak].any() and not up[peak:].any():
        return "rising, then falling"
    if 0 < low < len(values) - 1 and not up[:low].any() and not down[low:].any():
        return "falling, then rising"
    return "up and down"


def describe_chart(data: ChartData) -> list[str]:
    """The report lines of a chart's data: what it is, the data, extremes, trends, shares."""
    lines = []
    parts = [f"{data.kind} chart"]
    named = [s for s in data.series if s]
    if data.kind in ("pie", "donut"):
        parts.append(f"{len(data.categories)} wedges")
    else:
        parts.append(f"{len(data.categories)} categories")
        if len(data.series) > 1:  # one series goes unsaid: its count would be a number to meet
            parts.append(f"{len(data.series)} series ({', '.join(named)})")
    if data.title:
        parts.append(f'title "{data.title}"')
    digits = 1
    if data.axis is not None:
        ticks = [v for _, v in data.axis.ticks]
        label = f' "{data.value_label}"' if data.value_label else ""
        scale = "logarithmic" if data.axis.log else "linear"
        digits = _digits(data.axis.resolution)
        parts.append(
            f"value axis{label}, {scale}, ticks from {value_text(min(ticks), digits)} to "
            f"{value_text(max(ticks), digits)}; values read to about "
            f"±{value_text(data.axis.resolution, digits)}"
        )
    lines.append("Chart: " + "; ".join(parts) + ".")
    if data.kind in ("pie", "donut"):
        shares = data.values[data.series[0]]
        ranked = sorted(shares.items(), key=lambda kv: -kv[1])
        lines.append("Shares: " + "; ".join(f"{k} {v:.0f}%" for k, v in ranked) + ".")
        lines.append(
            f"Largest share: {ranked[0][0]} ({ranked[0][1]:.0f}%); smallest share: "
            f"{ranked[-1][0]} ({ranked[-1][1]:.0f}%)."
        )
    else:
        tolerance = data.axis.resolution if data.axis is not None else 0.0
        for series in data.series:
            values = data.values[series]
            if not values:
                continue
            head = f"Series '{series}'" if series else "Data"
            items = "; ".join(f"{k} {value_text(v, digits)}" for k, v in values.items())
            lines.append(f"{head} (category: value): {items}.")
            of = f" of '{series}'" if series else " value"
            hi = max(values.items(), key=lambda kv: kv[1])
            lo = min(values.items(), key=lambda kv: kv[1])
            lines.append(
                f"Highest{of}: {hi[0]} ({value_text(hi[1], digits)}); lowest{of}: {lo[0]} "
                f"({value_text(lo[1], digits)})."
            )
            if data.kind == "line":
                ordered = [values[c] for c in data.categories if c in values]
                lines.append(f"Trend{of}: {trend(ordered, tolerance)}.")
            if series in data.peaks:
                (px, pv), (tx, tv) = data.peaks[series], data.troughs[series]
                lines.append(
                    f"The line{of} peaks near x = {value_text(px, 0)} "
                    f"({value_text(pv, digits)}) and bottoms near x = {value_text(tx, 0)} "
                    f"({value_text(tv, digits)})."
                )
    if data.not_read:
        lines.append("Not read: " + "; ".join(data.not_read) + ".")
    return lines


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def aligned(names: list[str], question: str, options: list[str]) -> dict[str, str]:
    """Read names (categories, series) spelled as the question or its options spell them,
    where they are the same words: a reader may lose a space ("FossilFuels") or misread a
    letter ("lowa" for "Iowa"); a name nothing spells alike is kept as read."""
    words = re.findall(r"[\w'&.-]+", question)
    spellings = list(options) + [
        " ".join(words[i : i + n]) for n in (1, 2, 3, 4) for i in range(len(words) - n + 1)
    ]
    by_plain: dict[str, str] = {}
    for spelling in spellings:
        by_plain.setdefault(_plain(spelling), spelling.strip(" ?.,;:"))
    out = {}
    for name in names:
        key = _plain(name)
        if not key:
            continue
        if key in by_plain:
            out[name] = by_plain[key]
            continue
        if len(key) >= 4 and not key.isdigit():
            # a letter misread (or two, in a long name): "lowa" is "Iowa"; never a digit:
            # 2002 is not 2003
            slips = 1 if len(key) < 8 else 2
            cutoff = (len(key) - slips) / len(key) - 1e-9
            close = difflib.get_close_matches(key, list(by_plain), n=1, cutoff=cutoff)
            if close:
                out[name] = by_plain[close[0]]
    return {k: v for k, v in out.items() if k != v}


#: letters whose capital is the small letter drawn larger: a line read alone cannot tell them
_SAME_SHAPE = frozenset("cosuvwxz")


def same_case(names: list[str]) -> dict[str, str]:
    """Names whose first letter's case the reader could not see, set as the chart's other names
    are: a chart sets its labels alike, so "wind" among "Coal", "Gas" and "Solar" is "Wind"."""
    lettered = [n for n in names if n[:1].isalpha()]
    capitals = [n for n in lettered if n[0].isupper()]
    small = [n for n in lettered if not n[0].isupper()]
    if len(capitals) < 2 or len(capitals) <= len(small):
        return {}
    if any(n[0] not in _SAME_SHAPE for n in small):
        return {}  # a small "g" is no misread capital: the chart's labels do differ in case
    return {n: n[0].upper() + n[1:] for n in small}


def renamed(data: ChartData, renames: dict[str, str]) -> ChartData:
    """The chart's data with names replaced (categories, series, their values and extremes)."""
    if not renames:
        return data
    data.categories = [renames.get(c, c) for c in data.categories]
    data.series = [renames.get(s, s) for s in data.series]
    data.values = {
        renames.get(s, s): {renames.get(c, c): v for c, v in values.items()}
        for s, values in data.values.items()
    }
    data.peaks = {renames.get(s, s): p for s, p in data.peaks.items()}
    data.troughs = {renames.get(s, s): p for s, p in data.troughs.items()}
    return data


def respelled(data: ChartData, question: str, options: list[str]) -> ChartData:
    """The chart's data with its names spelled as the question spells them (`aligned`), after
    their case is made alike (`same_case`)."""
    data = renamed(data, same_case(data.categories) | same_case(data.series))
    return renamed(data, aligned(data.categories + data.series, question, options))


def _merged_numbers(b: TextBox) -> bool:
    """A box of digits far wider than the digits of one label ("50001000015000")."""
    text = b.text.strip()
    return len(text) >= 8 and text.isdigit()  # "1,000,000" has its separators


def _resized(rgb: np.ndarray, scale: float) -> np.ndarray:
    from PIL import Image

    h, w = rgb.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


def chart_table(data: ChartData) -> pd.DataFrame:
    """The chart's data as a table: one row per category, one column per series (a pie's
    shares as "share (%)")."""
    name = data.value_label or ("share (%)" if data.kind in ("pie", "donut") else "value")
    columns = {
        (s or name): [data.values[s].get(c, np.nan) for c in data.categories] for s in data.series
    }
    return pd.DataFrame({"category": data.categories, **columns})


class ChartExpert(Expert):
    """Reads the data of a bar, line or pie chart in an image; see ChartSettings."""

    settings: ChartSettings
    reads_question = True

    def __init__(self, spec: ExpertSpec, skills: dict[str, Skill]) -> None:
        super().__init__(spec, skills)
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError:
            raise ConfigError(
                f"expert {spec.name!r}: backend 'chart' needs rapidocr-onnxruntime "
                "(pip install 'mexa-ray[offline]')",
                field="backend",
            ) from None
        # detection at the picture's own size (at most max_side), no rotated-text classifier:
        # chart text is upright, and the defaults upscale a small chart to 736 px first.
        # Recognition pads every line to at least 320 px wide (PaddleOCR's default shape) and
        # batches six: a chart's text is mostly short tick labels ("0", "1950"), so no minimum
        # width and small batches, each padded only to its own widest line, took a chart's
        # reading from 840 to 517 ms median with the channel-wise colour maths of
        # chart_geometry (docs/performance.md)
        self.engine = RapidOCR(
            det_limit_side_len=self.settings.max_side,
            det_limit_type="max",
            use_cls=False,
            rec_img_shape=[3, REC_HEIGHT, REC_HEIGHT],
            rec_batch_num=self.settings.rec_batch,
        )
        self._lock = threading.Lock()
        self.boxes(np.full((64, 256, 3), 255, dtype=np.uint8))  # warm-up

    def boxes(self, rgb: np.ndarray) -> list[TextBox]:
        """The text boxes in a picture. A small picture is read enlarged (small tick labels
        are missed at their own size), the boxes put back in its pixels."""
        h, w = rgb.shape[:2]
        scale = min(3.0, self.settings.min_text_side / max(h, w))
        if scale > 1:
            rgb = _resized(rgb, scale)
        else:
            scale = 1.0
        with self._lock:
            found, _ = self.engine(np.ascontiguousarray(rgb[..., ::-1]))
        return [
            TextBox(
                str(text),
                float(min(p[0] for p in box)) / scale,
                float(min(p[1] for p in box)) / scale,
                float(max(p[0] for p in box)) / scale,
                float(max(p[1] for p in box)) / scale,
                float(conf),
            )
            for box, text, conf in (found or [])
            if float(conf) >= self.settings.min_confidence
        ]

    def upright_boxes(self, rgb: np.ndarray, band: tuple[int, int, int, int]) -> list[TextBox]:
        """Text set vertically in a band (category labels turned 90 degrees), read with the
        band turned upright and put back in the picture's pixels."""
        x0, y0, x1, y1 = band
        crop = rgb[max(0, y0) : y1, max(0, x0) : x1]
        if crop.size == 0:
            return []
        height = crop.shape[0]
        out = []
        for b in self.boxes(np.ascontiguousarray(np.rot90(crop, k=-1))):
            # turned clockwise: a point (u, v) of the upright band was (v, height - 1 - u)
            out.append(
                TextBox(
                    b.text,
                    x0 + b.y0,
                    y0 + height - 1 - b.x1,
                    x0 + b.y1,
                    y0 + height - 1 - b.x0,
                    b.confidence,
                    turned=True,
                )
            )
        return out

    def margin_boxes(self, rgb: np.ndarray, boxes: list[TextBox]) -> list[TextBox]:
        """Labels beside the marks (left of them, below them) that the detector missed (short
        tick labels such as "0" or "5"), found as strokes and read one by one."""
        marks = marks_box(rgb)
        if marks is None:
            return []
        h, w = rgb.shape[:2]
        mx0, my0, mx1, my1 = marks
        row, col = axis_lines(rgb)
        left = (0, my0 - 30, (col if col is not None else mx0) - 1, my1 + 30)
        below = (max(0, mx0 - 40), (row if row is not None else my1) + 2, w, h)
        found = []
        # below the marks, only text set across: labels turned upright are read elsewhere,
        # and their single glyphs would read as stray digits
        across = [t for t in text_lines(rgb, below) if t[2] - t[0] >= 0.8 * (t[3] - t[1])]
        for x0, y0, x1, y1 in text_lines(rgb, left) + across:
            if any(b.x0 <= (x0 + x1) / 2 <= b.x1 and b.y0 <= (y0 + y1) / 2 <= b.y1 for b in boxes):
                continue  # the detector read it already
            pad = 3
            crop = rgb[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad]
            if crop.shape[0] < 24:
                crop = _resized(crop, 32 / crop.shape[0])
            with self._lock:
                read, _ = self.engine(
                    np.ascontiguousarray(crop[..., ::-1]), use_det=False, use_cls=False
                )
            text, score = (read or [["", 0.0]])[0]
            if text and float(score) >= self.settings.min_confidence:
                found.append(TextBox(str(text), x0, y0, x1, y1, float(score)))
        return found

    def read(self, rgb: np.ndarray) -> ChartData | None:
        """The chart's data, from a picture shrunk to at most `max_side` pixels a side."""
        h, w = rgb.shape[:2]
        if max(h, w) > self.settings.max_side:
            rgb = _resized(rgb, self.settings.max_side / max(h, w))
        boxes = self.boxes(rgb)
        # tick labels set close together are read as one run of digits: no number of its own
        boxes = [b for b in boxes if not _merged_numbers(b)]
        ticks = [calibrate(boxes, d) for d in ("y", "x")]
        if all(t is None or len(t[1]) < 3 for t in ticks):
            boxes += self.margin_boxes(rgb, boxes)
        data = read_chart(rgb, boxes)
        if data is not None and data.label_band is not None:
            upright = self.upright_boxes(rgb, data.label_band)
            if upright:
                data = read_chart(rgb, boxes + upright) or data
        return data

    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        data = self.read(read_image(item.local_path()))
        if data is None or not any(data.values.values()):
            return NO_CHART
        data = respelled(data, query.question, query.options)
        lines = describe_chart(data)
        s = self.settings
        q = parse(chart_table(data), query.question, query.options)
        computed = analyse(q, s.max_rows, s.max_groups, s.max_items)
        if computed:
            lines.append("Computed from the chart's data:")
            lines += computed
        return "\n".join(lines)
