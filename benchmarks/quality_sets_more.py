"""Quality-suite categories for what the system must compute or check, each from a source the
first categories (`quality_sets.py`) do not use:

- table-lookup, table-mode, table-group, table-filter: the Vega datasets (the `vega_datasets`
  wheel, BSD-3; the data sets are public: cars from StatLib, Seattle weather from NOAA, barley
  from Immer et al. 1934, wheat from Playfair, Burtin's antibiotics, driving from the New York
  Times) — a row looked up by its key, the most common value, a group comparison, a filtered
  count, each answer computed with pandas from the table itself;
- yes-no-scenes: pictures drawn here of counted, coloured shapes (the answer is how they were
  drawn): presence, absence, negated questions and counts;
- 3d-size: point clouds sampled from open3d's primitive meshes (boxes, cylinders, cones,
  spheres) made to a drawn size in metres: how tall, wide or deep, with options in m or cm;
- speech-digits-other: spoken digits from Asterisk's French and Spanish prompts (Debian
  `asterisk-core-sounds-fr-wav`, `-es-wav`, CC BY-SA 3.0), options as numerals.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
from quality_sets import _item, _options, _pypi_package, debian_package

# --- tables: Vega datasets ------------------------------------------------------------------

#: file, key column (None: rows have no unique key), what the rows are, in questions
VEGA = {
    "cars": ("cars.json", None, "cars"),
    "seattle-weather": ("seattle-weather.csv", "date", "days"),
    "barley": ("barley.json", None, "rows"),
    "wheat": ("wheat.json", "year", "years"),
    "burtin": ("burtin.json", "Bacteria", "bacteria"),
    "driving": ("driving.json", "year", "years"),
    "crimea": ("crimea.json", "date", "months"),
}


def _words(column: str) -> str:
    return column.replace("_", " ").lower()


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.4g}"


def _vega_tables(cache: Path) -> dict[str, Any]:
    import pandas as pd

    data = _pypi_package("vega_datasets", cache) / "vega_datasets" / "_data"
    tables = {}
    for name, (file, _key, _rows) in VEGA.items():
        path = data / file
        df = (
            pd.read_csv(path)
            if file.endswith(".csv")
            else pd.DataFrame(json.loads(path.read_text()))
        )
        tables[name] = df
    return tables


def table_query_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    """Up to `n` items in each of table-lookup, -mode, -group and -filter."""
    import pandas as pd

    folder = root / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    task = "table question answering"
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in ("lookup", "mode", "group", "filter")}
    for name, df in _vega_tables(cache).items():
        _file, key, rows_word = VEGA[name]
        path = folder / f"vega-{name}.csv"
        df.to_csv(path, index=False)
        media = [{"type": "table", "path": str(path.relative_to(root))}]
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and c != key]
        text = [
            c for c in df.columns if c not in numeric and c != key and 1 < df[c].nunique() <= 12
        ]

        def add(kind: str, question: str, options: list[str], gold: str) -> None:
            out[kind].append(_item(f"table-{kind}", 0, question, options, gold, media, task, name))

        # a row looked up by its key (unique keys only)
        if key is not None and df[key].is_unique:
            for _ in range(6):
                row = df.iloc[rng.randrange(len(df))]
                col = rng.choice(numeric)
                gold = _num(row[col])
                pool = sorted({_num(v) for v in df[col].dropna()} - {gold})
                if len(pool) < 3:
                    continue
                shown = str(row[key]).split("T")[0]
                phrasing = rng.choice(
                    [
                        f"What was the {_words(col)} in {shown}?",
                        f"What is the {_words(col)} for {shown}?",
                        f"According to the table, what {_words(col)} does {shown} have?",
                    ]
                )
                add("lookup", phrasing, _options(gold, pool, rng), gold)
        # the most common value of a column, categorical or numeric (no ties)
        for col in text + [c for c in numeric if df[c].nunique() <= 12]:
            counts = df[col].dropna().astype(str).value_counts()
            if len(counts) < 2 or counts.iloc[0] == counts.iloc[1]:
                continue
            gold = counts.index[0]
            values = (
                [_num(float(v)) for v in counts.index] if col in numeric else list(counts.index)
            )
            gold = values[0]
            phrasing = rng.choice(
                [
                    f"Which {_words(col)} is the most common?",
                    f"What is the most frequent {_words(col)} in the table?",
                    f"Which {_words(col)} appears in the most rows?",
                ]
            )
            add("mode", phrasing, _options(gold, values, rng), gold)
        # groups compared by a statistic of a numeric column
        for group in text:
            for col in rng.sample(numeric, min(3, len(numeric))):
                stat, word = rng.choice(
                    [
                        ("mean", "highest average"),
                        ("mean", "lowest average"),
                        ("sum", "largest total"),
                        ("max", "highest maximum"),
                    ]
                )
                per = df.groupby(group)[col].agg(stat).dropna()
                if len(per) < 2:
                    continue
                best = per.idxmin() if word == "lowest average" else per.idxmax()
                ranked = per.sort_values()
                if (
                    abs(ranked.iloc[-1] - ranked.iloc[-2]) < 1e-9
                    or abs(ranked.iloc[0] - ranked.iloc[1]) < 1e-9
                ):
                    continue
                shown = [str(g) for g in per.index]
                add(
                    "group",
                    f"Which {_words(group)} has the {word} {_words(col)}?",
                    _options(str(best), shown, rng),
                    str(best),
                )
        # rows counted under a threshold
        for col in rng.sample(numeric, min(3, len(numeric))):
            values = df[col].dropna()
            if values.nunique() < 5:
                continue
            threshold = float(np.quantile(values, rng.choice([0.25, 0.5, 0.75])))
            threshold = float(_num(round(threshold, 1)))
            above = rng.random() < 0.5
            count = int((values > threshold).sum() if above else (values < threshold).sum())
            pool = [str(count + d) for d in (-7, -3, -2, 2, 3, 5, 9) if count + d >= 0]
            pool += [
                str(int((values <= threshold).sum() if above else (values >= threshold).sum()))
            ]
            what, t = _words(col), _num(threshold)
            side, side2, than = (
                ("above", "over", "greater") if above else ("below", "under", "less")
            )
            phrasing = rng.choice(
                [
                    f"How many {rows_word} have a {what} {side} {t}?",
                    f"In how many rows is the {what} {than} than {t}?",
                    f"How many {rows_word} have {what} {side2} {t}?",
                ]
            )
            add("filter", phrasing, _options(str(count), pool, rng), str(count))
    items: list[dict[str, Any]] = []
    for kind, found in out.items():
        rng.shuffle(found)
        items += [dict(item, id=f"table-{kind}-{i:04d}") for i, item in enumerate(found[:n])]
    return items


# --- pictures: counted shapes, yes/no -------------------------------------------------------

SCENE_COLOURS = {"red": (220, 40, 40), "blue": (40, 80, 220), "green": (40, 170, 60)}
SCENE_SHAPES = ("circle", "square", "triangle")


def _draw_scene(path: Path, objects: list[tuple[str, str]], rng: random.Random) -> None:
    """Shapes on a white 320 x 240 canvas, apart from each other."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (320, 240), "white")
    draw = ImageDraw.Draw(im)
    cells = rng.sample([(c, r) for c in range(5) for r in range(3)], len(objects))
    for (colour, shape), (c, r) in zip(objects, cells):
        x, y, h = 32 + 64 * c, 40 + 80 * r, 20
        fill = SCENE_COLOURS[colour]
        if shape == "circle":
            draw.ellipse((x - h, y - h, x + h, y + h), fill=fill)
        elif shape == "square":
            draw.rectangle((x - h, y - h, x + h, y + h), fill=fill)
        else:
            draw.polygon([(x, y - h), (x - h, y + h), (x + h, y + h)], fill=fill)
    im.save(path)


def yes_no_scene_items(root: Path, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Presence, absence, negated and counting questions, half of them true, about pictures of
    2-7 coloured shapes; the answer comes from what was drawn."""
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    task = "image question answering"
    for i in range(n):
        objects = [
            (rng.choice(list(SCENE_COLOURS)), rng.choice(SCENE_SHAPES))
            for _ in range(rng.randint(2, 7))
        ]
        path = folder / f"scene_{i:03d}.png"
        _draw_scene(path, objects, rng)
        media = [{"type": "image", "path": str(path.relative_to(root))}]
        want_true = i % 2 == 0
        kind = ["presence", "negated", "count"][i % 3]
        present = set(objects)
        absent = [(c, s) for c in SCENE_COLOURS for s in SCENE_SHAPES if (c, s) not in present]
        if kind == "count":
            counts = {shape: sum(s == shape for _, s in objects) for shape in SCENE_SHAPES}
            shape = rng.choice([sh for sh, c in counts.items() if c >= 1])
            count = counts[shape]
            if rng.random() < 0.5 and (count >= 2 or not want_true):
                k = count - 1 if want_true else count
                question = f"Are there more than {k} {shape}s in the picture?"
            else:
                k = count if want_true else rng.choice([count + 1, max(0, count - 1) or 2])
                question = f"Are there exactly {k} {shape}s in the picture?"
            answer = "yes" if want_true else "no"
        else:
            holds = want_true if kind == "presence" else not want_true
            pool = sorted(present) if holds else absent
            colour, shape = rng.choice(pool)
            if kind == "presence":
                question = f"Is there a {colour} {shape} in the picture?"
                answer = "yes" if holds else "no"
            else:
                question = rng.choice(
                    [
                        f"Is there no {colour} {shape} in the picture?",
                        f"Does the picture not show a {colour} {shape}?",
                    ]
                )
                answer = "no" if holds else "yes"
        items.append(
            dict(
                _item("yes-no-scenes", i, question, ["yes", "no"], answer, media, task, kind),
                id=f"yes-no-scenes-{i:04d}",
            )
        )
    return items


# --- 3D: sizes of primitives -----------------------------------------------------------------


def size_items(root: Path, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """How tall / wide / deep an object is, in metres, from point clouds sampled on open3d's
    primitive meshes made to a drawn size; options at least 1.5x apart, some in centimetres."""
    import open3d as o3d

    folder = root / "points"
    folder.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    task = "3D question answering"
    sizes = [0.05, 0.1, 0.2, 0.3, 0.45, 0.7, 1.0, 1.5, 2.2, 3.3, 5.0]
    for i in range(n):
        w, d, h = (rng.choice(sizes) * rng.uniform(0.9, 1.1) for _ in range(3))
        kind = rng.choice(["box", "cylinder", "cone", "sphere"])
        if kind == "box":
            mesh = o3d.geometry.TriangleMesh.create_box(w, d, h)
        elif kind == "sphere":
            mesh = o3d.geometry.TriangleMesh.create_sphere(0.5)
            w = d = h
        else:
            maker = (
                o3d.geometry.TriangleMesh.create_cylinder
                if kind == "cylinder"
                else (o3d.geometry.TriangleMesh.create_cone)
            )
            mesh = maker(radius=0.5, height=1.0)
            w = d
        o3d.utility.random.seed(i)  # repeatable samples
        pts = np.asarray(mesh.sample_points_uniformly(4000).points)
        extent = pts.max(axis=0) - pts.min(axis=0)
        pts = (pts - pts.min(axis=0)) / np.maximum(extent, 1e-9) * np.array([w, d, h])
        path = folder / f"primitive_{i:03d}.npy"
        np.save(path, pts.astype(np.float32))
        media = [{"type": "points", "path": str(path.relative_to(root))}]
        dim, value = rng.choice([("tall", h), ("wide", w), ("deep", d)])
        noun = {"tall": "height", "wide": "width", "deep": "depth"}[dim]
        question = rng.choice(
            [f"How {dim} is the object?", f"What is the {noun} of the object in metres?"]
        )
        centimetres = rng.random() < 0.3

        def fmt(x: float) -> str:
            return f"{round(x * 100):d} cm" if centimetres else f"{x:.2g} m"

        others = [value * f for f in (0.25, 0.4, 0.6, 1.7, 2.5, 4.0)]
        gold = fmt(value)
        options = _options(gold, [fmt(x) for x in others], rng)
        items.append(
            dict(
                _item("3d-size", i, question, options, gold, media, task, kind),
                id=f"3d-size-{i:04d}",
            )
        )
    return items


# --- speech: digits in French and Spanish -----------------------------------------------


def foreign_digit_items(
    root: Path, n: int, rng: random.Random, cache: Path
) -> list[dict[str, Any]]:
    """'Which number is spoken?' over Asterisk's French and Spanish digit prompts (0-9)."""
    import shutil

    folder = root / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    task = "spoken question answering"
    for lang in ("fr", "es"):
        package = debian_package(f"asterisk-core-sounds-{lang}-wav", cache)
        digits = sorted(package.rglob("digits/[0-9].wav"))
        for path in digits:
            target = folder / f"digit-{lang}-{path.stem}.wav"
            shutil.copy(path, target)
            gold = path.stem
            options = _options(gold, [str(d) for d in range(10)], rng)
            media = [{"type": "audio", "path": str(target.relative_to(root))}]
            items.append(
                _item(
                    "speech-digits-other",
                    0,
                    "Which number is spoken?",
                    options,
                    gold,
                    media,
                    task,
                    lang,
                )
            )
    rng.shuffle(items)
    return [dict(item, id=f"speech-digits-other-{i:04d}") for i, item in enumerate(items[:n])]
