"""The generic format for any other data set: JSON Lines or Parquet (or a JSON list) with
`id`, `question`, `options` (optional), `answer`, `media` (a list of `{type, path}`) and
optional `category`, `subcategory`, `task` and `accept`.

With options, the answer may be a letter or an option's text and is scored by option; without,
by exact match after normalisation, or, where the item lists `accept` (other names that count:
a labelled thing's synonyms and kinds), by whether the answer names the answer or one of them.
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
from mexa_ray.datasets.scoring import names_any, option_or_exact
from mexa_ray.errors import BenchmarkError
from mexa_ray.types import MEDIA_TYPES


def _media(value: Any, where: str) -> list[MediaRef]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BenchmarkError(f"{where}: 'media' must be a list of {{type, path}}", field="media")
    refs = []
    for j, m in enumerate(value):
        if not isinstance(m, dict) or m.get("type") not in MEDIA_TYPES or not m.get("path"):
            raise BenchmarkError(
                f"{where}: media.{j} must be {{type: one of "
                f"{', '.join(MEDIA_TYPES)}, path: str}}, got {m!r}",
                field=f"media.{j}",
            )
        refs.append(MediaRef(str(m["type"]), [str(m["path"])]))
    return refs


class Generic(RecordBenchmark):
    name = "generic"
    label = "generic"
    task = ""

    def item(self, rec: dict[str, Any], index: int, where: str, source: Path) -> Item:
        options = rec.get("options") or []
        if not isinstance(options, list):
            raise BenchmarkError(f"{where}: 'options' must be a list", field="options")
        accept = rec.get("accept") or []
        if not isinstance(accept, list):
            raise BenchmarkError(f"{where}: 'accept' must be a list of answers", field="accept")
        return Item(
            id=str(require(rec, "id", where)),
            question=str(require(rec, "question", where)),
            options=[str(o) for o in options],
            answer=str(require(rec, "answer", where)),
            category=str(rec.get("category") or "all"),
            subcategory=str(rec.get("subcategory") or ""),
            media=_media(rec.get("media"), where),
            task=rec.get("task") or None,
            accept=[str(a) for a in accept],
        )

    def score(self, item: dict[str, Any], prediction: str, option_index: int | None) -> bool:
        if not item["options"] and item.get("accept"):
            return names_any(prediction, [item["answer"], *item["accept"]])
        return option_or_exact(item["answer"], item["options"], prediction, option_index)
