"""Parallel fan-out vs a sequential loop over the same experts.

For experts of controlled latency (the synthetic backend) and k = 1..8 selected experts, and for
the real offline experts on one five-modality query, it times the full Serve chain (ingress
handle -> orchestrator -> k expert deployments -> aggregator) against calling the same expert
objects one after another in this process, which is what original MEXA does.

    python benchmarks/fanout.py [--latencies 0.05,0.1,0.2] [--ks 1,2,4,8] [--repeats 7]

Prints a table and writes benchmarks/results/fanout.json. Parallel efficiency is the ideal
critical path over the measured latency: routing + the slowest selected expert + aggregation, each
as the chain itself timed it in the same request (the answer's `timings` and its reports'
`latency_s`), so everything else is the cost of orchestration. The loop runs the same experts
with the skills the chain gave them; it does no routing or aggregation (about a millisecond here,
with the experts named in the request and the evidence ranker's embedding cache warm).
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time
from pathlib import Path

from bench_io import RESULTS, start_serve, write_results
from ray import serve

from mexa_ray.cli.demo import examples
from mexa_ray.config import AppConfig, load_config, parse_config
from mexa_ray.experts import build_expert
from mexa_ray.serving import runtime
from mexa_ray.types import Media, Query

NOTE = [{"type": "text", "data": base64.b64encode(b"A note.").decode(), "format": "txt"}]


def synthetic_config(latency: float, n: int) -> AppConfig:
    data = load_config("analytic").model_dump()
    data["experts"] = [
        {
            "name": f"syn-{i}",
            "backend": "synthetic",
            "modalities": ["text"],
            "skills": ["T1"],
            "description": f"synthetic expert {i}",
            "timeout_s": 60,
            "settings": {"delay_s": latency},
            "deployment": {
                "num_replicas": 1,
                "max_ongoing_requests": 8,
                "ray_actor_options": {"num_cpus": 0.01},
            },
        }
        for i in range(n)
    ]
    return parse_config(data)


def timed(fn, repeats: int) -> tuple[list[float], list]:
    """Seconds and results of `repeats` calls, after one warm-up call (lazy initialisation)."""
    fn()
    seconds, results = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        results.append(fn())
        seconds.append(time.perf_counter() - t)
    return seconds, results


def critical_path(answer: dict) -> float:
    """Routing + the slowest expert + aggregation, as the chain timed them for this answer."""
    t = answer["timings"]
    slowest = max(r["latency_s"] for r in answer["reports"])
    return t["select_s"] + slowest + t["aggregate_s"]


def chain(handle, body: dict, repeats: int) -> tuple[list[float], list[dict]]:
    seconds, answers = timed(lambda: runtime.ask(handle, body), repeats)
    for a in answers:
        if a["missing"]:
            raise RuntimeError(f"an expert was missing, the timing would flatter: {a['missing']}")
    return seconds, answers


def sequential(config: AppConfig, answer: dict, query: Query, repeats: int) -> float:
    """The loop over in-process expert objects, each with the skill the chain gave it."""
    skills = config.skill_catalogue()
    jobs = [
        (build_expert(config.expert(s["expert"]), skills), s["skill"]) for s in answer["selected"]
    ]
    seconds, _ = timed(lambda: [e.run(query, skill) for e, skill in jobs], repeats)
    return statistics.median(seconds)


def row(label: str, k: int, seq: float, par: list[float], answers: list[dict]) -> dict:
    p50 = statistics.median(par)
    ideal = statistics.median(critical_path(a) for a in answers)
    return {
        "case": label,
        "k": k,
        "ideal_s": ideal,
        "sequential_s": seq,
        "parallel_p50_s": p50,
        "parallel_min_s": min(par),
        "efficiency": ideal / p50,
        "speedup": seq / p50,
    }


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
            handle = runtime.deploy(config)
            for k in ks:
                names = [f"syn-{i}" for i in range(k)]
                body = {"question": "What does the note say?", "media": NOTE, "experts": names}
                par, answers = chain(handle, body, args.repeats)
                seq = sequential(config, answers[0], Query("q", media=[Media("text")]), 3)
                rows.append(row(f"synthetic {int(latency * 1000)} ms", k, seq, par, answers))
            serve.delete(config.name)

        demo_root = Path("/tmp/mexa-bench-demo")
        requests = examples(demo_root)[:5]  # the five analytic ones docs/performance.md measured
        config = load_config("analytic").with_media_roots([demo_root])
        handle = runtime.deploy(config)
        media = [m for r in requests for m in r["media"]]
        names = ["table-profiler", "scene-geometry", "audio-signal", "visual-stats"]
        body = {"question": "Describe all inputs.", "media": media, "experts": names}
        par, answers = chain(handle, body, args.repeats)
        query = Query(
            "Describe all inputs.",
            media=[
                Media(m["type"], path=m["path"], format=m["path"].rsplit(".", 1)[1]) for m in media
            ],
        )
        seq = sequential(config, answers[0], query, 3)
        rows.append(row("offline experts, 5 inputs", len(names), seq, par, answers))
    finally:
        runtime.stop()

    print(
        f"{'case':28} {'k':>2} {'ideal s':>8} {'seq s':>8} {'par p50':>8} {'eff':>5} {'speedup':>7}"
    )
    for r in rows:
        print(
            f"{r['case']:28} {r['k']:>2} {r['ideal_s']:8.3f} {r['sequential_s']:8.3f} "
            f"{r['parallel_p50_s']:8.3f} {r['efficiency']:5.2f} {r['speedup']:7.2f}"
        )
    write_results(args.out, {"repeats": args.repeats, "rows": rows})


if __name__ == "__main__":
    main()
