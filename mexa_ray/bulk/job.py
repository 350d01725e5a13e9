"""Bulk benchmark evaluation as a streaming Ray Data job.

    python -m mexa_ray.bulk --benchmark mmau --annotations mmau-test-mini.json
        --media-root /data/mmau --out runs/mmau [--config gpu-1x80gb] [--limit N]

(or `mexa eval ...`; on a cluster `ray job submit -- python -m mexa_ray.bulk ...`).

read annotations -> build queries -> select experts -> one actor pool per expert -> aggregate
-> score -> write_parquet. Each model loads once per actor and is fed whole batches; an expert's
stage only works on the rows that selected it. Rerunning with the same --out skips the items
already written, so a job stopped at any point loses and duplicates nothing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mexa_ray.cli.overrides import add_config_argument, add_override_arguments, overrides_of
from mexa_ray.config import AppConfig, BulkSpec, DeploymentSettings, Overrides
from mexa_ray.datasets import benchmark_names, get_benchmark

if TYPE_CHECKING:
    import ray.data


def _pool(bulk: BulkSpec, deployment: DeploymentSettings) -> dict[str, Any]:
    """map_batches arguments for a stage run by an actor pool, from its config."""
    from ray.data import ActorPoolStrategy

    size = bulk.actors
    compute = (
        ActorPoolStrategy(min_size=size[0], max_size=size[1])
        if isinstance(size, tuple)
        else ActorPoolStrategy(size=size)
    )
    return {
        "compute": compute,
        "batch_size": bulk.batch_size,
        "batch_format": "pyarrow",
        **bulk.resources(deployment),
    }


def _stage_class(base: type, label: str) -> type:
    """A subclass named after the stage, so Ray Data's progress bars tell the experts apart."""
    return type(label, (base,), {"__module__": base.__module__})


def build_pipeline(
    rows: list[dict[str, Any]],
    config: AppConfig,
    media_root: str,
    run_id: str,
    cache_dir: str | None,
) -> ray.data.Dataset:
    """The whole job as one lazy Dataset ending in the parquet write's input."""
    import ray.data
    from ray.data import ActorPoolStrategy

    from mexa_ray.bulk.stages import (
        Aggregate,
        BuildQueries,
        RunExpert,
        SelectExperts,
        score,
    )

    router, aggregator = config.router, config.aggregator
    pools = [router.bulk, aggregator.bulk] + [spec.bulk for spec in config.experts]
    widest = max(p.actors[1] if isinstance(p.actors, tuple) else p.actors for p in pools)
    # enough blocks to fill a batch each, and to give every actor of the widest pool work
    blocks = min(len(rows), max(math.ceil(len(rows) / router.bulk.batch_size), widest))
    ds: ray.data.Dataset = ray.data.from_items(rows, override_num_blocks=blocks)
    ds = ds.map_batches(
        BuildQueries,
        fn_constructor_kwargs={"config": config, "media_root": media_root, "run_id": run_id},
        compute=ActorPoolStrategy(size=1),
        batch_size=router.bulk.batch_size,
        batch_format="pyarrow",
        num_cpus=0.1,
    )
    ds = ds.map_batches(
        SelectExperts,
        fn_constructor_kwargs={"config": config},
        **_pool(router.bulk, router.deployment),
    )
    present = {ref["type"] for r in rows for ref in json.loads(r["media"])}
    for spec in config.experts:
        if not present & set(spec.modalities):
            continue  # no item has media this expert reads: the router cannot select it
        label = "Expert_" + spec.name.replace("-", "_")
        ds = ds.map_batches(
            _stage_class(RunExpert, label),
            fn_constructor_kwargs={"config": config, "expert": spec.name, "cache_dir": cache_dir},
            **_pool(spec.bulk, spec.deployment),
        )
    ds = ds.map_batches(
        Aggregate,
        fn_constructor_kwargs={"config": config},
        **_pool(aggregator.bulk, aggregator.deployment),
    )
    return ds.map_batches(score, batch_format="pyarrow", num_cpus=0.1)


def evaluate(
    benchmark: str,
    annotations: str | Path,
    media_root: str | Path,
    out: str | Path,
    config: str | None = None,
    limit: int | None = None,
    cache: str | Path | bool = True,
    quiet: bool = True,
    overrides: Overrides | None = None,
) -> dict[str, Any]:
    """Run (or resume) a benchmark; returns the report's summary of everything written.

    `limit` keeps the benchmark's first N items (file order); `cache` is a folder for expert
    reports, True for OUT/cache, or False for none; `overrides` change the config as it loads
    (`--no-gpus`, `--model-dir`)."""
    from mexa_ray.bulk.report import RunStats, record_run, write_report
    from mexa_ray.bulk.store import completed_ids, predictions_dir, read_predictions
    from mexa_ray.config import load_config
    from mexa_ray.ray_runtime import connect, quiet_ray_data

    started = time.time()
    bench = get_benchmark(benchmark)
    app = load_config(config, overrides)
    items = bench.load(Path(annotations))
    if limit is not None:
        items = items[:limit]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = completed_ids(out)
    rows = [item.to_row(bench.name) for item in items if item.id not in done]
    run_id = (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
        + "-"
        + uuid.uuid4().hex[:6]
    )
    if rows:
        connect(quiet)
        if quiet:
            quiet_ray_data()
        cache_dir = (
            None
            if cache is False
            else str((out / "cache" if cache is True else Path(cache)).resolve())
        )
        ds = build_pipeline(rows, app, str(media_root), run_id, cache_dir)
        ds.write_parquet(str(predictions_dir(out).resolve()))
    wall = time.time() - started
    record_run(
        out,
        RunStats(
            run_id,
            bench.name,
            config or "default",
            datetime.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
            len(rows),
            len(items) - len(rows),
            round(wall, 3),
        ),
    )
    summary = write_report(out, read_predictions(out))
    summary["run"] = {
        "run_id": run_id,
        "items": len(rows),
        "skipped": len(items) - len(rows),
        "wall_s": round(wall, 3),
    }
    return summary


def summary_line(summary: dict[str, Any], out: str | Path) -> str:
    run = summary["run"]
    rate = run["items"] / run["wall_s"] if run["wall_s"] > 0 else 0.0
    acc = summary["accuracy"]
    return (
        f"eval: {run['items']} items run, {run['skipped']} already done, in "
        f"{run['wall_s']:.1f}s ({rate:.2f} items/s); accuracy "
        f"{'n/a' if acc is None else f'{100 * acc:.1f}%'} on {summary['scored']} answered of "
        f"{summary['items']} ({', '.join(f'{k} {v}' for k, v in summary['status'].items())}); "
        f"report: {Path(out) / 'report.md'}"
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--benchmark",
        required=True,
        help=f"one of: {benchmark_names()} (case, hyphens and underscores aside)",
    )
    p.add_argument("--annotations", required=True, help="the benchmark's annotation file")
    p.add_argument(
        "--media-root", required=True, help="folder the annotations' media paths are relative to"
    )
    p.add_argument(
        "--out", required=True, help="output folder; rerunning with the same folder resumes"
    )
    add_config_argument(p)
    p.add_argument("--limit", type=int, help="only the first N items of the benchmark")
    p.add_argument(
        "--cache",
        metavar="DIR",
        help="expert report cache, shared by runs that use it (default OUT/cache)",
    )
    p.add_argument("--no-cache", action="store_true", help="do not reuse or store expert reports")
    p.add_argument("-v", "--verbose", action="store_true", help="show Ray's logs")
    add_override_arguments(p)


def run(args: argparse.Namespace) -> str:
    """`mexa eval` / `python -m mexa_ray.bulk`: run, write the report, return the summary line."""
    from mexa_ray.errors import MexaError

    if args.limit is not None and args.limit < 1:
        raise MexaError("--limit must be at least 1", field="limit")
    summary = evaluate(
        args.benchmark,
        args.annotations,
        args.media_root,
        args.out,
        config=args.config,
        limit=args.limit,
        cache=False if args.no_cache else (args.cache or True),
        quiet=not args.verbose,
        overrides=overrides_of(args),
    )
    return summary_line(summary, args.out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mexa_ray.bulk",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    from mexa_ray.errors import MexaError

    try:
        print(run(parser.parse_args(argv)), flush=True)
    except MexaError as exc:
        print(f"error{f' ({exc.field})' if exc.field else ''}: {exc.message}", file=sys.stderr)
        return 2
    return 0
