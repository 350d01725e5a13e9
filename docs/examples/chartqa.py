"""A new benchmark adapter, the one docs/adding-a-benchmark.md walks through: ChartQA-style
records (`id`, `question`, `choices`, `answer`, `image`, `type`).

Registered with `mexa_ray.datasets.register(ChartQA)` (or added to `ADAPTERS`);
tests/test_docs.py registers it, loads a file of its records and scores a prediction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mexa_ray.datasets.base import Item, MediaRef, RecordBenchmark, require
from mexa_ray.datasets.scoring import option_match
from mexa_ray.errors import BenchmarkError


class ChartQA(RecordBenchmark):
    name = "chart-qa"  # --benchmark chart-qa (or chartqa, ChartQA, chart_qa)
    label = "ChartQA"  # how messages name it ("ChartQA item 3: missing field 'choices'")
    task = "chart question answering"  # what the router is told the task is

    def item(self, rec: dict[str, Any], index: int, where: str, source: Path) -> Item:
        choices = require(rec, "choices", where)
        if not isinstance(choices, list) or len(choices) < 2:
            raise BenchmarkError(
                f"{where}: 'choices' must list at least two options", field="choices"
            )
        image = str(require(rec, "image", where))
        return Item(
            id=str(require(rec, "id", where)),
            question=str(require(rec, "question", where)),
            options=[str(c) for c in choices],
            answer=str(require(rec, "answer", where)),
            category=str(rec.get("type") or "unknown"),
            media=[MediaRef("image", [image, f"images/{image}"])],
            task=self.task,
        )

    def score(self, item: dict[str, Any], prediction: str, option_index: int | None) -> bool:
        return option_match(item["answer"], item["options"], prediction, option_index)
