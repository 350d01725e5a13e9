"""Video-MMMU (knowledge from lecture videos), as JSON, JSON Lines or Parquet records.

Each record: `id`, `question`, `options` (list; may be empty for open questions), `answer` (a
letter for multiple choice, text for open ones), `question_type` ("multiple-choice" / "open"),
and the track (Perception / Comprehension / Adaptation) as a `track` field or, as the dataset is
published (one folder or file per track), in the file's path. The lecture video is
`<id>.mp4` under the media root, or the record's `video` path. Multiple choice is scored by
letter; open questions by exact match after normalisation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mexa_ray.datasets.base import Item, MediaRef, RecordBenchmark, require
from mexa_ray.datasets.scoring import option_or_exact

TRACKS = ("Perception", "Comprehension", "Adaptation")
_PREFIX = re.compile(r"^\(?[A-Z]\)?[.:]\s+")


def _track(rec: dict[str, Any], path: Path) -> str:
    given = str(rec.get("track") or "").strip().capitalize()
    if given in TRACKS:
        return given
    hits = [t for t in TRACKS if t.lower() in str(path).lower()]
    return hits[0] if len(hits) == 1 else "unknown"


class VideoMMMU(RecordBenchmark):
    name = "videommmu"
    label = "Video-MMMU"
    task = "question answering about a lecture video"

    def item(self, rec: dict[str, Any], index: int, where: str, source: Path) -> Item:
        item_id = str(require(rec, "id", where))
        return Item(
            id=item_id,
            question=str(require(rec, "question", where)),
            options=[_PREFIX.sub("", str(o)) for o in rec.get("options") or []],
            answer=str(require(rec, "answer", where)),
            category=_track(rec, source),
            subcategory=str(rec.get("question_type") or ""),
            media=[MediaRef("video", [str(rec.get("video") or f"{item_id}.mp4")])],
            task=self.task,
        )

    def score(self, item: dict[str, Any], prediction: str, option_index: int | None) -> bool:
        return option_or_exact(item["answer"], item["options"], prediction, option_index)
