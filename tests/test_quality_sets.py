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
import quality_sets as sets  # noqa: E402


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
    monkeypatch.setattr(
        quality,
        "sets",
        type(
            "S",
            (),
            {
                name: staticmethod(lambda *a, **k: [])
                for name in (
                    "emoji_items",
                    "photo_items",
                    "text_items",
                    "digit_items",
                    "speech_items",
                    "sound_items",
                    "points_items",
                    "video_items",
                )
            }
            | {"table_items": sets.table_items},
        ),
    )
    items = quality.build(tmp_path, tmp_path / "cache", 30, 0)
    plain = [json.loads(x) for x in (tmp_path / "items.jsonl").read_text().splitlines()]
    shuffled = [json.loads(x) for x in (tmp_path / "items-shuffled.jsonl").read_text().splitlines()]
    assert [i["id"] for i in plain] == [i["id"] for i in shuffled] == [i["id"] for i in items]
    for a, b in zip(plain, shuffled):
        assert sorted(a["options"]) == sorted(b["options"]) and a["answer"] == b["answer"]
        assert a["options"] != b["options"]
