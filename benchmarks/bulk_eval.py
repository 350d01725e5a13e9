"""Bulk evaluation: the Ray Data job vs a plain sequential loop over the same objects.

Both answer the same MMAU items (real annotations; stand-in audio clips generated here) with the
same config: the loop builds the router, the experts and the aggregator once and goes item by
item (what original MEXA's evaluation does, minus its thread pool of API calls); the job is
`mexa_ray.bulk` on a local Ray started in-process, with the report cache off. Wall times include
loading the models (and, for the job, starting Ray and its actors).

    python benchmarks/bulk_eval.py [--items 1000] [--annotations FILE] [--config NAME]
                                   [--clip-seconds 10] [--tiny-llm]

`--tiny-llm` swaps in MEXA's model path on this CPU: an LLM router and an LRM aggregator, both
the tiny 2-layer chat model the tests build (tests/tiny_models.py, taught a fixed reply), so the
effect of feeding models whole batches shows without a GPU.

Prints a table and writes benchmarks/results/bulk_eval.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench_io import RESULTS, write_results

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "benchmarks" / "mmau" / "mmau-test-mini.json"
SUBSET = ROOT / "tests" / "data" / "benchmarks" / "mmau" / "mmau-test-mini.json"


def sequential(items, media_root: Path, config_name: str | None) -> dict:
    """Item by item, in this process: select, each selected expert, aggregate, score."""
    from mexa_ray.config import load_config
    from mexa_ray.datasets import get_benchmark
    from mexa_ray.experts import build_expert
    from mexa_ray.models.embedding import Embedder
    from mexa_ray.reasoning.aggregation import build_aggregator
    from mexa_ray.reasoning.routing import build_router
    from mexa_ray.types import Media, Query

    started, cpu_started = time.perf_counter(), time.process_time()
    config = load_config(config_name)
    embedder = Embedder(config.embedding)
    router = build_router(config, embedder)
    skills = config.skill_catalogue()
    experts = {s.name: build_expert(s, skills) for s in config.experts}
    aggregator = build_aggregator(config, embedder)
    bench = get_benchmark("mmau")
    loaded = time.perf_counter()
    correct = answered = 0
    for item in items:
        path = media_root / item.media[0].paths[0]
        if not path.is_file():
            continue
        query = Query(
            item.question,
            item.options,
            item.task,
            [Media("audio", path=str(path), format=path.suffix.lstrip("."))],
            request_id=item.id,
        )
        selection = router.select(query)
        reports, missing = [], []
        for s in selection.experts:
            try:
                reports.append(experts[s.expert].run(query, s.skill))
            except Exception as exc:  # noqa: BLE001 - as the job records it
                missing.append(exc)
        verdict = aggregator.answer(query, reports, [])
        answered += 1
        correct += bench.score(
            {"options": item.options, "answer": item.answer}, verdict.answer, verdict.option_index
        )
    done = time.perf_counter()
    return {
        "wall_s": done - started,
        "load_s": loaded - started,
        "answered": answered,
        "correct": correct,
        "cpu_s": time.process_time() - cpu_started,
    }


def job(
    annotations: Path, media_root: Path, limit: int, config_name: str | None, out: Path
) -> dict:
    from mexa_ray.bulk.job import evaluate

    started = time.perf_counter()
    summary = evaluate(
        "mmau", annotations, media_root, out, config=config_name, limit=limit, cache=False
    )
    return {
        "wall_s": time.perf_counter() - started,
        "answered": summary["scored"],
        "correct": summary["correct"],
        "stages": summary["stages"],
    }


def tiny_llm_config(work: Path) -> str:
    """The default config with the tiny LLM as router and LRM (built here; nothing downloaded)."""
    import sys

    import yaml

    sys.path.insert(0, str(ROOT / "tests"))
    import tiny_models

    from mexa_ray.config import load_config

    router = tiny_models.causal_lm(work / "router", reply="B2, B3")
    lrm = tiny_models.causal_lm(
        work / "lrm", reply="<think>The clip is tonal.</think>Answer: (B)", seed=1
    )
    data = load_config("analytic").model_dump(mode="json")
    data["router"].update(
        kind="llm", llm={"model": str(router), "max_new_tokens": 8, "batch_size": 32}
    )
    data["aggregator"].update(
        kind="lrm", llm={"model": str(lrm), "max_new_tokens": 24, "batch_size": 32}
    )
    path = work / "tiny-llm.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def item_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments every bulk benchmark takes: how many MMAU items, from which file."""
    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--annotations", default=str(SHARED if SHARED.is_file() else SUBSET))
    return ap


def standin_items(annotations: Path, n: int, seconds: float = 10.0) -> tuple[list, Path]:
    """The first n items, and a fresh work folder whose media/ holds their stand-in clips."""
    from standin import write_standin

    from mexa_ray.datasets import get_benchmark

    items = get_benchmark("mmau").load(annotations)[:n]
    work = Path(tempfile.mkdtemp(prefix="mexa-bulk-"))
    for i, item in enumerate(items):
        write_standin(item, work / "media", seed=i, seconds=seconds)
    return items, work


def main() -> None:
    ap = item_parser(__doc__)
    ap.add_argument(
        "--config",
        default="analytic",
        help="app config (default: analytic, the model-free pipeline)",
    )
    ap.add_argument(
        "--clip-seconds",
        type=float,
        default=10.0,
        help="length of the stand-in clips (MMAU's are mostly 10 s)",
    )
    ap.add_argument(
        "--tiny-llm",
        action="store_true",
        help="LLM router and LRM aggregator: the tests' tiny chat model",
    )
    ap.add_argument("--out", help="JSON results (default benchmarks/results/bulk_eval[_tiny].json)")
    args = ap.parse_args()

    annotations = Path(args.annotations)
    items, work = standin_items(annotations, args.items, args.clip_seconds)
    media_root = work / "media"

    if args.tiny_llm:
        args.config = tiny_llm_config(work)
    loop = sequential(items, media_root, args.config)
    data = job(annotations, media_root, len(items), args.config, work / "run")
    n = len(items)
    rows = [("sequential loop", loop), ("Ray Data job", data)]
    print(
        f"{n} MMAU items ({annotations.name}), {args.clip_seconds:g} s stand-in clips, config "
        f"{'tiny LLM router + LRM' if args.tiny_llm else args.config or 'default'}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'pipeline':18} {'wall s':>8} {'items/s':>8} {'answered':>8} {'correct':>8}")
    for name, r in rows:
        print(
            f"{name:18} {r['wall_s']:8.1f} {n / r['wall_s']:8.2f} {r['answered']:8} "
            f"{r['correct']:8}"
        )
    ratio = loop["wall_s"] / data["wall_s"]
    print(
        f"job / loop throughput: {ratio:.2f}x (loop model loading {loop['load_s']:.1f}s; "
        f"loop without it {n / (loop['wall_s'] - loop['load_s']):.2f} items/s; the loop kept "
        f"{loop['cpu_s'] / loop['wall_s']:.2f} cores busy: torch's own threads)"
    )
    write_results(
        args.out or RESULTS / f"bulk_eval{'_tiny' if args.tiny_llm else ''}.json",
        {
            "items": n,
            "annotations": str(annotations),
            "config": "tiny-llm" if args.tiny_llm else args.config or "default",
            "clip_seconds": args.clip_seconds,
            "loop": loop,
            "job": data,
            "speedup": ratio,
        },
    )


if __name__ == "__main__":
    main()
