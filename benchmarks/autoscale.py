"""A step load against one expert, with a fixed replica and with Serve autoscaling, on a local
multi-node cluster (a head and three worker raylets with logical GPUs, as in tests/test_cluster.py).

The expert is synthetic (a fixed sleep per call, one GPU per replica, one replica per worker
node), so what is measured is Serve's scaling, not a model. The load steps from 1 client to
`--clients` clients and back to 1, then stops; each run records every request (when sent, its
latency, its status) and samples the expert's RUNNING replicas every 0.25 s.

    python benchmarks/autoscale.py [--clients 8] [--delay 0.5] [--step 20]

Prints a table, writes benchmarks/results/autoscale.json and a plot (autoscale.png): latency
over time and the replica count, per run. Time to scale up: from the step up to max replicas;
time to scale down: from the step down to the minimum again.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from bench_io import RESULTS, write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import pick_free_port

from mexa_ray.config import parse_config
from mexa_ray.serving.runtime import deploy

WORKERS = 3


def app(name: str, media: Path, delay: float, autoscale: bool) -> dict:
    head = {"ray_actor_options": {"num_cpus": 0.1, "resources": {"head_slot": 1}}}
    scaling = (
        {
            "autoscaling_config": {
                "min_replicas": 1,
                "max_replicas": WORKERS,
                "target_ongoing_requests": 1,
                "upscale_delay_s": 0.5,
                "downscale_delay_s": 3,
                "look_back_period_s": 1,
                "metrics_interval_s": 0.2,
            }
        }
        if autoscale
        else {"num_replicas": 1}
    )
    return {
        "name": name,
        "request_deadline_s": 60,
        "router": {"kind": "embedding", "deployment": head},
        "aggregator": {"kind": "evidence", "deployment": head},
        "media": {"roots": [str(media)]},
        "ingress": {"deployment": head},
        "experts": [
            {
                "name": "elastic",
                "backend": "synthetic",
                "modalities": ["text"],
                "skills": ["T1"],
                "description": "A fixed sleep.",
                "timeout_s": 60,
                "settings": {"delay_s": delay},
                "deployment": {
                    "max_ongoing_requests": 2,
                    **scaling,
                    "ray_actor_options": {
                        "num_cpus": 0.1,
                        "num_gpus": 1,
                        "resources": {"spread_slot": 1},
                    },
                },
            }
        ],
    }


def run(base: str, name: str, media: Path, clients: int, step: float) -> dict:
    from ray import serve

    def running() -> int:
        status = serve.status().applications[name].deployments["expert-elastic"]
        return status.replica_states.get("RUNNING", 0)

    requests: list[tuple[float, float, int]] = []
    replicas: list[tuple[float, int]] = []
    phases = [(1, step / 2), (clients, step), (1, step / 2)]
    start = time.time()
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.is_set():
            replicas.append((time.time() - start, running()))
            time.sleep(0.25)

    def client(until: float) -> None:
        with httpx.Client(timeout=90) as http:
            while time.time() < until:
                sent = time.time()
                r = http.post(
                    f"{base}/v1/reason",
                    json={
                        "question": "What does the note say?",
                        "experts": ["elastic"],
                        "media": [{"type": "text", "path": str(media / "note.txt")}],
                    },
                )
                requests.append((sent - start, time.time() - sent, r.status_code))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    edges, t = [], start
    for count, seconds in phases:
        edges.append(t - start)
        threads = [threading.Thread(target=client, args=(t + seconds,)) for _ in range(count)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        t += seconds
    load_end = time.time() - start
    top = max(n for _, n in replicas)
    while running() > 1 and time.time() - start < load_end + 120:
        time.sleep(0.25)
    time.sleep(0.5)
    stop_sampling.set()
    sampler.join()
    up = next((ts - edges[1] for ts, n in replicas if ts >= edges[1] and n == top), None)
    # from the step down (1 client again) to the minimum
    down = next((ts - edges[2] for ts, n in replicas if ts >= edges[2] and n == 1), None)
    lat = sorted(latency for _, latency, status in requests if status == 200)
    burst = sorted(
        latency
        for sent, latency, status in requests
        if status == 200 and edges[1] <= sent < edges[2]
    )

    def pct(values: list[float], q: float) -> float | None:
        return values[min(len(values) - 1, int(q * len(values)))] if values else None

    return {
        "requests": len(requests),
        "ok": sum(s == 200 for *_, s in requests),
        "p50_s": statistics.median(lat) if lat else None,
        "p99_s": pct(lat, 0.99),
        "burst_p50_s": statistics.median(burst) if burst else None,
        "burst_p99_s": pct(burst, 0.99),
        "max_replicas": top,
        "scale_up_s": up if top > 1 else None,
        "scale_down_s": down if top > 1 else None,
        "step_edges_s": edges + [load_end],
        "timeline": {"requests": requests, "replicas": replicas},
    }


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for label, res in results.items():
        reqs = res["timeline"]["requests"]
        axes[0].scatter([s for s, _, _ in reqs], [lat for _, lat, _ in reqs], s=4, label=label)
        reps = res["timeline"]["replicas"]
        axes[1].step([t for t, _ in reps], [n for _, n in reps], where="post", label=label)
    axes[0].set_ylabel("latency (s)")
    axes[1].set_ylabel("RUNNING replicas")
    axes[1].set_xlabel("seconds since the load started")
    for ax in axes:
        for edge in next(iter(results.values()))["step_edges_s"][1:]:
            ax.axvline(edge, color="grey", lw=0.5)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per expert call")
    parser.add_argument("--step", type=float, default=20, help="seconds of the high step")
    parser.add_argument("--out", default=str(RESULTS / "autoscale.json"))
    args = parser.parse_args()

    import ray
    from ray import serve
    from ray.cluster_utils import Cluster

    store = 200 * 2**20
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 4,
            "resources": {"head_slot": 100},
            "object_store_memory": store,
        },
    )
    for _ in range(WORKERS):
        cluster.add_node(
            num_cpus=4, num_gpus=1, object_store_memory=store, resources={"spread_slot": 1}
        )
    ray.init(address=cluster.address, log_to_driver=False)
    port = pick_free_port()
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
    media = Path(tempfile.mkdtemp(prefix="autoscale"))
    (media / "note.txt").write_text("A short note.")
    results = {}
    try:
        for label, autoscale in (("fixed 1 replica", False), (f"autoscaling 1-{WORKERS}", True)):
            name = "fixed" if not autoscale else "autoscaled"
            deploy(parse_config(app(name, media, args.delay, autoscale)))
            results[label] = run(f"http://127.0.0.1:{port}", name, media, args.clients, args.step)
            serve.delete(name)
    finally:
        serve.shutdown()
        ray.shutdown()
        cluster.shutdown()

    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.2f}"

    print(
        f"\nstep load: 1 -> {args.clients} -> 1 clients ({args.step:g} s high), "
        f"expert {args.delay} s per call"
    )
    print(
        "| run | requests | 200 | p50 s | p99 s | p50 s (high step) | p99 s (high step) "
        "| max replicas | scale up s | scale down s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, r in results.items():
        print(
            f"| {label} | {r['requests']} | {r['ok']} | {fmt(r['p50_s'])} | "
            f"{fmt(r['p99_s'])} | {fmt(r['burst_p50_s'])} | {fmt(r['burst_p99_s'])} | "
            f"{r['max_replicas']} | {fmt(r['scale_up_s'])} | {fmt(r['scale_down_s'])} |"
        )
    fixed, scaled = results.values()
    if fixed["burst_p99_s"] and scaled["burst_p99_s"]:
        print(
            f"p99 in the high step, fixed / autoscaled: "
            f"{fixed['burst_p99_s'] / scaled['burst_p99_s']:.2f}x"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(results, out.with_suffix(".png"))
    write_results(
        out, {"clients": args.clients, "delay_s": args.delay, "step_s": args.step, "runs": results}
    )


if __name__ == "__main__":
    main()
