"""The one row schema every stage of the job reads and writes.

Every stage returns all columns with this exact schema, so blocks from different stages and
runs concatenate and the parquet files of a resumed run match the first run's. Structured values
(the query, selection, reports) travel as JSON strings: one Arrow type whatever their content.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pyarrow as pa

from mexa_ray.types import (
    ExpertReport,
    Media,
    MissingExpert,
    Query,
    SelectedExpert,
)

#: statuses of an item; only "ok" items are scored
OK, MISSING_MEDIA, BAD_MEDIA, SELECT_FAILED, AGGREGATE_FAILED = (
    "ok",
    "missing_media",
    "bad_media",
    "select_failed",
    "aggregate_failed",
)

ROW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("benchmark", pa.string()),
        ("category", pa.string()),
        ("subcategory", pa.string()),
        ("question", pa.string()),
        ("options", pa.list_(pa.string())),
        ("answer", pa.string()),
        #: other answers an open question accepts (the labelled thing's names and kinds)
        ("accept", pa.list_(pa.string())),
        ("task", pa.string()),
        #: the adapter's media references, then (after the query stage) the resolved files
        ("media", pa.string()),
        ("status", pa.string()),
        ("status_detail", pa.string()),
        #: the Query as JSON (internal: not written out)
        ("query", pa.string()),
        ("router", pa.string()),
        #: the selected experts as JSON [{expert, skill, why, score}]
        ("selected", pa.string()),
        ("skills", pa.list_(pa.string())),
        #: expert reports as JSON [{expert, skill, text, latency_s, cached}]
        ("reports", pa.string()),
        #: experts that failed as JSON [{expert, reason}]
        ("missing", pa.string()),
        ("prediction", pa.string()),
        ("option_index", pa.int64()),
        #: how sure the aggregator is of its answer, in [0, 1] (null where none says)
        ("confidence", pa.float64()),
        ("reasoning", pa.string()),
        ("aggregator", pa.string()),
        ("notes", pa.list_(pa.string())),
        ("correct", pa.bool_()),
        #: seconds each stage spent on this item, as JSON {"select": .., "expert:<name>": ..}
        ("timings", pa.string()),
        ("run_id", pa.string()),
    ]
)

OUTPUT_SCHEMA = pa.schema([f for f in ROW_SCHEMA if f.name != "query"])


def empty_row(item: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name in ROW_SCHEMA.names}
    row.update({k: v for k, v in item.items() if k in row})
    row.update(
        status=OK,
        status_detail="",
        reports="[]",
        missing="[]",
        selected="[]",
        skills=[],
        notes=[],
        timings="{}",
    )
    return row


def to_table(rows: list[dict[str, Any]], schema: pa.Schema = ROW_SCHEMA) -> pa.Table:
    return pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)


def add_time(row: dict[str, Any], stage: str, seconds: float) -> None:
    timings = json.loads(row["timings"] or "{}")
    timings[stage] = round(timings.get(stage, 0.0) + seconds, 6)
    row["timings"] = json.dumps(timings)


def query_to_json(query: Query) -> str:
    return json.dumps(dataclasses.asdict(query))


def query_from_json(text: str) -> Query:
    data = json.loads(text)
    data["media"] = [Media(**m) for m in data["media"]]
    return Query(**data)


def selected_from_json(text: str) -> list[SelectedExpert]:
    return [SelectedExpert(**s) for s in json.loads(text or "[]")]


def reports_from_json(text: str) -> list[ExpertReport]:
    fields = {f.name for f in dataclasses.fields(ExpertReport)}
    return [
        ExpertReport(**{k: v for k, v in r.items() if k in fields})
        for r in json.loads(text or "[]")
    ]


def missing_from_json(text: str) -> list[MissingExpert]:
    return [MissingExpert(**m) for m in json.loads(text or "[]")]
