"""Batching: an expert whose model generates in batches, under concurrent load.

The expert is the `vlm` backend on the tiny LLaVA the tests build (tests/tiny_models.py: CLIP
vision tower + 2-layer Qwen2, random weights, real classes and generate). Three ways to serve the
same N image requests:

- `serve, unbatched`: its Serve deployment without a `batching` block, C concurrent callers;
- `serve, batched B`: the same deployment with `@serve.batch` (max_batch_size B), C callers;
- `in-process ceiling B`: the expert object called directly with full batches of B, one
  process, nothing between the caller and the model.

    python benchmarks/batching.py [--concurrency 16] [--requests 128] [--batch-sizes 4,8,16]

Prints a table and writes benchmarks/results/batching.json. The replica and the in-process run
both use one torch thread, so the comparison is the serving path, not the thread count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from bench_io import RESULTS, start_serve, write_results
from PIL import Image
from ray import serve

from mexa_ray.config import AppConfig, parse_config
from mexa_ray.experts import build_expert
from mexa_ray.serving import runtime
from mexa_ray.serving.app import serve_kwargs
from mexa_ray.serving.expert import ExpertDeployment
from mexa_ray.serving.transport import by_value
from mexa_ray.types import Media, Query

ROOT = Path(__file__).resolve().parents[1]
SKILL = "A2"


def config_for(model: Path, batch: int | None) -> AppConfig:
    expert = {
        "name": "vlm",
        "backend": "vlm",
        "modalities": ["image"],
        "skills": [SKILL],
        "description": "Tiny LLaVA describes images.",
        "timeout_s": 300,
        "model": {
            "model": str(model),
            "kind": "vision",
            "max_new_tokens": 12,
            "batch_size": batch or 1,
        },
        "deployment": {
            "num_replicas": 1,
            "max_ongoing_requests": 64,
            "ray_actor_options": {"num_cpus": 1},
        },
    }
    if batch:
        expert["batching"] = {"max_batch_size": batch, "batch_wait_timeout_s": 0.05}
    return parse_config({"name": "bench-batching", "experts": [expert]})


def images(folder: Path, n: int) -> list[Query]:
    """n distinct small images (distinct, so no layer can serve a repeat from a cache)."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        path = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
        out.append(
            Query("What is in the image?", media=[Media("image", path=str(path), format="png")])
        )
    return out


def summary(label: str, batch: int | None, wall: float, latencies: list[float]) -> dict:
    return {
        "case": label,
        "batch": batch,
        "requests": len(latencies),
        "requests_per_s": len(latencies) / wall,
        "p50_s": statistics.median(latencies) if latencies else None,
    }


def served(config: AppConfig, queries: list[Query], concurrency: int, label: str) -> dict:
    spec = config.experts[0]
    app = ExpertDeployment.options(name="vlm", **serve_kwargs(config, spec.deployment)).bind(
        [spec], config.skill_catalogue(), config.spool, config.request_deadline_s
    )
    # called the way the orchestrator calls an expert
    handle = by_value(serve.run(app, name=config.name, route_prefix=None))
    handle.analyse.remote(queries[0], SKILL, spec.name).result(timeout_s=300)  # warm-up

    def one(query: Query) -> float:
        started = time.perf_counter()
        handle.analyse.remote(query, SKILL, spec.name).result(timeout_s=300)
        return time.perf_counter() - started

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, queries))
    wall = time.perf_counter() - began
    serve.delete(config.name)
    return summary(label, spec.batching.max_batch_size if spec.batching else None, wall, latencies)


def ceiling(config: AppConfig, queries: list[Query], batch: int) -> dict:
    import torch

    torch.set_num_threads(1)
    expert = build_expert(config.experts[0], config.skill_catalogue())
    expert.run_batch([(queries[0], SKILL)])  # warm-up
    began = time.perf_counter()
    for i in range(0, len(queries), batch):
        results = expert.run_batch([(q, SKILL) for q in queries[i : i + batch]])
        assert not any(isinstance(r, Exception) for r in results), results
    wall = time.perf_counter() - began
    # a full batch's requests all wait for the whole batch: latency is the batch's time
    per_batch = wall / -(-len(queries) // batch)
    return summary(f"in-process ceiling {batch}", batch, wall, [per_batch] * len(queries))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--requests", type=int, default=128)
    ap.add_argument("--batch-sizes", default="4,8,16")
    ap.add_argument("--out", default=str(RESULTS / "batching.json"))
    args = ap.parse_args()
    sizes = [int(b) for b in args.batch_sizes.split(",")]

    sys.path.insert(0, str(ROOT / "tests"))
    import tiny_models

    work = Path(tempfile.mkdtemp(prefix="mexa-batching-"))
    model = tiny_models.llava(work / "vlm")
    queries = images(work, args.requests)

    rows = []
    start_serve()
    try:
        rows.append(served(config_for(model, None), queries, args.concurrency, "serve, unbatched"))
        for b in sizes:
            rows.append(
                served(config_for(model, b), queries, args.concurrency, f"serve, batched {b}")
            )
    finally:
        runtime.stop()
    for b in sizes:
        rows.append(ceiling(config_for(model, b), queries, b))

    base = rows[0]["requests_per_s"]
    ceilings = {r["batch"]: r["requests_per_s"] for r in rows if r["case"].startswith("in-")}
    for r in rows:
        r["vs_unbatched"] = r["requests_per_s"] / base
        if r["case"].startswith("serve, batched"):
            r["of_ceiling"] = r["requests_per_s"] / ceilings[r["batch"]]
    print("| case | requests/s | p50 s | x unbatched | of in-process ceiling |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        share = f"{r['of_ceiling']:.0%}" if "of_ceiling" in r else ""
        print(
            f"| {r['case']} | {r['requests_per_s']:.1f} | {r['p50_s']:.3f} | "
            f"{r['vs_unbatched']:.2f} | {share} |"
        )
    write_results(args.out, {"concurrency": args.concurrency, "rows": rows})


if __name__ == "__main__":
    main()
