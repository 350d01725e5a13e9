"""Orchestration overhead: the full chain with experts that do nothing.

With k no-op experts (the synthetic backend, no delay) forced by the request, every millisecond
of a request is the chain itself: the ingress validating and publishing a small upload, the
orchestrator starting k calls, the experts' replicas answering, the aggregator gathering the reports
and answering, and the transport between them. One client sends requests one after another,
through the ingress handle and through HTTP (Serve's proxy, a keep-alive connection).

Two copies of the app run side by side and are measured in turn, so their ratio comes from one
run on this shared, noisy machine: `mexa-ray` (the config's `serve` defaults: calls by value
over Serve's gRPC transport with stdlib pickle, user code and routing on each replica's own
loop, an access line at the ingress only) and `serve defaults` (Ray actor calls with
cloudpickle, Serve's threads, an access line in every replica: `serve.transport: actor`,
`replica_env: {}`, `access_log: all`). A third app, `bare serve chain`, is Serve's floor for the
same shape: empty deployments in the same places (ingress -> orchestrator -> k experts, then the
aggregator), with mexa-ray's transport and replica settings and none of our code; mexa-ray's p50
over it is what our code adds.

    python benchmarks/overhead.py [--ks 1,2,4,8] [--requests 200] [--haproxy]

Prints a table and writes benchmarks/results/overhead.json. The hop columns are medians of the
answer's own `timings` (ingress: validation and upload; select: routing; experts: from fan-out
to the last report; aggregate: answering); `outside` is the client's latency minus the chain's
`total_s`, the cost of getting the request to the ingress and the answer back (the handle call,
or the HTTP proxy). `chain_cpu` is the CPU time the app's replicas (and Serve's proxy, over
HTTP) spent per request: on this 2-core machine the chain is CPU-bound, so that, not waiting, is
what sets the latency. The JSON's `cpu_ms` adds every other Ray process (the controller, raylet,
GCS: background work that lands in any window) and `by_process` splits it per process. The
report texts repeat, so the embedder's cache makes the aggregator's evidence ranking nearly free
here: this measures the orchestration, not the models.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import time

import httpx
import psutil
from bench_io import RESULTS, start_serve, write_results
from ray import serve
from ray.serve.handle import DeploymentHandle

from mexa_ray.config import DEFAULT_REPLICA_ENV, AppConfig, load_config, parse_config
from mexa_ray.serving import runtime
from mexa_ray.serving.transport import by_value

NOTE = [{"type": "text", "data": base64.b64encode(b"A note.").decode(), "format": "txt"}]
HOPS = ("ingress_s", "select_s", "experts_s", "aggregate_s")


SETUPS = {
    "mexa-ray": ("mexa", "/", {}),
    "serve defaults": (
        "mexa-serve-defaults",
        "/serve-defaults",
        {"transport": "actor", "replica_env": {}, "access_log": "all"},
    ),
}


def noop_config(n: int, name: str = "mexa", serve_settings: dict | None = None) -> AppConfig:
    data = load_config("analytic").model_dump()
    data["name"] = name
    data["serve"] = {**data["serve"], **(serve_settings or {})}
    data["experts"] = [
        {
            "name": f"noop-{i}",
            "backend": "synthetic",
            "modalities": ["text"],
            "skills": ["T1"],
            "description": f"no-op expert {i}",
            "timeout_s": 60,
            "settings": {"delay_s": 0.0},
            "deployment": {
                "num_replicas": 1,
                "max_ongoing_requests": 8,
                "ray_actor_options": {"num_cpus": 0.01},
            },
        }
        for i in range(n)
    ]
    return parse_config(data)


@serve.deployment(max_ongoing_requests=8, ray_actor_options={"num_cpus": 0.01})
class BareLeaf:
    async def __call__(self, x: object) -> object:
        return x


@serve.deployment(max_ongoing_requests=8, ray_actor_options={"num_cpus": 0.01})
class BareOrchestrator:
    def __init__(self, experts: list[DeploymentHandle], aggregator: DeploymentHandle) -> None:
        self.experts = [by_value(h) for h in experts]
        self.aggregator = by_value(aggregator)

    async def __call__(self, k: int) -> object:
        reports = await asyncio.gather(*(e.remote(k) for e in self.experts[:k]))
        return await self.aggregator.remote(reports)


@serve.deployment(max_ongoing_requests=8, ray_actor_options={"num_cpus": 0.01})
class BareIngress:
    def __init__(self, orchestrator: DeploymentHandle) -> None:
        self.orchestrator = by_value(orchestrator)

    async def __call__(self, k: int) -> dict:
        started = time.time()
        await self.orchestrator.remote(k)
        return {"timings": {"total_s": time.time() - started}}


def bare_chain(n: int) -> DeploymentHandle:
    """Serve's floor for our chain's shape: empty deployments in the same places (ingress ->
    orchestrator -> k experts, then the aggregator), with mexa-ray's transport and replica settings
    and no code of ours."""
    env = {"runtime_env": {"env_vars": DEFAULT_REPLICA_ENV}, "num_cpus": 0.01}
    leaf = BareLeaf.options(ray_actor_options=env)
    experts = [leaf.options(name=f"bare-expert-{i}").bind() for i in range(n)]
    orchestrator = BareOrchestrator.options(ray_actor_options=env).bind(
        experts, leaf.options(name="bare-aggregator").bind()
    )
    app = BareIngress.options(ray_actor_options=env).bind(orchestrator)
    return by_value(serve.run(app, name="bare-chain", route_prefix=None))


def ray_cpu_s() -> dict[str, float]:
    """CPU seconds so far of each Ray process, by Serve replica name (others by program)."""
    out: dict[str, float] = {}
    for p in psutil.process_iter(["cmdline", "cpu_times"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if p.info["cpu_times"] is None or not any(
            s in cmd for s in ("ray::", "raylet", "gcs_server", "default_worker")
        ):
            continue
        key = (
            cmd.split("ServeReplica:", 1)[1].split()[0]
            if "ServeReplica:" in cmd
            else cmd.split()[0].rsplit("/", 1)[-1]
        )
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


def row(
    setup: str,
    app: str,
    path: str,
    k: int,
    latencies: list[float],
    timings: list[dict],
    cpu: dict[str, float],
) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    out = {
        "setup": setup,
        "path": path,
        "k": k,
        "requests": len(ms),
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))],
    }
    for hop in HOPS:  # the bare chain has no hops of ours
        out[hop.replace("_s", "_ms")] = (
            statistics.median(t[hop] * 1000 for t in timings)
            if all(hop in t for t in timings)
            else None
        )
    out["outside_ms"] = statistics.median(
        (lat - t["total_s"]) * 1000 for lat, t in zip(latencies, timings)
    )
    # the chain's own processes: the app's replicas, and Serve's proxy over HTTP (the rest,
    # the controller above all, does background work that lands in any request's window)
    out["chain_cpu_ms"] = sum(
        v
        for p, v in cpu.items()
        if p.startswith(f"{app}:") or (path == "http" and p.startswith("ray::ProxyActor"))
    )
    out["cpu_ms"] = sum(cpu.values())
    out["by_process"] = dict(sorted(cpu.items(), key=lambda kv: -kv[1]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", default="1,2,4,8")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--port", type=int, default=8432)
    ap.add_argument(
        "--haproxy",
        action="store_true",
        help="HTTP through Serve's HAProxy ingress instead of its Python proxy",
    )
    ap.add_argument(
        "--out", default=None, help="default: benchmarks/results/overhead[_haproxy].json"
    )
    args = ap.parse_args()
    out = args.out or RESULTS / ("overhead_haproxy.json" if args.haproxy else "overhead.json")
    ks = [int(k) for k in args.ks.split(",")]
    start_serve(args.port, haproxy=args.haproxy)
    rows = []
    try:
        handles = {
            setup: runtime.deploy(noop_config(max(ks), name, settings), prefix)
            for setup, (name, prefix, settings) in SETUPS.items()
        }
        bare = bare_chain(max(ks))
        with httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=60) as http:
            for k in ks:
                body = {
                    "question": "What does the note say?",
                    "media": NOTE,
                    "experts": [f"noop-{i}" for i in range(k)],
                }
                rows.append(
                    row(
                        "bare serve chain",
                        "bare-chain",
                        "handle",
                        k,
                        *measure(lambda: bare.remote(k).result(timeout_s=60), args.requests),
                    )
                )
                for path in ("handle", "http"):
                    for setup, (app, prefix, _) in SETUPS.items():

                        def call(handle=handles[setup], url=prefix.rstrip("/") + "/v1/reason"):
                            if path == "handle":
                                return runtime.ask(handle, body)
                            r = http.post(url, json=body)
                            r.raise_for_status()
                            return r.json()

                        rows.append(row(setup, app, path, k, *measure(call, args.requests)))
    finally:
        runtime.stop()

    cols = [
        "setup",
        "path",
        "k",
        "p50_ms",
        "p99_ms",
        "ingress_ms",
        "select_ms",
        "experts_ms",
        "aggregate_ms",
        "outside_ms",
        "chain_cpu_ms",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + " --- |" * len(cols))
    for r in rows:
        print(
            "| "
            + " | ".join(
                "" if r[c] is None else str(r[c]) if isinstance(r[c], (str, int)) else f"{r[c]:.1f}"
                for c in cols
            )
            + " |"
        )
    ratios = []
    for r in rows:
        if r["setup"] == "mexa-ray":
            base = next(
                d
                for d in rows
                if d["setup"] == "serve defaults" and (d["path"], d["k"]) == (r["path"], r["k"])
            )
            q = {
                "path": r["path"],
                "k": r["k"],
                "p50_ratio": r["p50_ms"] / base["p50_ms"],
                "cpu_ratio": r["chain_cpu_ms"] / base["chain_cpu_ms"],
            }
            if r["path"] == "handle":  # the bare chain runs through the handle only
                floor = next(
                    d for d in rows if d["setup"] == "bare serve chain" and d["k"] == r["k"]
                )
                q["over_bare_ms"] = r["p50_ms"] - floor["p50_ms"]
            ratios.append(q)
    print("\nmexa-ray / serve defaults, same run (and mexa-ray's p50 over the bare chain's):")
    for q in ratios:
        extra = f", +{q['over_bare_ms']:.1f} ms over bare" if "over_bare_ms" in q else ""
        print(
            f"  {q['path']:6} k={q['k']}: p50 x{q['p50_ratio']:.2f}, "
            f"cpu x{q['cpu_ratio']:.2f}{extra}"
        )
    write_results(
        out,
        {
            "http_ingress": "haproxy" if args.haproxy else "serve proxy",
            "rows": rows,
            "ratios": ratios,
        },
    )


if __name__ == "__main__":
    main()
