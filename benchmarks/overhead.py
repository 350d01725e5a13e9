"""Orchestration overhead: the full chain with experts that do nothing.

With k no-op experts (the synthetic backend, no delay) forced by the request, every millisecond
of a request is the chain itself: the ingress validating and publishing a small upload, the
selector starting k calls, the experts' replicas answering, the aggregator gathering the reports
and answering, and the transport between them. One client sends requests one after another,
through the ingress handle and through HTTP (Serve's proxy, a keep-alive connection).

    python benchmarks/overhead.py [--ks 1,2,4,8] [--requests 200]

Prints a table and writes benchmarks/results/overhead.json. The hop columns are medians of the
answer's own `timings` (ingress: validation and upload; select: routing; experts: from fan-out
to the last report; aggregate: answering); `outside` is the client's latency minus the chain's
`total_s`, the cost of getting the request to the ingress and the answer back (the handle call,
or the HTTP proxy). `cpu` is the CPU time all Ray processes (replicas, proxy, raylet, GCS) spent
per request: on this 2-core machine the chain is CPU-bound, so that, not waiting, is what sets
the latency; `by_process` in the JSON splits it per replica. The report texts repeat, so the
embedder's cache makes the aggregator's evidence ranking nearly free here: this measures the
orchestration, not the models.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time

import httpx
import psutil
from bench_io import RESULTS, start_serve, write_results
from ray import serve

from deployments import runtime
from deployments.app import build_app
from mexa_ray.config import AppConfig, load_config, parse_config

NOTE = [{"type": "text", "data": base64.b64encode(b"A note.").decode(), "format": "txt"}]
HOPS = ("ingress_s", "select_s", "experts_s", "aggregate_s")


def noop_config(n: int) -> AppConfig:
    data = load_config("analytic").model_dump()
    data["experts"] = [{
        "name": f"noop-{i}", "backend": "synthetic", "modalities": ["text"], "skills": ["T1"],
        "description": f"no-op expert {i}", "timeout_s": 60, "options": {"delay_s": 0.0},
        "deployment": {"num_replicas": 1, "max_ongoing_requests": 8,
                       "ray_actor_options": {"num_cpus": 0.01}}} for i in range(n)]
    return parse_config(data)


def ray_cpu_s() -> dict[str, float]:
    """CPU seconds so far of each Ray process, by Serve replica name (others by program)."""
    out: dict[str, float] = {}
    for p in psutil.process_iter(["cmdline", "cpu_times"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if p.info["cpu_times"] is None or not any(
                s in cmd for s in ("ray::", "raylet", "gcs_server", "default_worker")):
            continue
        key = (cmd.split("ServeReplica:", 1)[1].split()[0] if "ServeReplica:" in cmd
               else cmd.split()[0].rsplit("/", 1)[-1])
        out[key] = out.get(key, 0.0) + p.info["cpu_times"].user + p.info["cpu_times"].system
    return out


def measure(call, n: int) -> tuple[list[float], list[dict], dict[str, float]]:
    """Latencies (s), the answers' timings, and Ray's CPU ms per call by process, of n calls
    in a row after a warm-up."""
    for _ in range(10):
        call()
    latencies, timings = [], []
    cpu_before = ray_cpu_s()
    for _ in range(n):
        started = time.perf_counter()
        answer = call()
        latencies.append(time.perf_counter() - started)
        timings.append(answer["timings"])
    cpu_after = ray_cpu_s()
    cpu = {k: (v - cpu_before.get(k, 0.0)) * 1000 / n for k, v in cpu_after.items()}
    return latencies, timings, {k: round(v, 2) for k, v in cpu.items() if v >= 0.05}


def row(path: str, k: int, latencies: list[float], timings: list[dict],
        cpu: dict[str, float]) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    out = {"path": path, "k": k, "requests": len(ms), "p50_ms": statistics.median(ms),
           "p99_ms": ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]}
    for hop in HOPS:
        out[hop.replace("_s", "_ms")] = statistics.median(t[hop] * 1000 for t in timings)
    out["outside_ms"] = statistics.median(
        (lat - t["total_s"]) * 1000 for lat, t in zip(latencies, timings))
    out["cpu_ms"] = sum(cpu.values())
    out["by_process"] = dict(sorted(cpu.items(), key=lambda kv: -kv[1]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", default="1,2,4,8")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--port", type=int, default=8432)
    ap.add_argument("--out", default=str(RESULTS / "overhead.json"))
    args = ap.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    start_serve(args.port)
    rows = []
    try:
        config = noop_config(max(ks))
        handle = serve.run(build_app(config), name=config.name, route_prefix="/")
        with httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=60) as http:
            for k in ks:
                body = {"question": "What does the note say?", "media": NOTE,
                        "experts": [f"noop-{i}" for i in range(k)]}
                rows.append(row("handle", k, *measure(lambda: runtime.ask(handle, body),
                                                      args.requests)))

                def over_http() -> dict:
                    r = http.post("/v1/reason", json=body)
                    r.raise_for_status()
                    return r.json()

                rows.append(row("http", k, *measure(over_http, args.requests)))
    finally:
        runtime.stop()

    cols = ["path", "k", "p50_ms", "p99_ms", "ingress_ms", "select_ms", "experts_ms",
            "aggregate_ms", "outside_ms", "cpu_ms"]
    print("| " + " | ".join(cols) + " |")
    print("|" + " --- |" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) if isinstance(r[c], (str, int)) else f"{r[c]:.1f}"
                                for c in cols) + " |")
    write_results(args.out, {"rows": rows})


if __name__ == "__main__":
    main()
