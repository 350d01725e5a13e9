"""What every benchmark adapter turns its annotation file into, and how it scores an answer.

An adapter reads the benchmark's own files as they are published and yields `Item`s: one
question each, with the gold answer, the benchmark's categories and the media it needs. Media
paths are candidates relative to the `--media-root` (datasets ship in more than one layout); the
job's query stage uses the first that exists and records a missing file as that item's status.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mexa_ray.errors import BenchmarkError


@dataclass
class MediaRef:
    type: str
    #: candidate paths, relative to the media root unless absolute; the first that exists is used
    paths: list[str]


@dataclass
class Item:
    id: str
    question: str
    options: list[str]
    #: the gold answer as the benchmark states it: option text, option letter or free text
    answer: str
    #: the benchmark's own grouping for per-category accuracy, and a finer one if it has it
    category: str
    subcategory: str = ""
    media: list[MediaRef] = field(default_factory=list)
    #: what the router is told the task is
    task: str | None = None
    #: for an open question, other answers that count as right besides `answer` (a labelled
    #: thing's synonyms and kinds: "giraffe" accepts "ruminant" and "mammal")
    accept: list[str] = field(default_factory=list)

    def to_row(self, benchmark: str) -> dict[str, Any]:
        """The job's input row: plain columns, media as JSON (one Arrow type for every format)."""
        row = asdict(self)
        row["media"] = json.dumps(row["media"])
        row["benchmark"] = benchmark
        return row


class Benchmark(ABC):
    """One benchmark format: reads annotations, scores predictions by the benchmark's rule."""

    name: str
    #: the task description given to the router for every item
    task: str

    @abstractmethod
    def load(self, annotations: Path) -> list[Item]:
        """Every item of the annotation file, in file order, with unique ids."""

    @abstractmethod
    def score(self, item: dict[str, Any], prediction: str, option_index: int | None) -> bool:
        """Whether the prediction is right; `item` is the job's row (options, answer, ...)."""


class RecordBenchmark(Benchmark):
    """A benchmark published as one list of records (JSON, JSON Lines, Parquet or CSV), one item
    per record."""

    #: how messages name the benchmark ("MMAU item 3: missing field 'choices'")
    label: str

    def load(self, annotations: Path) -> list[Item]:
        records = read_records(annotations, self.label)
        return check_unique(
            [
                self.item(rec, i, f"{self.label} item {i}", annotations)
                for i, rec in enumerate(records)
            ],
            self.label,
        )

    @abstractmethod
    def item(self, rec: dict[str, Any], index: int, where: str, source: Path) -> Item:
        """The item of one record; `where` names it in errors."""


def read_records(path: Path, what: str) -> list[dict[str, Any]]:
    """Records of a JSON list, JSON Lines or Parquet file (the ways benchmarks are published)."""
    if not path.is_file():
        raise BenchmarkError(f"{what}: no such file: {path}", field="annotations")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        if suffix == ".csv":
            import pyarrow.csv as pacsv

            return pacsv.read_csv(path).to_pylist()
        text = path.read_text(encoding="utf-8")
        if suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise BenchmarkError(f"{what}: cannot read {path}: {exc}", field="annotations") from None
    if isinstance(data, dict):  # {"data": [...]}-style wrappers
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise BenchmarkError(
                f"{what}: {path} is a JSON object without one list of items", field="annotations"
            )
        data = lists[0]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise BenchmarkError(f"{what}: {path} is not a list of JSON objects", field="annotations")
    return data


def require(record: dict[str, Any], key: str, where: str) -> Any:
    value = record.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise BenchmarkError(f"{where}: missing field {key!r}", field=key)
    return value


def check_unique(items: list[Item], what: str) -> list[Item]:
    """Resuming skips ids already written, so two items sharing an id would lose one of them."""
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise BenchmarkError(f"{what}: duplicate item id {item.id!r}", field="id")
        seen.add(item.id)
    return items
