"""MMAU (audio understanding; sound / music / speech), in its published JSON format.

Each record: `id`, `audio_id` ("./test-mini-audios/<id>.wav", relative to the media root),
`question`, `choices`, `answer` (the correct choice's text), `task` (sound/music/speech),
`category`, `sub-category`, `difficulty`. MMAU scores a prediction right when the chosen option
string equals the answer string.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mexa_ray.datasets.base import (
    Item,
    MediaRef,
    RecordBenchmark,
    require,
)
from mexa_ray.datasets.scoring import chosen_text, normalise
from mexa_ray.errors import BenchmarkError


class MMAU(RecordBenchmark):
    name = "mmau"
    label = "MMAU"
    task = "audio question answering"

    def item(self, rec: dict[str, Any], index: int, where: str, source: Path) -> Item:
        choices = require(rec, "choices", where)
        if not isinstance(choices, list) or len(choices) < 2:
            raise BenchmarkError(
                f"{where}: 'choices' must list at least two options", field="choices"
            )
        audio = str(require(rec, "audio_id", where)).removeprefix("./")
        return Item(
            id=str(require(rec, "id", where)),
            question=str(require(rec, "question", where)),
            options=[str(c) for c in choices],
            answer=str(require(rec, "answer", where)),
            category=str(rec.get("task") or "unknown"),
            subcategory=str(rec.get("sub-category") or ""),
            media=[MediaRef("audio", [audio])],
            task=self.task,
        )

    def score(self, item: dict[str, Any], prediction: str, option_index: int | None) -> bool:
        chosen = chosen_text(prediction, option_index, item["options"])
        return normalise(chosen) == normalise(item["answer"])
