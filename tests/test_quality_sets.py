"""The quality suite's items say what their data says: answers come from the data's own labels
and values, and every answer is one of its options (benchmarks/quality_sets.py)."""

import json
import random
import sys
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import quality_sets as sets


def test_table_items_are_answered_by_the_tables_themselves(tmp_path):
    items = sets.table_items(tmp_path, 200, random.Random(0))
    assert len(items) >= 40 and len({i["id"] for i in items}) == len(items)
    checked = 0
    for item in items:
        assert item["answer"] in item["options"] and len(set(item["options"])) == len(
            item["options"]
        )
        table = pacsv.read_csv(tmp_path / item["media"][0]["path"]).to_pydict()
        named = [c for c in table if c.replace("_", " ") in item["question"]]
        column = max(named, key=len) if named else None  # "alcalinity of ash", not "ash"
        if item["subcategory"] == "count":
            assert int(item["answer"]) == len(next(iter(table.values())))
            checked += 1
        elif item["subcategory"] in ("max", "min") and column:
            values = [v for v in table[column] if v is not None]
            want = max(values) if item["subcategory"] == "max" else min(values)
            assert float(item["answer"]) == pytest.approx(want, rel=1e-3)
            checked += 1
        elif item["subcategory"] == "mode" and column:
            values = [v for v in table[column] if v is not None]
            assert values.count(item["answer"]) == max(values.count(v) for v in set(values))
            checked += 1
    assert checked >= 20


@pytest.mark.skipif(not sets.EMOJI_FONT.exists(), reason="needs Debian's fonts-noto-color-emoji")
def test_emoji_items_ask_what_the_emoji_is_named(tmp_path):
    emoji = pytest.importorskip("emoji")
    items = sets.emoji_items(tmp_path, 6, random.Random(1))
    assert {i["category"] for i in items} == {
        "image-colour",
        "image-shape",
        "image-yes-no",
        "image-object",
    }
    names = {c: d["en"] for c, d in emoji.EMOJI_DATA.items()}
    for item in items:
        assert item["answer"] in item["options"]
        picture = Image.open(tmp_path / item["media"][0]["path"]).convert("RGB")
        assert len(set(picture.getdata())) > 5  # something was drawn
        char = chr(int(Path(item["media"][0]["path"]).stem.split("_")[1], 16))
        if item["category"] in ("image-colour", "image-shape", "image-object"):
            assert item["answer"] in names[char].strip(":").lower().replace("-", "_").split("_")


def test_items_are_written_with_a_shuffled_twin(tmp_path, monkeypatch):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import quality

    # the runner's build with only the table builder (the others need packages and fonts)
    def none(module, keep=()):
        builders = [n for n in dir(module) if n.endswith("_items") and n not in keep]
        stub = {n: staticmethod(lambda *a, **k: []) for n in builders}
        return type("S", (), stub | {n: getattr(module, n) for n in keep})

    monkeypatch.setattr(quality, "sets", none(sets, keep=("table_items",)))
    for name in ("more", "facts", "charts"):
        monkeypatch.setattr(quality, name, none(getattr(quality, name)))
    items = quality.build(tmp_path, tmp_path / "cache", 30, 0)
    plain = [json.loads(x) for x in (tmp_path / "items.jsonl").read_text().splitlines()]
    shuffled = [json.loads(x) for x in (tmp_path / "items-shuffled.jsonl").read_text().splitlines()]
    assert [i["id"] for i in plain] == [i["id"] for i in shuffled] == [i["id"] for i in items]
    for a, b in zip(plain, shuffled):
        assert sorted(a["options"]) == sorted(b["options"]) and a["answer"] == b["answer"]
        assert a["options"] != b["options"]


import quality_sets_more as more  # noqa: E402


def test_vega_table_items_are_computed_from_the_tables(tmp_path):
    import re

    import pandas as pd

    items = more.table_query_items(tmp_path, 40, random.Random(0), tmp_path / "packages")
    kinds = {i["category"] for i in items}
    assert kinds == {"table-lookup", "table-mode", "table-group", "table-filter"}
    checked = 0
    for item in items:
        assert item["answer"] in item["options"] and len(set(item["options"])) == len(
            item["options"]
        )
        df = pd.read_csv(tmp_path / item["media"][0]["path"])
        named = [
            c
            for c in df.columns
            if re.search(rf"\b{re.escape(c.replace('_', ' ').lower())}\b", item["question"])
        ]
        column = max(named, key=len) if named else None
        numeric = [c for c in named if pd.api.types.is_numeric_dtype(df[c])]
        if item["category"] == "table-filter" and numeric:
            column = max(numeric, key=len)
            threshold = float(item["question"].rstrip("?").rsplit(" ", 1)[1])
            above = any(w in item["question"] for w in (" above ", " over ", "greater"))
            values = df[column].dropna()
            want = (values > threshold).sum() if above else (values < threshold).sum()
            assert int(item["answer"]) == int(want), item
            checked += 1
        elif item["category"] == "table-mode" and column:
            counts = df[column].dropna().astype(str).value_counts()
            top = counts.index[0]
            assert item["answer"] == top or float(item["answer"]) == float(top), item
            checked += 1
    assert checked >= 15


def test_scene_items_are_balanced_and_count_what_was_drawn(tmp_path):
    import re

    import numpy as np
    from scipy import ndimage

    items = more.yes_no_scene_items(tmp_path, 30, random.Random(0))
    answers = [i["answer"] for i in items]
    assert abs(answers.count("yes") - answers.count("no")) <= 4
    counted = 0
    for item in items:
        m = re.match(r"Are there (more than|exactly) (\d+) (\w+)s in", item["question"])
        if not m:
            continue
        rgb = np.asarray(Image.open(tmp_path / item["media"][0]["path"]).convert("RGB"))
        labels, blobs = ndimage.label(rgb.min(axis=2) < 200)
        # each blob's shape from how much of its bounding box it fills
        kinds = []
        for box in ndimage.find_objects(labels):
            fill = (labels[box] > 0).mean()
            kinds.append("square" if fill > 0.9 else "circle" if fill > 0.65 else "triangle")
        n, k = kinds.count(m.group(3)), int(m.group(2))
        holds = n > k if m.group(1) == "more than" else n == k
        assert item["answer"] == ("yes" if holds else "no"), (item, kinds)
        counted += 1
    assert counted >= 5


def test_size_items_match_the_clouds_extent(tmp_path):
    import numpy as np

    from mexa_ray.experts.text_utils import terms

    for item in more.size_items(tmp_path, 20, random.Random(0)):
        pts = np.load(tmp_path / item["media"][0]["path"])
        extent = pts.max(axis=0) - pts.min(axis=0)
        q = item["question"]
        axis = 2 if ("tall" in q or "height" in q) else 0 if ("wide" in q or "width" in q) else 1
        value, unit = terms(item["answer"])
        assert unit == "m" and value == pytest.approx(extent[axis], rel=0.06), item
