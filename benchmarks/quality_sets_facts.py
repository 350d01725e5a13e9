"""Quality-suite categories for facts read off the data itself, each from sources the earlier
categories (`quality_sets.py`, `quality_sets_more.py`) do not use; every answer is computed from
the data's own labels and values, never from what an expert or a model says:

- ranges: how long a sound lasts, from the freedesktop sound theme's clips (Debian
  `sound-theme-freedesktop`; CC BY-SA 3.0, CC BY 3.0, GPL-2+ per file, as its copyright file
  lists), the duration decoded from the file; and a table column's mean, from statsmodels'
  bundled data sets (the `statsmodels` wheel, BSD-3; statecrime, longley and stackloss are public
  domain, committee, copper, cpunish, scotvote and ccard are "used with express permission of
  the original author") -- each answered with one of four adjacent ranges;
- axes: along which axis a scan is longest or shortest, from point clouds sampled on CGAL's
  example meshes that the `3d` category does not use (Debian `libcgal-demo`, GPL-3+/LGPL-3+) and
  on assimp's test models (Debian `assimp-testmodels`, BSD-3), from the sampled cloud's extent;
- extremes: which key (state, committee, year) has the highest or lowest value of a column, in
  statsmodels' statecrime, committee, cpunish, copper, nile, sunspots and longley tables (nile,
  sunspots: public domain);
- table-compare: yes/no, is one group's mean higher or lower than another's, in statsmodels'
  grunfeld (public domain), fair ("included with permission of the author"), spector ("used
  with express permission"), ccard and macrodata (public domain) tables;
- table-compound: counts of rows under two conditions joined by "and" or "or", in statsmodels'
  statecrime, grunfeld, fair, macrodata and anes96 (public domain) tables;
- spoken: which letter or number one speaker says, from Asterisk's letter and digit prompts
  (Debian `asterisk-core-sounds-en-wav`, CC BY-SA 3.0), distractors partly rhyming letters;
- kinds: what kind of thing (tool, fish, bird, mammal, reptile) and which animal a picture shows,
  from GCompris' categorization and explore-animals pictures (Debian `gcompris-qt-data`, GPL-3
  / CC BY-SA per file, read from its Qt resource bundles); the animals' kinds are the table below;
- open: what a picture shows, without options, from the same GCompris animal photos, its tool
  pictures and its vocabulary drawings (`lang.rcc`); the answer is the picture's own name and
  `accept` lists the names that also count: the name's WordNet 3.0 synonyms and hypernyms up to
  three levels up (from `mexa_ray.reasoning.lexicon`; Princeton's WordNet licence). The sense is
  WordNet's own order of senses (Debian `wordnet-base`'s index), first among those fitting what
  the picture set shows (an animal, a tool), since the lexicon's rows are in file order, not in
  sense order ("head" would otherwise be read in a sense no picture shows).
"""

from __future__ import annotations

import io
import random
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from quality_sets import CGAL_MESHES, _item, _options, _pypi_package, debian_package, qt_resources

# --- shared helpers ----------------------------------------------------------------------------


def _words(column: str) -> str:
    return column.replace("_", " ").lower()


def _balanced(groups: list[list[dict[str, Any]]], n: int, rng: random.Random) -> list[dict]:
    """Up to n items taken in turn from each shuffled group, so no source crowds out the rest."""
    pools = [list(g) for g in groups if g]
    for pool in pools:
        rng.shuffle(pool)
    out: list[dict[str, Any]] = []
    while len(out) < n and any(pools):
        for pool in pools:
            if pool and len(out) < n:
                out.append(pool.pop())
    rng.shuffle(out)
    return out


def _numbered(items: list[dict[str, Any]], category: str) -> list[dict[str, Any]]:
    return [dict(item, id=f"{category}-{i:04d}") for i, item in enumerate(items)]


def _range_options(
    value: float, edges: list[float], margin: float, rng: random.Random, unit: str = ""
) -> tuple[list[str], str] | None:
    """Four adjacent ranges around `value` on a ladder of edges: three consecutive edges shown,
    the outer ranges open ("less than A", "A to B", "B to C", "more than C"), so exactly one
    holds; the window is drawn so the value's range sits at a random place. None when every
    window has an edge within `margin` (relative) of the value: too close to call."""
    above = sum(e <= value for e in edges)  # the value's place among the edges
    windows = [
        j
        for j in range(max(0, above - 3), min(above, len(edges) - 3) + 1)
        if not any(abs(value - e) <= margin * e for e in edges[j : j + 3])
    ]
    if not windows:
        return None
    j = rng.choice(windows)
    a, b, c = (f"{e:g}" for e in edges[j : j + 3])

    def per(x: str) -> str:  # "1 second", "2 seconds"
        return unit[:-1] if x == "1" and unit.endswith("seconds") else unit

    options = [
        f"less than {a}{per(a)}",
        f"{a} to {b}{per(b)}",
        f"{b} to {c}{per(c)}",
        f"more than {c}{per(c)}",
    ]
    return options, options[above - j]


# --- statsmodels' bundled tables ------------------------------------------------------------


def _statsmodels_table(name: str, cache: Path) -> Any:
    """A statsmodels data set as a DataFrame with clean column names: its CSVs use commas,
    spaces or tabs and sometimes quote their headers; whole-number float columns become ints."""
    import pandas as pd

    folder = _pypi_package("statsmodels", cache) / "statsmodels" / "datasets" / name
    file = "scotvote.csv" if name == "scotland" else f"{name}.csv"
    df = pd.read_csv(folder / file, sep=None, engine="python")
    df.columns = [str(c).strip().strip("'\"").strip() for c in df.columns]
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            df[col] = df[col].astype(str).str.strip().str.strip("'\"")
            numbers = pd.to_numeric(df[col], errors="coerce")
            if numbers.notna().all():
                df[col] = numbers
        if pd.api.types.is_float_dtype(df[col]) and df[col].notna().all():
            if (df[col] == df[col].round()).all():
                df[col] = df[col].astype("int64")
    return df


def _write_table(root: Path, name: str, df: Any) -> list[dict[str, str]]:
    folder = root / "facts-tables"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    df.to_csv(path, index=False)
    return [{"type": "table", "path": str(path.relative_to(root))}]


def _numeric(df: Any, skip: tuple[str, ...] = ()) -> list[str]:
    """Numeric columns that are measurements: not keys, counters or 0/1 codes."""
    import pandas as pd

    return [
        c
        for c in df.columns
        if c not in skip and pd.api.types.is_numeric_dtype(df[c]) and df[c].nunique() > 2
    ]


# --- ranges: durations and means ----------------------------------------------------------------

DURATION_EDGES = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
#: "nice" edges for means: 1, 2 and 5 times a power of ten
MEAN_EDGES = [float(f"{m}e{k}") for k in range(-3, 9) for m in (1, 2, 5)]
MEAN_TABLES = (
    "statecrime",
    "committee",
    "copper",
    "cpunish",
    "longley",
    "stackloss",
    "scotland",
    "ccard",
)
#: columns that count rows or name them, never asked about
KEYLIKE = ("Obs", "OBS", "TIME", "YEAR", "year")


def _seconds(path: Path) -> float:
    """A recording's length, from its decoded samples."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.rate


def range_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    """How long a sound lasts and what a table column's mean is, each as one of four ranges."""
    sounds = debian_package("sound-theme-freedesktop", cache)
    folder = root / "facts-audio"
    folder.mkdir(parents=True, exist_ok=True)
    durations: list[dict[str, Any]] = []
    for clip in sorted((sounds / "usr/share/sounds/freedesktop/stereo").glob("*.oga")):
        unit = rng.choice([" s", " seconds"])
        found = _range_options(_seconds(clip), DURATION_EDGES, 0.05, rng, unit)
        if found is None:
            continue
        options, gold = found
        path = folder / clip.name
        shutil.copy(clip, path)
        question = rng.choice(
            [
                "How long is this recording?",
                "How long does this sound last?",
                "What is the duration of this clip?",
                "About how many seconds does this sound play for?",
            ]
        )
        media = [{"type": "audio", "path": str(path.relative_to(root))}]
        durations.append(
            _item(
                "ranges", 0, question, options, gold, media, "audio question answering", "duration"
            )
        )
    means: list[dict[str, Any]] = []
    for name in MEAN_TABLES:
        df = _statsmodels_table(name, cache)
        media = _write_table(root, name, df)
        for col in _numeric(df, KEYLIKE):
            mean = float(df[col].mean())
            if mean <= 0:
                continue
            found = _range_options(mean, MEAN_EDGES, 0.03, rng)
            if found is None:
                continue
            options, gold = found
            w = _words(col)
            question = rng.choice(
                [
                    f"What is the average {w}?",
                    f"What is the mean value of {w}?",
                    f"What is the average {w} in the table?",
                    f"Across all rows, what is the mean {w}?",
                ]
            )
            means.append(
                _item("ranges", 0, question, options, gold, media, "table question answering", name)
            )
    return _numbered(_balanced([durations, means], n, rng), "ranges")


# --- axes: point clouds' longest and shortest sides -----------------------------------------

AXIS_STYLES = (["x", "y", "z"], ["x axis", "y axis", "z axis"])
AXIS_STYLES += (["width (x)", "depth (y)", "height (z)"],)
LONGEST = (
    "Along which axis is this object longest?",
    "Which axis does the object extend furthest along?",
    "Along which axis is the point cloud's extent largest?",
    "In which direction is this scan longest?",
)
SHORTEST = (
    "Along which axis is the object shortest?",
    "In which direction is the scan thinnest?",
    "Along which axis does the object extend least?",
    "Which axis has the smallest extent for this object?",
)


def _mesh_files(cache: Path) -> list[tuple[str, str, bytes]]:
    """(name, suffix, bytes) of CGAL's meshes the `3d` category leaves out and of assimp's test
    models in formats open3d reads (its deliberately broken files left out)."""
    import tarfile

    out = []
    cgal = debian_package("libcgal-demo", cache)
    with tarfile.open(cgal / "usr/share/doc/libcgal-dev/data.tar.gz") as tar:
        for member in tar:
            path = Path(member.name)
            if (
                member.isfile()
                and member.name.startswith("data/meshes/")
                and path.suffix == ".off"
                and path.stem not in CGAL_MESHES
            ):
                out.append((f"cgal-{path.stem}", ".off", tar.extractfile(member).read()))
    models = debian_package("assimp-testmodels", cache) / "usr/share/assimp/models"
    for path in sorted(models.rglob("*")):
        suffix = path.suffix.lower()
        if (
            path.is_file()
            and suffix in (".off", ".ply", ".stl", ".obj")
            and "invalid" not in (path.parts)
        ):
            out.append((f"assimp-{path.stem}", suffix, path.read_bytes()))
    return out


def axis_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    """Which axis a scan is longest (or shortest) along, from the extent of 20000 points sampled
    on each mesh; only where the answer is clear (longest > 1.15 x the next, shortest < 0.87 x
    the next). A seeded sample of up to n, half of each question where there are enough."""
    import open3d as o3d

    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    folder = root / "facts-points"
    folder.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[dict[str, Any]]] = {"longest": [], "shortest": []}
    seen: set[tuple[float, ...]] = set()
    with tempfile.TemporaryDirectory() as tmp:
        for name, suffix, raw in _mesh_files(cache):
            source = Path(tmp) / f"mesh{suffix}"
            source.write_bytes(raw)
            try:
                mesh = o3d.io.read_triangle_mesh(str(source))
            except Exception:  # noqa: BLE001 - a file open3d cannot parse is skipped
                continue
            if not mesh.has_triangles() or len(mesh.triangles) < 50:
                continue  # empty, unreadable, or a test cube or triangle
            o3d.utility.random.seed(0)
            cloud = mesh.sample_points_uniformly(20000)
            extent = np.asarray(cloud.get_axis_aligned_bounding_box().get_extent())
            if not np.isfinite(extent).all() or extent.max() <= 0:
                continue
            shape = tuple(np.round(extent / extent.max(), 2))
            if shape in seen:
                continue  # the same model in another format
            seen.add(shape)
            order = np.argsort(extent)
            clear = {
                "longest": extent[order[2]] > 1.15 * extent[order[1]],
                "shortest": extent[order[0]] < 0.87 * extent[order[1]],
            }
            if not any(clear.values()):
                continue
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
            path = folder / f"{safe}.ply"
            o3d.io.write_point_cloud(str(path), cloud)
            media = [{"type": "points", "path": str(path.relative_to(root))}]
            for kind, ok in clear.items():
                if not ok:
                    continue
                axis = int(order[2] if kind == "longest" else order[0])
                style = rng.choice(AXIS_STYLES)
                options = list(style)
                rng.shuffle(options)
                question = rng.choice(LONGEST if kind == "longest" else SHORTEST)
                found[kind].append(
                    _item(
                        "axes",
                        0,
                        question,
                        options,
                        style[axis],
                        media,
                        "3D object question answering",
                        kind,
                    )
                )
    return _numbered(_balanced(list(found.values()), n, rng), "axes")


# --- extremes: which key has the highest or lowest value ------------------------------------

#: table -> (key column, what a key is, in questions)
EXTREME_TABLES = {
    "statecrime": ("state", "state"),
    "committee": ("COMMITTEE", "committee"),
    "cpunish": ("STATE", "state"),
    "copper": ("YEAR", "year"),
    "nile": ("year", "year"),
    "sunspots": ("YEAR", "year"),
    "longley": ("YEAR", "year"),
}


def _extreme_question(kind: str, key: str, w: str, rng: random.Random) -> str:
    high = kind == "max"
    if key == "year":
        return rng.choice(
            [
                f"In which year was {w} {'highest' if high else 'lowest'}?",
                f"Which year had the {'highest' if high else 'lowest'} {w}?",
                f"In which year did {w} reach its {'maximum' if high else 'minimum'}?",
            ]
        )
    return rng.choice(
        [
            f"Which {key} has the {'highest' if high else 'lowest'} {w}?",
            f"Which {key} has the {'largest' if high else 'smallest'} {w} in the table?",
            f"According to the table, which {key} has the {'highest' if high else 'lowest'} "
            f"value of {w}?",
        ]
    )


def extreme_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    """Which key has the highest or lowest value of a column (over the whole table), and which
    of four shown keys has the largest or smallest; ties are skipped."""
    task = "table question answering"
    groups: list[list[dict[str, Any]]] = []
    for name, (key, key_word) in EXTREME_TABLES.items():
        df = _statsmodels_table(name, cache)
        media = _write_table(root, name, df)
        keys = df[key].astype(str).tolist()
        found: list[dict[str, Any]] = []
        for col in _numeric(df, KEYLIKE + (key,)):
            values = df[col]
            w = _words(col)
            for kind in ("max", "min"):
                # over the whole table
                extreme = values.max() if kind == "max" else values.min()
                if (values == extreme).sum() == 1:
                    gold = keys[int(values.idxmax() if kind == "max" else values.idxmin())]
                    ranked = values.sort_values(ascending=kind == "min").index.tolist()
                    near = [keys[i] for i in ranked[1:5]]
                    rest = [k for k in keys if k != gold and k not in near]
                    pool = rng.sample(near, 1) + rng.sample(rest, min(2, len(rest)))
                    question = _extreme_question(kind, key_word, w, rng)
                    found.append(
                        _item(
                            "extremes",
                            0,
                            question,
                            _options(gold, pool, rng, 4),
                            gold,
                            media,
                            task,
                            f"{name}-{kind}",
                        )
                    )
                # among four shown rows
                rows = rng.sample(range(len(df)), 4)
                shown = values.iloc[rows]
                extreme = shown.max() if kind == "max" else shown.min()
                if (shown == extreme).sum() != 1 or len({keys[i] for i in rows}) < 4:
                    continue
                gold = keys[int(shown.idxmax() if kind == "max" else shown.idxmin())]
                options = [keys[i] for i in rows]
                plural = "years" if key_word == "year" else f"{key_word}s"
                word = rng.choice(
                    ["largest", "highest"] if kind == "max" else ["smallest", "lowest"]
                )
                question = rng.choice(
                    [
                        f"Which of these {plural} has the {word} {w}?",
                        f"Among these {plural}, which has the {word} {w}?",
                    ]
                )
                found.append(
                    _item("extremes", 0, question, options, gold, media, task, f"{name}-among")
                )
        groups.append(found)
    return _numbered(_balanced(groups, n, rng), "extremes")


# --- table-compare: one group's mean against another's ----------------------------------------

#: table -> (group columns, numeric columns)
COMPARE_TABLES = {
    "grunfeld": (["firm"], ["invest", "value", "capital"]),
    "fair": (
        ["religious", "occupation", "rate_marriage"],
        ["age", "yrs_married", "children", "educ", "affairs"],
    ),
    "spector": (["PSI"], ["GPA", "TUCE", "GRADE"]),
    "ccard": (["OWNRENT"], ["AVGEXP", "AGE", "INCOME"]),
    "macrodata": (
        ["quarter"],
        ["realgdp", "realcons", "realinv", "realgovt", "cpi", "m1", "tbilrate", "unemp", "infl"],
    ),
}


def compare_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    """Is one group's mean of a column higher (lower) than another's: yes/no, half each, pairs
    whose means differ by less than 2% skipped."""
    task = "table question answering"
    groups: list[list[tuple]] = []
    for name, (group_cols, nums) in COMPARE_TABLES.items():
        df = _statsmodels_table(name, cache)
        media = _write_table(root, name, df)
        found = []
        for group in group_cols:
            for col in nums:
                means = df.groupby(group)[col].mean()
                labels = list(means.index)
                for i, a in enumerate(labels):
                    for b in labels[i + 1 :]:
                        ma, mb = float(means[a]), float(means[b])
                        if abs(ma - mb) < 0.02 * max(abs(ma), abs(mb)):
                            continue
                        found.append((media, name, group, col, a, b, ma, mb))
        groups.append(found)
    picked = _balanced([[{"row": r} for r in g] for g in groups], n, rng)
    items = []
    for i, entry in enumerate(picked):
        media, name, group, col, a, b, ma, mb = entry["row"]
        if rng.random() < 0.5:
            a, b, ma, mb = b, a, mb, ma
        higher = rng.random() < 0.5
        want = "yes" if i % 2 == 0 else "no"
        if ("yes" if (ma > mb) == higher else "no") != want:
            a, b = b, a  # the other order flips the answer
        g, w = _words(group), _words(col)
        templates = (
            [
                f"Is the mean {w} where {g} is '{a}' higher than where {g} is '{b}'?",
                f"Do rows with {g} equal to {a} have a higher mean {w} than rows with {g} "
                f"equal to {b}?",
                f"Is the average {w} for {g} {a} higher than for {g} {b}?",
            ]
            if higher
            else [
                f"Is the average {w} for {g} {a} lower than for {g} {b}?",
                f"Is the mean {w} where {g} is '{a}' lower than where {g} is '{b}'?",
                f"Do rows with {g} equal to {a} have a lower mean {w} than rows with {g} "
                f"equal to {b}?",
            ]
        )
        items.append(
            _item("table-compare", i, rng.choice(templates), ["yes", "no"], want, media, task, name)
        )
    return items


# --- table-compound: counts under two conditions ------------------------------------------------

#: table -> (what a row is, categorical columns, numeric columns)
COMPOUND_TABLES = {
    "statecrime": ("states", [], ["violent", "murder", "hs_grad", "poverty", "single", "urban"]),
    "grunfeld": ("rows", ["firm", "year"], ["invest", "value", "capital"]),
    "fair": (
        "rows",
        ["religious", "occupation", "rate_marriage", "occupation_husb"],
        ["age", "yrs_married", "children", "educ", "affairs"],
    ),
    "macrodata": ("quarters", ["year", "quarter"], ["realgdp", "cpi", "unemp", "tbilrate", "m1"]),
    "anes96": ("respondents", ["PID", "educ", "vote"], ["popul", "age", "TVnews", "income"]),
}


def _decimals(values: Any) -> int:
    """The column's precision: the fewest decimals (at most 2) that write its values."""
    for d in range(3):
        if np.allclose(values, np.round(values, d)):
            return d
    return 2


def _threshold(values: Any, rng: random.Random) -> tuple[float, str]:
    d = _decimals(values.to_numpy(dtype=float))
    t = round(float(np.quantile(values, rng.choice([0.25, 0.4, 0.5, 0.6, 0.75]))), d)
    return t, (str(int(t)) if d == 0 else f"{t:.{d}f}")


def _count_options(gold: int, dropped: list[int], rng: random.Random) -> list[str]:
    """The gold count, perhaps one count with a condition dropped, and near counts."""
    others = [c for c in dict.fromkeys(dropped) if c != gold]
    picked = rng.sample(others, 1) if others and rng.random() < 0.6 else []
    step = max(1, round(gold * 0.08))
    near = [gold + k * step for k in (-3, -2, -1, 1, 2, 3)]
    near = [c for c in near if c >= 0 and c != gold and c not in picked]
    picked += rng.sample(near, 3 - len(picked))
    options = [str(c) for c in picked + [gold]]
    rng.shuffle(options)
    return options


def compound_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    """How many rows meet two conditions (category and threshold, two thresholds, or either of
    two categories); the other options are counts with one condition dropped and near counts."""
    task = "table question answering"
    tables = {}
    for name in COMPOUND_TABLES:
        df = _statsmodels_table(name, cache)
        tables[name] = (df, _write_table(root, name, df))
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    names = list(COMPOUND_TABLES)
    for attempt in range(40 * n):
        if len(items) >= n:
            break
        name = names[attempt % len(names)]
        rows, cats, nums = COMPOUND_TABLES[name]
        df, media = tables[name]
        kinds = ["two-thresholds"] + (["and"] if cats else []) + (["or"] if len(cats) > 1 else [])
        kind = rng.choice(kinds)
        if kind == "and":
            a, c = rng.choice(cats), rng.choice(nums)
            v = rng.choice(sorted(df[a].unique().tolist()))
            t, ts = _threshold(df[c], rng)
            greater = rng.random() < 0.5
            first = df[a] == v
            second = df[c] > t if greater else df[c] < t
            than = "greater than" if greater else "less than"
            question = rng.choice(
                [
                    f"How many {rows} have {_words(a)} equal to '{v}' and {_words(c)} {than} {ts}?",
                    f"Among {rows} with {_words(a)} '{v}', how many have {_words(c)} {than} {ts}?",
                ]
            )
        elif kind == "two-thresholds":
            c1, c2 = rng.sample(nums, 2)
            t1, s1 = _threshold(df[c1], rng)
            t2, s2 = _threshold(df[c2], rng)
            first, second = df[c1] > t1, df[c2] < t2
            question = rng.choice(
                [
                    f"How many {rows} have {_words(c1)} above {s1} and {_words(c2)} below {s2}?",
                    f"In how many {rows} is {_words(c1)} greater than {s1} while {_words(c2)} "
                    f"is less than {s2}?",
                ]
            )
        else:
            a, b = rng.sample(cats, 2)
            v = rng.choice(sorted(df[a].unique().tolist()))
            u = rng.choice(sorted(df[b].unique().tolist()))
            first, second = df[a] == v, df[b] == u
            question = rng.choice(
                [
                    f"How many {rows} have {_words(a)} equal to '{v}' or {_words(b)} equal to "
                    f"'{u}'?",
                    f"Count the {rows} where {_words(a)} is '{v}' or {_words(b)} is '{u}'.",
                ]
            )
        if question in seen:
            continue
        seen.add(question)
        if kind == "or":
            gold = int((first | second).sum())
            dropped = [int(first.sum()), int(second.sum()), int((first & second).sum())]
        else:
            gold = int((first & second).sum())
            dropped = [int(first.sum()), int(second.sum())]
        options = _count_options(gold, dropped, rng)
        items.append(
            _item("table-compound", len(items), question, options, str(gold), media, task, kind)
        )
    return items


# --- spoken: letters and numbers ------------------------------------------------------------

#: letters whose names rhyme, the likeliest to be heard for each other
RHYMES = ("BCDEGPTVZ", "FLMNSX", "AHJK", "IY", "QUW", "OR")


def spoken_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    """Which letter (a-z) or number (0-20) one speaker says; letter options are partly letters
    whose names rhyme with the spoken one."""
    package = debian_package("asterisk-core-sounds-en-wav", cache)
    voice = package / "usr/share/asterisk/sounds/en_US_f_Allison"
    folder = root / "facts-spoken"
    folder.mkdir(parents=True, exist_ok=True)
    task = "audio question answering"
    letters, numbers = [], []
    for letter in "abcdefghijklmnopqrstuvwxyz":
        source = voice / "letters" / f"{letter}.wav"
        if not source.exists():
            continue
        path = folder / f"letter-{letter}.wav"
        shutil.copy(source, path)
        gold = letter.upper()
        rhyme = next(g for g in RHYMES if gold in g)
        close = [x for x in rhyme if x != gold]
        pool = rng.sample(close, min(len(close), rng.choice([1, 2])))
        rest = [x for x in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if x != gold and x not in pool]
        options = pool + rng.sample(rest, 3 - len(pool)) + [gold]
        rng.shuffle(options)
        question = rng.choice(
            [
                "Which letter does the speaker say?",
                "Which letter is spoken?",
                "What letter is said in this recording?",
            ]
        )
        media = [{"type": "audio", "path": str(path.relative_to(root))}]
        letters.append(_item("spoken", 0, question, options, gold, media, task, "letter"))
    for number in range(21):
        source = voice / "digits" / f"{number}.wav"
        if not source.exists():
            continue
        path = folder / f"number-{number}.wav"
        shutil.copy(source, path)
        gold = str(number)
        question = rng.choice(
            [
                "Which number is spoken?",
                "What number does the speaker say?",
                "Which number do you hear in this recording?",
            ]
        )
        media = [{"type": "audio", "path": str(path.relative_to(root))}]
        options = _options(gold, [str(x) for x in range(21)], rng)
        numbers.append(_item("spoken", 0, question, options, gold, media, task, "number"))
    return _numbered(_balanced([letters, numbers], n, rng), "spoken")


# --- pictures from GCompris: kinds and open names -----------------------------------------------

KINDS = ("tool", "fish", "bird", "mammal", "reptile", "vehicle", "fruit", "building")
#: GCompris' explore-animals photos that are not mammals (the dragon, a Komodo dragon whose
#: name reads as the myth's, is left out)
ANIMAL_KINDS = {
    "chicken": "bird",
    "duck": "bird",
    "owl": "bird",
    "scarlet_macaw": "bird",
    "chameleon": "reptile",
    "crocodile": "reptile",
    "dragon": None,
}
RCC = "usr/share/gcompris-qt/rcc"
#: tool pictures whose names WordNet spells otherwise
TOOL_NAMES = {"screw driver": "screwdriver", "plier": "pliers", "tweezer": "tweezers"}
#: vocabulary drawings left out: colours (a paint splash, no thing to name) and the dragon (a
#: myth's, which WordNet's physical nouns do not hold: only a lizard of that name)
NOT_DRAWN = {"black", "blue", "brown", "color", "gray", "green", "mauve", "orange-color", "pink"}
NOT_DRAWN |= {"red", "white", "yellow", "dragon"}
#: vocabulary drawings named in the plural where WordNet's plural is another thing ("flies",
#: the space above a stage)
DRAWN_NAMES = {"flies": "fly"}
#: pictures whose sense WordNet lists after another animal of the same name (a dolphinfish, a
#: porcupine): the kind the pictured one is
SENSE_KINDS = {"dolphin": "toothed whale", "hedgehog": "insectivore"}


def _png(body: bytes, path: Path) -> None:
    """A webp picture as PNG, transparent parts on white."""
    from PIL import Image

    im = Image.open(io.BytesIO(body)).convert("RGBA")
    canvas = Image.new("RGB", im.size, (255, 255, 255))
    canvas.paste(im, (0, 0), im)
    canvas.save(path)


def _pictures(
    root: Path, cache: Path, bundle: str, inside: str, bodies: dict[Path, bytes]
) -> list[tuple[str, Path]]:
    """(file stem, where its PNG goes under root/facts-images) for a bundle's webp pictures in
    a folder; the pictures wait in `bodies` until `_write_pictures` writes the ones used."""
    package = debian_package("gcompris-qt-data", cache)
    out = []
    for name, body in sorted(qt_resources(package / RCC / bundle).items()):
        if not name.endswith(".webp") or f"/{inside}/" not in name:
            continue
        stem = Path(name).stem
        path = root / "facts-images" / f"{Path(bundle).stem}-{stem}.png"
        bodies[path] = body
        out.append((stem, path))
    return out


def _write_pictures(root: Path, items: list[dict[str, Any]], bodies: dict[Path, bytes]) -> None:
    (root / "facts-images").mkdir(parents=True, exist_ok=True)
    for item in items:
        for media in item["media"]:
            path = root / media["path"]
            if not path.exists():
                _png(bodies[path], path)


def _animals(root: Path, cache: Path, bodies: dict[Path, bytes]) -> list[tuple[str, Path]]:
    return _pictures(root, cache, "explore_world_animals.rcc", "animals", bodies) + _pictures(
        root, cache, "explore_farm_animals.rcc", "animals", bodies
    )


def kind_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    """What kind of thing a picture shows (tool, fish, bird, mammal, reptile), and which animal
    an animal photo shows."""
    task = "image question answering"
    bodies: dict[Path, bytes] = {}
    tools = _pictures(root, cache, "categorization.rcc", "tools", bodies)
    fishes = _pictures(root, cache, "categorization.rcc", "fishes", bodies)
    animals = [
        (s, p) for s, p in _animals(root, cache, bodies) if ANIMAL_KINDS.get(s, "") is not None
    ]
    names = sorted({s.replace("_", " ") for s, _ in animals})

    def kind_item(path: Path, kind: str, sub: str) -> dict[str, Any]:
        article = rng.random() < 0.5
        shown = [f"a {k}" if article else k for k in KINDS]
        gold = f"a {kind}" if article else kind
        question = rng.choice(
            [
                "What kind of thing is shown in this picture?",
                "Which of these is in the photo?",
                "What is this a picture of?",
            ]
        )
        media = [{"type": "image", "path": str(path.relative_to(root))}]
        return _item("kinds", 0, question, _options(gold, shown, rng), gold, media, task, sub)

    groups = [
        [kind_item(p, "tool", "tool") for _, p in tools],
        [kind_item(p, "fish", "fish") for _, p in fishes],
        [kind_item(p, ANIMAL_KINDS.get(s) or "mammal", "animal-kind") for s, p in animals],
    ]
    which = []
    for stem, path in animals:
        gold = stem.replace("_", " ")
        question = rng.choice(
            ["Which animal is shown?", "Which animal is in this photo?", "What animal is this?"]
        )
        media = [{"type": "image", "path": str(path.relative_to(root))}]
        which.append(
            _item("kinds", 0, question, _options(gold, names, rng), gold, media, task, "animal")
        )
    items = _numbered(_balanced(groups + [which], n, rng), "kinds")
    _write_pictures(root, items, bodies)
    return items


class _Senses:
    """WordNet 3.0's senses of a noun in WordNet's own order (Debian `wordnet-base`), each with
    its row in the lexicon (which holds the physical synsets in file order)."""

    #: lexicographer files of things a picture can show: Tops (animal, person), artifact,
    #: natural object, person, plant
    PICTURABLE = {3, 6, 17, 18, 20}

    def __init__(self, cache: Path) -> None:
        from make_lexicon import physical, synsets

        from mexa_ray.reasoning.lexicon import lexicon

        self.lex = lexicon()
        wordnet = debian_package("wordnet-base", cache) / "usr/share/wordnet"
        table = synsets(wordnet / "data.noun")
        # the lexicon's rows are the physical synsets in offset order (make_lexicon.py)
        self.row = {offset: i for i, offset in enumerate(physical(table))}
        if len(self.row) != len(self.lex.names):
            raise ValueError("the lexicon was not written from this WordNet")
        self.lexfile: dict[int, int] = {}
        for line in (wordnet / "data.noun").read_text(encoding="latin-1").splitlines():
            if not line.startswith(" "):
                offset, lexfile = line.split(maxsplit=2)[:2]
                self.lexfile[int(offset)] = int(lexfile)
        self.index: dict[str, list[int]] = {}
        for line in (wordnet / "index.noun").read_text(encoding="latin-1").splitlines():
            if line.startswith(" "):
                continue  # the licence
            f = line.split()
            pointers = int(f[3])
            self.index[f[0]] = [int(x) for x in f[4 + pointers + 2 :]]

    def _senses(self, name: str) -> list[tuple[int, int | None]]:
        """(lexicographer file, lexicon row or None when not a physical thing) per sense."""
        lemma = self.lex.lemma(name)
        if lemma is None:
            return []
        offsets = self.index.get(lemma.replace(" ", "_"), [])
        return [(self.lexfile[o], self.row.get(o)) for o in offsets]

    def under(self, name: str, kinds: list[str]) -> int | None:
        """The first sense that is a kind of one of `kinds` (tried in turn)."""
        senses = self._senses(name)
        for kind in kinds:
            for _, row in senses:
                if row is not None and any(
                    kind in self.lex.names[a] for a in self.lex.ancestors(row)
                ):
                    return row
        return None

    def drawn(self, name: str) -> int | None:
        """The sense a vocabulary drawing shows: the first (in WordNet's order) that is an
        animal, a food or a body part, the drawings' subjects, else the first sense when it is
        a person or another physical thing a picture shows (numbers and other abstract first
        senses are left out)."""
        senses = self._senses(name)
        for lexfile, row in senses:
            if lexfile in (5, 8, 13) and row is not None:
                return row
        if not senses or senses[0][1] is None or senses[0][0] not in self.PICTURABLE:
            return None
        return senses[0][1]

    def accept(self, label: str, row: int) -> list[str]:
        """The label, the sense's synonyms and its hypernyms up to three levels up (those at
        depth 5 or more: "organism" ("being") and "artifact" say too little), without the
        names that are everyday function words ("being", "bar") an answer says anyway."""
        from mexa_ray.experts.text_utils import STOPWORDS

        names = [label, *self.lex.names[row]]
        for up, steps in sorted(self.lex.ancestors(row).items(), key=lambda x: x[1]):
            if 1 <= steps <= 3 and self.lex.depth(up) >= 5:
                names += self.lex.names[up]
        kept = [x.lower() for x in names if x.lower() not in STOPWORDS and len(x) > 2]
        return list(dict.fromkeys(kept))


def _split_name(stem: str) -> str:
    """A picture's file stem as words: "measuringTape1" -> "measuring tape"."""
    stem = re.sub(r"\d+$", "", stem)
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", stem).replace("_", " ").lower().strip()


def open_items(root: Path, n: int, rng: random.Random, cache: Path) -> list[dict[str, Any]]:
    """What a picture shows, with no options: animal photos, tool photos and vocabulary
    drawings, each named by its file; `accept` holds the names that also count."""
    senses = _Senses(cache)
    animals, tools, words = [], [], []
    bodies: dict[Path, bytes] = {}
    for stem, path in _animals(root, cache, bodies):
        label = stem.replace("_", " ")
        if ANIMAL_KINDS.get(stem, "") is None:
            continue
        row = senses.under(label, [SENSE_KINDS.get(label, "animal")])
        if row is not None:
            animals.append((label, row, path, "animal"))
    for stem, path in _pictures(root, cache, "categorization.rcc", "tools", bodies):
        label = _split_name(stem)
        label = TOOL_NAMES.get(label, label)
        row = senses.under(label, ["implement", "device", "container"])
        if row is not None:
            tools.append((label, row, path, "tool"))
    for stem, path in _pictures(root, cache, "lang.rcc", "words_sample", bodies):
        if re.search(r"\d", stem) or stem in NOT_DRAWN:
            continue
        label = stem.replace("_", " ")
        name = DRAWN_NAMES.get(label, label)
        row = senses.under(name, [SENSE_KINDS[name]]) if name in SENSE_KINDS else senses.drawn(name)
        if row is not None:
            words.append((label, row, path, "word"))
    picked = _balanced([[{"row": r} for r in g] for g in (animals, tools, words)], n, rng)
    items = []
    for i, entry in enumerate(picked):
        label, row, path, sub = entry["row"]
        items.append(
            {
                "id": f"open-{i:04d}",
                "question": rng.choice(
                    ["What is shown in this photo?", "What is in this picture?", "What is this?"]
                ),
                "options": [],
                "answer": label,
                "media": [{"type": "image", "path": str(path.relative_to(root))}],
                "category": "open",
                "subcategory": sub,
                "task": "image question answering",
                "accept": senses.accept(label, row),
            }
        )
    _write_pictures(root, items, bodies)
    return items
