"""SQA3D (situated question answering in ScanNet scenes), in its published JSON format.

Two files joined by `question_id`: `v1_balanced_questions_<split>_scannetv2.json` (scene_id,
situation, question) and `v1_balanced_sqa_annotations_<split>_scannetv2.json` (answers). Pass
either file, or the folder holding both. The scene is a ScanNet point cloud under the media root
as `<scene_id>/<scene_id>_vh_clean_2.ply` (ScanNet's layout) or `<scene_id>.ply`. Answers are
open (no options) and scored by exact match after normalisation. The question type is the
question's first word (What / Is / How / Can / Which, else Others), as in SQA3D's own tables.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mexa_ray.datasets.base import (
    Benchmark,
    Item,
    MediaRef,
    check_unique,
    require,
)
from mexa_ray.datasets.scoring import exact_match
from mexa_ray.errors import BenchmarkError

QUESTION_TYPES = ("What", "Is", "How", "Can", "Which")


def question_type(question: str) -> str:
    first = question.strip().split(" ", 1)[0].capitalize() if question.strip() else ""
    return first if first in QUESTION_TYPES else "Others"


def _pair(annotations: Path) -> tuple[Path, Path]:
    """(questions file, answers file) from either file or their folder."""
    if annotations.is_dir():
        questions = sorted(annotations.glob("v1_balanced_questions_*_scannetv2.json"))
        if len(questions) != 1:
            raise BenchmarkError(
                f"SQA3D: expected one v1_balanced_questions_*_scannetv2.json in "
                f"{annotations}, found {len(questions)}",
                field="annotations",
            )
        annotations = questions[0]
    name = annotations.name
    if "_questions_" in name:
        return annotations, annotations.with_name(name.replace("_questions_", "_sqa_annotations_"))
    if "_sqa_annotations_" in name:
        return annotations.with_name(name.replace("_sqa_annotations_", "_questions_")), annotations
    raise BenchmarkError(
        f"SQA3D: {annotations} is neither a v1_balanced_questions_* nor a "
        "v1_balanced_sqa_annotations_* file",
        field="annotations",
    )


def _read(path: Path, key: str) -> list[dict[str, Any]]:
    if not path.is_file():
        raise BenchmarkError(f"SQA3D: no such file: {path}", field="annotations")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BenchmarkError(f"SQA3D: {path} is not JSON: {exc}", field="annotations") from None
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise BenchmarkError(f"SQA3D: {path} has no {key!r} list", field="annotations")
    return data[key]


class SQA3D(Benchmark):
    name = "sqa3d"
    task = "situated question answering in a 3D scene"

    def load(self, annotations: Path) -> list[Item]:
        q_path, a_path = _pair(annotations)
        answers = {rec["question_id"]: rec for rec in _read(a_path, "annotations")}
        items = []
        for i, rec in enumerate(_read(q_path, "questions")):
            where = f"SQA3D question {i}"
            qid = require(rec, "question_id", where)
            ann = answers.get(qid)
            if ann is None or not ann.get("answers"):
                raise BenchmarkError(
                    f"{where}: question_id {qid} has no answer in {a_path.name}",
                    field="question_id",
                )
            scene = str(require(rec, "scene_id", where))
            question = str(require(rec, "question", where))
            situation = str(rec.get("situation") or "").strip()
            items.append(
                Item(
                    id=str(qid),
                    question=f"{situation} {question}".strip(),
                    options=[],
                    answer=str(ann["answers"][0]["answer"]),
                    category=question_type(question),
                    media=[MediaRef("points", [f"{scene}/{scene}_vh_clean_2.ply", f"{scene}.ply"])],
                    task=self.task,
                )
            )
        return check_unique(items, "SQA3D")

    def score(self, item: dict[str, Any], prediction: str, option_index: int | None) -> bool:
        return exact_match(prediction, item["answer"])
