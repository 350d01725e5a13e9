"""The stages of the bulk evaluation job, as callable classes over Arrow tables.

Ray Data builds one instance per actor (so a model loads once per actor) and calls it on whole
batches. Each stage works on the rows that are still `ok` and passes every other row through
untouched, so one bad item never fails a batch. They call the same router, experts and
aggregator code as the Serve deployments.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from mexa_ray.bulk.cache import ReportCache, cache_key
from mexa_ray.bulk.rows import (
    AGGREGATE_FAILED,
    BAD_MEDIA,
    MISSING_MEDIA,
    OK,
    OUTPUT_SCHEMA,
    SELECT_FAILED,
    add_time,
    empty_row,
    missing_from_json,
    query_from_json,
    query_to_json,
    reports_from_json,
    selected_from_json,
    to_table,
)
from mexa_ray.config import AppConfig
from mexa_ray.datasets import get_benchmark
from mexa_ray.errors import MexaError, failure_reason, summarise
from mexa_ray.experts import build_expert
from mexa_ray.models.embedding import Embedder
from mexa_ray.reasoning.aggregation import build_aggregator
from mexa_ray.reasoning.routing import build_router
from mexa_ray.types import ExpertReport, Media, Query

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's content, read in chunks (hashlib.file_digest is Python 3.11+)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def _batched(
    batch_fn: Callable[[list[T]], list[R]], one_fn: Callable[[T], R], items: list[T]
) -> list[R | Exception]:
    """`batch_fn` over all items (one model call); if it raises, item by item, so the item
    that broke it fails alone and the rest are still answered."""
    if not items:
        return []
    try:
        return list(batch_fn(items))
    except Exception:  # retried one by one just below (logged: BLE001 allows it)
        log.warning("batch of %d failed; retrying item by item", len(items), exc_info=True)
    out: list[R | Exception] = []
    for item in items:
        try:
            out.append(one_fn(item))
        except Exception as exc:  # noqa: BLE001 - recorded as this item's status
            out.append(exc)
    return out


class BuildQueries:
    """Adapter rows -> queries: each media file is found under the media root and admitted by
    the same rules as the HTTP ingress (under the root, a known format, within the size and
    duration limits, readable by its modality's reader: `MediaAdmission`), and its content
    hashed (the report cache's key). A missing file, or one the ingress would refuse, becomes
    the item's status instead of a report read from it."""

    def __init__(self, config: AppConfig, media_root: str, run_id: str) -> None:
        self.root = Path(media_root).expanduser().resolve()
        self.admission = config.media_admission(roots=[self.root])
        self.run_id = run_id
        #: (path, size, mtime) -> the admitted item or its refusal: many questions share one
        #: scene or video, which is read and hashed once
        self.admitted: dict[tuple[str, int, float], Media | MexaError] = {}

    def _admit(self, media_type: str, path: Path, field: str) -> Media:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime)
        if key not in self.admitted:
            try:
                item = self.admission.file(media_type, path, field)
                item.sha256 = file_sha256(item.local_path())
                self.admitted[key] = item
            except MexaError as exc:
                self.admitted[key] = exc
        admitted = self.admitted[key]
        if isinstance(admitted, MexaError):
            raise admitted
        return dataclasses.replace(admitted)

    def _media(self, refs: list[dict[str, Any]]) -> list[Media]:
        media = []
        for i, ref in enumerate(refs):
            paths = [self.root / p for p in ref["paths"]]  # an absolute path stays absolute
            found = next((p for p in paths if p.is_file()), None)
            if found is None:
                raise FileNotFoundError(f"{ref['type']}: no file at {paths[0]}")
            media.append(self._admit(ref["type"], found, f"media.{i}.path"))
        return media

    def __call__(self, batch: pa.Table) -> pa.Table:
        started = time.perf_counter()
        rows = [empty_row(item) for item in batch.to_pylist()]
        for row in rows:
            row["run_id"] = self.run_id
            try:
                media = self._media(json.loads(row["media"]))
            except FileNotFoundError as exc:
                row.update(status=MISSING_MEDIA, status_detail=str(exc))
                continue
            except MexaError as exc:
                row.update(status=BAD_MEDIA, status_detail=f"{exc.field}: {exc.message}")
                continue
            query = Query(
                row["question"],
                list(row["options"] or []),
                row["task"] or None,
                media,
                request_id=row["id"],
            )
            row["media"] = json.dumps([dataclasses.asdict(m) for m in media])
            row["query"] = query_to_json(query)
        per_row = (time.perf_counter() - started) / max(1, len(rows))
        for row in rows:
            add_time(row, "query", per_row)
        return to_table(rows)


class SelectExperts:
    """MEXA's expert selection for each item, by the router the config names (loaded once)."""

    def __init__(self, config: AppConfig) -> None:
        self.router = build_router(config, Embedder(config.embedding))

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        todo = [row for row in rows if row["status"] == OK]
        started = time.perf_counter()
        queries = [query_from_json(row["query"]) for row in todo]
        results = _batched(self.router.select_batch, self.router.select, queries)
        per_row = (time.perf_counter() - started) / max(1, len(todo))
        for row, selection in zip(todo, results):
            if isinstance(selection, Exception):
                row.update(status=SELECT_FAILED, status_detail=summarise(selection))
                continue
            row["selected"] = json.dumps([dataclasses.asdict(s) for s in selection.experts])
            row["skills"] = [s.skill for s in selection.experts]
            row["router"] = selection.router
            row["notes"] = selection.answer_notes()
            add_time(row, "select", per_row)
        return to_table(rows)


class RunExpert:
    """One expert over every row that selected it, as one `run_batch` call (a batched model
    forward for model experts). Rows that did not select it pass through. Reports come from
    the cache when the same expert already read the same media under the same skill, and such
    repeats within one batch run once."""

    def __init__(self, config: AppConfig, expert: str, cache_dir: str | None = None) -> None:
        spec = config.expert(expert)
        self.expert = build_expert(spec, config.skill_catalogue())
        self.cache = ReportCache(cache_dir) if cache_dir else None
        self.timeout_s = spec.timeout_s
        # a model batch of this many calls gets one timeout_s, as a @serve.batch call does
        self.per_batch = (
            (spec.model.batch_size if spec.model is not None else 8) if self.expert.batches else 1
        )
        # calls that outlive their deadline keep their thread; new calls get fresh ones
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"bulk-{expert}")

    def _run(self, calls: list[tuple[Query, str]]) -> list[ExpertReport | Exception]:
        """`run_batch` under the expert's `timeout_s`, as in Serve: a call past it is missing
        with a timeout, and the job goes on (a hanging expert no longer stalls its actor)."""
        out: list[ExpertReport | Exception] = []
        for start in range(0, len(calls), self.per_batch):
            chunk = calls[start : start + self.per_batch]
            begun = time.perf_counter()
            future = self.pool.submit(self.expert.run_batch, chunk)
            try:
                out.extend(future.result(timeout=self.timeout_s))
            except FutureTimeout:
                waited = time.perf_counter() - begun
                out.extend(
                    [TimeoutError(f"timed out after {waited:.2f}s (expert timeout)")] * len(chunk)
                )
        return out

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        name = self.expert.name
        calls: list[tuple[dict[str, Any], Query, str, str | None]] = []
        for row in rows:
            if row["status"] != OK:
                continue
            skills = [s.skill for s in selected_from_json(row["selected"]) if s.expert == name]
            if skills:
                query = query_from_json(row["query"])
                hashes = [m.sha256 or "" for m in query.media]
                for skill in skills:
                    key = cache_key(self.expert, query, skill, hashes) if self.cache else None
                    calls.append((row, query, skill, key))
        if not calls:
            return to_table(rows)
        started = time.perf_counter()
        results: list[ExpertReport | Exception | None] = [
            self.cache.get(key) if self.cache and key else None for *_, key in calls
        ]
        # calls with the same key in this batch (same media, skill, ...) run once
        first: dict[str | int, int] = {}
        for i, r in enumerate(results):
            if r is None:
                first.setdefault(calls[i][3] or i, i)
        todo = list(first.values())
        fresh = self._run([(calls[i][1], calls[i][2]) for i in todo]) if todo else []
        by_key = {}
        for i, result in zip(todo, fresh):
            by_key[calls[i][3] or i] = result
            key = calls[i][3]
            if self.cache and key and isinstance(result, ExpertReport):
                self.cache.put(key, result)
        done: list[ExpertReport | Exception] = [
            by_key[calls[i][3] or i] if r is None else r for i, r in enumerate(results)
        ]
        per_call = (time.perf_counter() - started) / len(calls)
        fresh_ids = set(todo)
        for i, ((row, _query, _skill, _key), result) in enumerate(zip(calls, done)):
            if isinstance(result, ExpertReport):
                reports = json.loads(row["reports"])
                reports.append(dict(dataclasses.asdict(result), cached=i not in fresh_ids))
                row["reports"] = json.dumps(reports)
            else:
                missing = json.loads(row["missing"])
                missing.append({"expert": name, "reason": failure_reason(result)})
                row["missing"] = json.dumps(missing)
            add_time(row, f"expert:{name}", per_call)
        return to_table(rows)


class Aggregate:
    """The answer from the experts' reports, by the aggregator the config names (an LRM loads
    once per actor)."""

    def __init__(self, config: AppConfig) -> None:
        self.aggregator = build_aggregator(config, Embedder(config.embedding))

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        todo = [row for row in rows if row["status"] == OK]
        started = time.perf_counter()
        calls = [
            (
                query_from_json(row["query"]),
                reports_from_json(row["reports"]),
                missing_from_json(row["missing"]),
            )
            for row in todo
        ]
        verdicts = _batched(
            self.aggregator.answer_batch, lambda c: self.aggregator.answer(*c), calls
        )
        per_row = (time.perf_counter() - started) / max(1, len(todo))
        for row, verdict in zip(todo, verdicts):
            if isinstance(verdict, Exception):
                row.update(status=AGGREGATE_FAILED, status_detail=summarise(verdict))
                continue
            row.update(
                prediction=verdict.answer,
                option_index=verdict.option_index,
                confidence=verdict.confidence,
                reasoning=verdict.reasoning,
                aggregator=self.aggregator.name,
                notes=list(row["notes"] or []) + verdict.notes,
            )
            add_time(row, "aggregate", per_row)
        return to_table(rows)


def score(batch: pa.Table) -> pa.Table:
    """Each answered item scored by its benchmark's own rule; the output columns."""
    rows = batch.to_pylist()
    adapters: dict[str, Any] = {}
    for row in rows:
        if row["status"] == OK:
            bench = adapters.setdefault(row["benchmark"], get_benchmark(row["benchmark"]))
            row["correct"] = bool(bench.score(row, row["prediction"] or "", row["option_index"]))
    return to_table(rows, OUTPUT_SCHEMA)


__all__ = ["Aggregate", "BuildQueries", "RunExpert", "SelectExperts", "score"]
