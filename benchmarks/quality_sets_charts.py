"""Quality-suite categories for charts: bar, line and pie charts of real public data, drawn by two
plotting libraries with different looks (matplotlib in several styles, and Vega-Lite rendered by
`vl-convert-python`), at several sizes. Every answer comes from the data that was plotted, never
from what an expert reads.

- chart-bar: vertical and horizontal bars: which category is highest or lowest, about how much a
  category's value is (options far enough apart for the axis), whether one bar exceeds another;
- chart-line: one to three series over years: the year a series peaks or bottoms, how it moves
  over the period (rises, falls, rises then falls, falls then rises), about what it was in a year;
- chart-pie: pies and donuts: a wedge's share (options at least 8 points apart), the largest and
  the smallest wedge.

Data (public; the `vega_datasets` wheel, BSD-3, and the `statsmodels` wheel, BSD-3): stock
prices (yearly means of monthly closes, 2000-2010), Iowa's electricity by source (EIA, 2001-2017),
US employment by sector (BLS, yearly means, 2006-2015), the deaths of the 1992 Los Angeles riots
by race, gender and neighbourhood (LA Times), US airports per state (FAA), the Nile's yearly flow
(decade means) and sunspot numbers (decade means).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
from quality_sets import _item, _pypi_package

# --- data -------------------------------------------------------------------------------------


def _vega(cache: Path, name: str) -> Any:
    import pandas as pd

    path = _pypi_package("vega_datasets", cache) / "vega_datasets" / "_data" / name
    return pd.read_csv(path)


def _statsmodels(cache: Path, name: str) -> Any:
    import pandas as pd

    root = _pypi_package("statsmodels", cache) / "statsmodels" / "datasets" / name
    df = pd.read_csv(root / f"{name}.csv")
    df.columns = [c.strip('"') for c in df.columns]
    return df


def categorical_sets(cache: Path) -> list[tuple[str, str, str, dict[str, float]]]:
    """(title, category noun, value noun, category -> value): data for bars and pies."""
    out = []
    stocks = _vega(cache, "stocks.csv")
    stocks["year"] = stocks["date"].str[-4:].astype(int)
    for year in (2003, 2006, 2009):
        means = stocks[stocks["year"] == year].groupby("symbol")["price"].mean()
        out.append(
            (f"Mean stock price in {year}", "company", "mean price", means.round(1).to_dict())
        )
    iowa = _vega(cache, "iowa-electricity.csv")
    iowa["year"] = iowa["year"].str[:4].astype(int)
    for year in (2002, 2010, 2017):
        gen = iowa[iowa["year"] == year].set_index("source")["net_generation"]
        out.append(
            (f"Iowa electricity by source, {year}", "source", "net generation", gen.to_dict())
        )
    riots = _vega(cache, "la-riots.csv")
    for column, noun in (("race", "group"), ("neighborhood", "neighbourhood")):
        counts = riots[column].value_counts().head(6)
        out.append((f"1992 Los Angeles riot deaths by {column}", noun, "deaths", counts.to_dict()))
    airports = _vega(cache, "airports.csv")
    counts = airports["state"].value_counts()
    for start in (0, 6, 12):
        top = counts.iloc[start : start + 6]
        out.append(("US airports per state", "state", "airports", top.to_dict()))
    jobs = _vega(cache, "us-employment.csv")
    jobs["year"] = jobs["month"].str[:4].astype(int)
    sectors = ["construction", "manufacturing", "information", "financial_activities",
               "leisure_and_hospitality", "government"]  # fmt: skip
    for year in (2007, 2012):
        row = jobs[jobs["year"] == year][sectors].mean()
        named = {s.replace("_", " "): round(float(v)) for s, v in row.items()}
        out.append((f"US jobs by sector, {year} (thousands)", "sector", "jobs", named))
    return [(t, c, v, {str(k): float(x) for k, x in d.items()}) for t, c, v, d in out]


def series_sets(cache: Path) -> list[tuple[str, str, dict[str, dict[int, float]]]]:
    """(title, value noun, series -> year -> value): data for lines."""
    out = []
    stocks = _vega(cache, "stocks.csv")
    stocks["year"] = stocks["date"].str[-4:].astype(int)
    yearly = stocks.groupby(["symbol", "year"])["price"].mean().round(1)
    for group in (("MSFT", "IBM"), ("AMZN",), ("AAPL", "GOOG", "MSFT"), ("IBM",)):
        out.append(
            (
                "Mean stock price by year",
                "mean price",
                {s: {int(y): float(v) for y, v in yearly[s].items()} for s in group if s in yearly},
            )
        )
    iowa = _vega(cache, "iowa-electricity.csv")
    iowa["year"] = iowa["year"].str[:4].astype(int)
    for group in (("Fossil Fuels",), ("Renewables", "Nuclear Energy"), tuple(iowa.source.unique())):
        out.append(
            (
                "Iowa net electricity generation",
                "net generation",
                {
                    s: iowa[iowa.source == s].set_index("year")["net_generation"].to_dict()
                    for s in group
                },
            )
        )
    jobs = _vega(cache, "us-employment.csv")
    jobs["year"] = jobs["month"].str[:4].astype(int)
    for group in (("construction", "manufacturing"), ("information",), ("government",)):
        means = jobs.groupby("year")[list(group)].mean().round(0)
        out.append(
            (
                "US jobs by year (thousands)",
                "jobs",
                {g.replace("_", " "): means[g].to_dict() for g in group},
            )
        )
    nile = _statsmodels(cache, "nile")
    decades = nile.groupby(nile["year"] // 10 * 10)["volume"].mean().round(0)
    out.append(("Nile flow by decade", "flow", {"Nile": decades.to_dict()}))
    spots = _statsmodels(cache, "sunspots")
    spots = spots[spots["YEAR"] >= 1900]
    decades = spots.groupby(spots["YEAR"] // 10 * 10)["SUNACTIVITY"].mean().round(1)
    out.append(("Sunspots by decade", "sunspot number", {"sunspots": decades.to_dict()}))
    return [
        (t, v, {s: {int(y): float(x) for y, x in d.items()} for s, d in series.items()})
        for t, v, series in out
    ]


# --- renderers --------------------------------------------------------------------------------

MPL_STYLES = ("default", "ggplot", "seaborn-v0_8-whitegrid", "bmh", "fivethirtyeight")


def _mpl(path: Path, rng: random.Random, draw) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    style = rng.choice(MPL_STYLES)
    with plt.style.context(style):
        fig, ax = plt.subplots(
            figsize=(rng.uniform(5.0, 8.0), rng.uniform(3.5, 5.0)), dpi=rng.choice([80, 100, 120])
        )
        draw(ax)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
    return f"matplotlib {style}"


def _vl(path: Path, rng: random.Random, spec: dict[str, Any]) -> str:
    import vl_convert as vlc

    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": rng.randint(300, 560),
        "height": rng.randint(200, 340),
        **spec,
    }
    scale = rng.choice([1.0, 1.5, 2.0])
    path.write_bytes(vlc.vegalite_to_png(json.dumps(spec), scale=scale))
    return f"vega-lite x{scale:g}"


def _bar_chart(path, rng, title, cat, val, data: dict[str, float]) -> str:
    names, values = list(data), list(data.values())
    horizontal = rng.random() < 0.35
    if rng.random() < 0.5:

        def draw(ax):
            colour = rng.choice([None, "tab:green", "tab:orange", "#4c72b0"])
            if horizontal:
                ax.barh(names, values, color=colour)
                ax.set_xlabel(val)
            else:
                ax.bar(names, values, color=colour)
                ax.set_ylabel(val)
                if max(len(n) for n in names) > 8:
                    ax.tick_params(axis="x", labelsize=8)
            ax.set_title(title)

        return _mpl(path, rng, draw)
    rows = [{"c": n, "v": v} for n, v in data.items()]
    x = {"field": "c", "type": "nominal", "sort": None, "title": cat}
    y = {"field": "v", "type": "quantitative", "title": val}
    if rng.random() < 0.5:
        x["axis"] = {"labelAngle": 0}
    enc = {"y": x, "x": y} if horizontal else {"x": x, "y": y}
    return _vl(
        path, rng, {"title": title, "data": {"values": rows}, "mark": "bar", "encoding": enc}
    )


def _line_chart(path, rng, title, val, series: dict[str, dict[int, float]]) -> str:
    if rng.random() < 0.5:

        def draw(ax):
            for name, points in series.items():
                marker = rng.choice([None, "o", "s"])
                ax.plot(list(points), list(points.values()), marker=marker, label=name)
            ax.set_title(title)
            ax.set_ylabel(val)
            ax.set_xlabel("year")
            if len(series) > 1:
                ax.legend()

        return _mpl(path, rng, draw)
    rows = [{"year": y, "v": v, "s": s} for s, pts in series.items() for y, v in pts.items()]
    enc: dict[str, Any] = {
        "x": {"field": "year", "type": "ordinal", "axis": {"labelAngle": rng.choice([0, -90])}},
        "y": {"field": "v", "type": "quantitative", "title": val},
    }
    if len(series) > 1:
        enc["color"] = {"field": "s", "type": "nominal", "title": None}
    mark = {"type": "line", "point": rng.random() < 0.4}
    return _vl(path, rng, {"title": title, "data": {"values": rows}, "mark": mark, "encoding": enc})


def _pie_chart(path, rng, title, data: dict[str, float]) -> str:
    donut = rng.random() < 0.4
    if rng.random() < 0.5:

        def draw(ax):
            kw = {"wedgeprops": {"width": 0.45}} if donut else {}
            pct = "%1.0f%%" if rng.random() < 0.5 else None
            ax.pie(list(data.values()), labels=list(data), autopct=pct, startangle=90, **kw)
            ax.set_title(title)
            ax.axis("equal")

        return _mpl(path, rng, draw)
    rows = [{"c": n, "v": v} for n, v in data.items()]
    mark: dict[str, Any] = {"type": "arc"}
    if donut:
        mark["innerRadius"] = 40
    enc = {
        "theta": {"field": "v", "type": "quantitative"},
        "color": {"field": "c", "type": "nominal", "sort": None, "title": None},
    }
    return _vl(path, rng, {"title": title, "data": {"values": rows}, "mark": mark, "encoding": enc})


# --- questions --------------------------------------------------------------------------------


def _round(x: float) -> float:
    """A value as an option states it: two significant digits."""
    if x == 0:
        return 0.0
    digits = 1 - int(np.floor(np.log10(abs(x))))
    return round(x, digits)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _value_options(gold: float, span: float, rng: random.Random) -> list[str] | None:
    """The gold value and three others at least a fifth of the axis's span apart."""
    step = max(0.2 * span, 0.25 * abs(gold))
    picks = [gold]
    for k in rng.sample([-3, -2, -1, 1, 2, 3], 6):
        candidate = _round(gold + k * step)
        if candidate >= 0 and all(abs(candidate - p) >= 0.15 * span for p in picks):
            picks.append(candidate)
        if len(picks) == 4:
            break
    if len(picks) < 4:
        return None
    options = [_fmt(_round(p)) for p in picks]
    if len(set(options)) < 4:
        return None
    rng.shuffle(options)
    return options


def _others(gold: str, pool: list[str], rng: random.Random, k: int = 3) -> list[str]:
    rest = [p for p in pool if p != gold]
    options = rng.sample(rest, min(k, len(rest))) + [gold]
    rng.shuffle(options)
    return options


def bar_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    folder = root / "charts"
    folder.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    sets = categorical_sets(cache)
    for k in range(n):
        title, cat, val, data = sets[k % len(sets)]
        data = {c: v for c, v in data.items() if v > 0}
        if len(data) < 3:
            continue
        path = folder / f"bar-{k:03d}.png"
        look = _bar_chart(path, rng, title, cat, val, data)
        media = [{"type": "image", "path": str(path.relative_to(root))}]
        names = list(data)
        values = np.array(list(data.values()))
        span = float(values.max())
        kind = k % 4
        if kind in (0, 1):
            counted = val in ("deaths", "airports", "jobs")
            which = (
                ("most" if kind == 0 else "fewest")
                if counted
                else ("highest" if kind == 0 else "lowest")
            )
            idx = int(values.argmax() if kind == 0 else values.argmin())
            if sorted(values)[-2 if kind == 0 else 1] == values[idx]:
                continue  # a tie
            question = rng.choice(
                [
                    f"Which {cat} has the {which} {val} in the chart?",
                    f"According to the chart, which {cat} has the {which} {val}?",
                ]
            )
            items.append(
                _item(
                    "chart-bar",
                    len(items),
                    question,
                    _others(names[idx], names, rng),
                    names[idx],
                    media,
                    "chart question answering",
                    which,
                )  # fmt: skip
            )
        elif kind == 2:
            c = rng.choice(names)
            options = _value_options(_round(data[c]), span, rng)
            if options is None:
                continue
            gold = _fmt(_round(_round(data[c])))
            question = f"About how much is the {val} of {c} in the chart?"
            items.append(
                _item(
                    "chart-bar",
                    len(items),
                    question,
                    options,
                    gold,
                    media,
                    "chart question answering",
                    "value",
                )  # fmt: skip
            )
        else:
            a, b = rng.sample(names, 2)
            if abs(data[a] - data[b]) < 0.1 * span:
                continue
            question = f"Is the {val} of {a} higher than that of {b}?"
            gold = "yes" if data[a] > data[b] else "no"
            items.append(
                _item(
                    "chart-bar",
                    len(items),
                    question,
                    ["yes", "no"],
                    gold,
                    media,
                    "chart question answering",
                    "compare",
                )  # fmt: skip
            )
        items[-1]["look"] = look
    return items


def _shape(values: list[float], span: float) -> str | None:
    """How a series moves, when it does so plainly (steps against it under 5% of its span)."""
    steps = np.diff(values)
    tol = 0.05 * span
    if np.all(steps > -tol) and values[-1] - values[0] > 0.3 * span:
        return "it rises"
    if np.all(steps < tol) and values[0] - values[-1] > 0.3 * span:
        return "it falls"
    top, low = int(np.argmax(values)), int(np.argmin(values))
    if 1 < top < len(values) - 2 and np.all(steps[:top] > -tol) and np.all(steps[top:] < tol):
        return "it rises, then falls"
    if 1 < low < len(values) - 2 and np.all(steps[:low] < tol) and np.all(steps[low:] > -tol):
        return "it falls, then rises"
    return None


SHAPES = ["it rises", "it falls", "it rises, then falls", "it falls, then rises"]


def line_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    folder = root / "charts"
    folder.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    sets = series_sets(cache)
    for k in range(2 * n):
        if len(items) >= n:
            break
        title, val, series = sets[k % len(sets)]
        name = rng.choice(list(series))
        points = series[name]
        years, values = list(points), list(points.values())
        span = max(values) - min(values)
        if span <= 0 or len(years) < 4:
            continue
        kind = k % 4
        label = name if len(series) > 1 else val
        if kind in (0, 1):
            idx = int(np.argmax(values) if kind == 0 else np.argmin(values))
            rest = sorted(values, reverse=kind == 0)
            if abs(rest[0] - rest[1]) < 0.04 * span:
                continue
            verb = "peak" if kind == 0 else "reach its lowest point"
            question = f"In which year does {label} {verb}?"
            options = _others(str(years[idx]), [str(y) for y in years], rng)
            gold, sub = str(years[idx]), "peak" if kind == 0 else "bottom"
        elif kind == 2:
            shape = _shape(values, span)
            if shape is None:
                continue
            question = f"How does {label} change over the years shown?"
            options, gold, sub = list(SHAPES), shape, "trend"
            rng.shuffle(options)
        else:
            year = rng.choice(years)
            options = _value_options(_round(points[year]), max(values), rng)
            if options is None:
                continue
            gold = _fmt(_round(_round(points[year])))
            question = f"About what was {label} in {year}?"
            sub = "value"
        path = folder / f"line-{k:03d}.png"
        look = _line_chart(path, rng, title, val, series)
        media = [{"type": "image", "path": str(path.relative_to(root))}]
        items.append(
            _item(
                "chart-line",
                len(items),
                question,
                options,
                gold,
                media,
                "chart question answering",
                sub,
            )  # fmt: skip
        )
        items[-1]["look"] = look
    return items


def pie_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    folder = root / "charts"
    folder.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    sets = [s for s in categorical_sets(cache) if 3 <= len(s[3]) <= 6]
    for k in range(2 * n):
        if len(items) >= n:
            break
        title, cat, _val, data = sets[k % len(sets)]
        total = sum(data.values())
        shares = {c: 100.0 * v / total for c, v in data.items()}
        names = list(shares)
        kind = k % 3
        if kind == 0:
            c = rng.choice(names)
            gold_share = round(shares[c])
            picks = [gold_share]
            for d in rng.sample([-30, -20, -12, 12, 20, 30], 6):
                p = gold_share + d
                if 0 < p < 100 and all(abs(p - q) >= 8 for q in picks):
                    picks.append(p)
                if len(picks) == 4:
                    break
            if len(picks) < 4:
                continue
            options = [f"{p}%" for p in picks]
            rng.shuffle(options)
            question = f"About what share of the total does {c} have?"
            gold, sub = f"{gold_share}%", "share"
        else:
            ranked = sorted(shares.items(), key=lambda kv: kv[1], reverse=kind == 1)
            if abs(ranked[0][1] - ranked[1][1]) < 2.0:
                continue
            which = "largest" if kind == 1 else "smallest"
            question = f"Which {cat} has the {which} share in the chart?"
            options, gold, sub = _others(ranked[0][0], names, rng), ranked[0][0], which
        path = folder / f"pie-{k:03d}.png"
        look = _pie_chart(path, rng, title, data)
        media = [{"type": "image", "path": str(path.relative_to(root))}]
        items.append(
            _item(
                "chart-pie",
                len(items),
                question,
                options,
                gold,
                media,
                "chart question answering",
                sub,
            )  # fmt: skip
        )
        items[-1]["look"] = look
    return items
