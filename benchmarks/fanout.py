"""Parallel fan-out vs a sequential loop over the same experts.

For experts of controlled latency (the synthetic backend) and k = 1..8 selected experts, and for
the real offline experts on one five-modality query, it times the full Serve chain (ingress
handle -> selector -> k expert deployments -> aggregator) against calling the same expert
objects one after another in this process, which is what original MEXA does.

    python benchmarks/fanout.py [--latencies 0.05,0.1,0.2] [--ks 1,2,4,8] [--repeats 7]

Prints a table and writes benchmarks/results/fanout.json. Parallel efficiency is the ideal
critical path (the slowest selected expert, measured in the loop) over the measured latency.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time
from pathlib import Path

from bench_io import RESULTS, start_serve, write_results
from ray import serve

from deployments import runtime
from deployments.app import build_app
from mexa_ray.config import AppConfig, load_config, parse_config
from mexa_ray.demo import examples
from mexa_ray.experts import build_expert
from mexa_ray.types import Media, Query

NOTE = [{"type": "text", "data": base64.b64encode(b"A note.").decode(), "format": "txt"}]


def synthetic_config(latency: float, n: int) -> AppConfig:
    data = load_config("analytic").model_dump()
    data["experts"] = [{
        "name": f"syn-{i}", "backend": "synthetic", "modalities": ["text"], "skills": ["T1"],
        "description": f"synthetic expert {i}", "timeout_s": 60, "options": {"delay_s": latency},
        "deployment": {"num_replicas": 1, "max_ongoing_requests": 8,
                       "ray_actor_options": {"num_cpus": 0.01}}} for i in range(n)]
    return parse_config(data)


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up: first calls pay lazy initialisation
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def sequential(config: AppConfig, names: list[str], query: Query) -> tuple[float, float]:
    """(whole loop, slowest single expert) over in-process expert objects, skill as routed."""
    skills = config.skill_catalogue()
    experts = [build_expert(config.expert(n), skills) for n in names]
    jobs = [(e, next(s for s in e.skills if set(skills[s].modalities) & set(query.modalities)))
            for e in experts]
    per_expert = [statistics.median(timed(lambda e=e, s=s: e.run(query, s), 3)) for e, s in jobs]
    loop = statistics.median(timed(lambda: [e.run(query, s) for e, s in jobs], 3))
    return loop, max(per_expert)


def row(label: str, k: int, ideal: float, seq: float, par: list[float]) -> dict:
    p50 = statistics.median(par)
    return {"case": label, "k": k, "ideal_s": ideal, "sequential_s": seq, "parallel_p50_s": p50,
            "parallel_min_s": min(par), "efficiency": ideal / p50, "speedup": seq / p50}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latencies", default="0.05,0.1,0.2")
    ap.add_argument("--ks", default="1,2,4,8")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=str(RESULTS / "fanout.json"))
    args = ap.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    rows = []
    start_serve()
    try:
        for latency in (float(x) for x in args.latencies.split(",")):
            config = synthetic_config(latency, max(ks))
            handle = serve.run(build_app(config), name=config.name, route_prefix="/")
            for k in ks:
                names = [f"syn-{i}" for i in range(k)]
                body = {"question": "What does the note say?", "media": NOTE, "experts": names}
                par = timed(lambda: runtime.ask(handle, body), args.repeats)
                seq, ideal = sequential(config, names, Query("q", media=[Media("text")]))
                rows.append(row(f"synthetic {int(latency * 1000)} ms", k, ideal, seq, par))
            serve.delete(config.name)

        demo_root = Path("/tmp/mexa-bench-demo")
        requests = examples(demo_root)[:5]  # the five analytic ones the README table measured
        config = load_config("analytic").with_media_roots([demo_root])
        handle = serve.run(build_app(config), name=config.name, route_prefix="/")
        media = [m for r in requests for m in r["media"]]
        names = ["table-profiler", "scene-geometry", "audio-signal", "visual-stats"]
        body = {"question": "Describe all inputs.", "media": media, "experts": names}
        par = timed(lambda: runtime.ask(handle, body), args.repeats)
        query = Query("Describe all inputs.", media=[
            Media(m["type"], path=m["path"], format=m["path"].rsplit(".", 1)[1]) for m in media])
        seq, ideal = sequential(config, names, query)
        rows.append(row("offline experts, 5 inputs", len(names), ideal, seq, par))
    finally:
        runtime.stop()

    print(f"{'case':28} {'k':>2} {'ideal s':>8} {'seq s':>8} {'par p50':>8} {'eff':>5} {'speedup':>7}")
    for r in rows:
        print(f"{r['case']:28} {r['k']:>2} {r['ideal_s']:8.3f} {r['sequential_s']:8.3f} "
              f"{r['parallel_p50_s']:8.3f} {r['efficiency']:5.2f} {r['speedup']:7.2f}")
    write_results(args.out, {"repeats": args.repeats, "rows": rows})


if __name__ == "__main__":
    main()
