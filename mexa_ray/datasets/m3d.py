"""M3D-Bench VQA (3D CT volumes), as published (CSV) or as JSON / Parquet records.

Columns: `Image Path` (the CT volume, relative to the media root), `Question Type`,
`Question`, `Choice A` .. `Choice D`, `Answer` and `Answer Choice` (the letter). The question
type is 1-5 in the published CSV (Plane, Phase, Organ, Abnormality, Location) or the name itself.
Items have no id column, so an item's id is its row number (stable while the file is).
Scored by letter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mexa_ray.datasets.base import Item, MediaRef, RecordBenchmark, require
from mexa_ray.datasets.scoring import option_match

QUESTION_TYPES = {"1": "Plane", "2": "Phase", "3": "Organ", "4": "Abnormality", "5": "Location"}
_LETTERS = "ABCD"


def _question_type(value: Any) -> str:
    text = str(value if value is not None else "").strip()
    text = text[:-2] if text.endswith(".0") else text
    if text in QUESTION_TYPES:
        return QUESTION_TYPES[text]
    return text.capitalize() if text.capitalize() in QUESTION_TYPES.values() else "unknown"


class M3D(RecordBenchmark):
    name = "m3d"
    label = "M3D"
    task = "question answering about a 3D CT volume"

    def item(self, rec: dict[str, Any], index: int, where: str, source: Path) -> Item:
        letter = rec.get("Answer Choice") or rec.get("Answer")
        return Item(
            id=str(rec.get("id") or f"m3d-{index}"),
            question=str(require(rec, "Question", where)),
            options=[str(require(rec, f"Choice {x}", where)) for x in _LETTERS],
            answer=str(require({"Answer Choice": letter}, "Answer Choice", where)),
            category=_question_type(rec.get("Question Type")),
            media=[MediaRef("volume", [str(require(rec, "Image Path", where))])],
            task=self.task,
        )

    def score(self, item: dict[str, Any], prediction: str, option_index: int | None) -> bool:
        return option_match(item["answer"], item["options"], prediction, option_index)
