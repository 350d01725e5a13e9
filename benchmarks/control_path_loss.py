"""Losing a node under load, on a local multi-node cluster (a head with the one HTTP proxy, and two
worker raylets with logical GPUs, as in tests/test_cluster.py): what clients see when the node
that holds part of the control path (ingress, orchestrator, aggregator) is removed.

Each layout deploys two synthetic experts with a replica on each worker (0.3 s a call) and a
control path placed as the layout says; 6 clients send 72 requests (deadline 8 s) and worker `a`
is removed 2 s in. A new node with `a`'s resources then joins, and the run waits for a full answer
and for every deployment to have its replicas again.

- `single-ingress-lost`: one replica each; the ingress on `a` (the issue's first check)
- `single-control-lost`: one replica each; the orchestrator and the aggregator on `a`
- `replicated`: docs/cluster.md's setting: two replicas each, one per node, the ingress on the
  frontend nodes (the head, where the proxy is, and `a`); `a` holds one of each
- `replicated-ingress-off-proxy`: as `replicated`, but the ingress on `a` and `b`, away from the
  proxy: why docs/cluster.md puts the ingress where the proxies are

    python benchmarks/control_path_loss.py [--layouts replicated,...] [--runs 1]

Prints a table and writes benchmarks/results/control_path_loss.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from bench_io import RESULTS, write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import pick_free_port

from mexa_ray.config import parse_config
from mexa_ray.serving.runtime import deploy
from mexa_ray.serving.serve_config import http_options

DEADLINE_S = 8.0
REQUESTS = 72
CLIENTS = 6
STORE = 200 * 2**20
#: worker a (lost and replaced) and worker b; the head also has frontend_slot and head_slot
NODE_A = {"expert_slot": 100, "frontend_slot": 100, "a_slot": 100}
NODE_B = {"expert_slot": 100, "b_slot": 100}

LAYOUTS = [
    "single-ingress-lost",
    "single-control-lost",
    "replicated",
    "replicated-ingress-off-proxy",
]


def placement(layout: str) -> dict[str, dict]:
    """The ingress, router (orchestrator) and aggregator deployment settings of a layout."""

    def on(slot: str, replicas: int = 1) -> dict:
        out: dict = {
            "num_replicas": replicas,
            "ray_actor_options": {"num_cpus": 0.1, "resources": {slot: 1}},
        }
        if replicas > 1:
            out["max_replicas_per_node"] = 1
        return out

    if layout == "single-ingress-lost":
        return {"ingress": on("a_slot"), "router": on("b_slot"), "aggregator": on("head_slot")}
    if layout == "single-control-lost":
        return {"ingress": on("head_slot"), "router": on("a_slot"), "aggregator": on("a_slot")}
    ingress = "frontend_slot" if layout == "replicated" else "expert_slot"
    return {
        "ingress": on(ingress, 2),
        "router": on("expert_slot", 2),
        "aggregator": on("expert_slot", 2),
    }


def app(layout: str, media: Path) -> dict:
    place = placement(layout)
    return {
        "name": f"loss-{layout}",
        "request_deadline_s": DEADLINE_S,
        "router": {"kind": "embedding", "deployment": place["router"]},
        "aggregator": {"kind": "evidence", "deployment": place["aggregator"]},
        "media": {"roots": [str(media)]},
        "ingress": {"deployment": place["ingress"]},
        "experts": [
            {
                "name": name,
                "backend": "synthetic",
                "modalities": ["text"],
                "skills": ["T1"],
                "description": f"Synthetic {name}.",
                "timeout_s": 6,
                "settings": {"delay_s": 0.3},
                "deployment": {
                    "num_replicas": 2,
                    "max_replicas_per_node": 1,
                    "ray_actor_options": {
                        "num_cpus": 0.1,
                        "num_gpus": 0.5,
                        "resources": {"expert_slot": 1},
                    },
                },
            }
            for name in ("left", "right")
        ],
    }


def replicas_running(name: str) -> dict[str, int]:
    from ray import serve

    deployments = serve.status().applications[name].deployments
    return {d: s.replica_states.get("RUNNING", 0) for d, s in deployments.items()}


def run(cluster, nodes: dict, base: str, layout: str, media: Path) -> dict:
    from ray import serve

    config = parse_config(app(layout, media))
    deploy(config)
    wanted = replicas_running(config.name)
    body = {
        "question": "What does the note say?",
        "experts": ["left", "right"],
        "deadline_s": DEADLINE_S,
        "media": [{"type": "text", "path": str(media / "note.txt")}],
    }
    outcomes: list[tuple[float, int, bool]] = []

    def one(_: int) -> None:
        sent = time.time()
        try:
            r = httpx.post(f"{base}/v1/reason", json=body, timeout=DEADLINE_S + 30)
            status, full = r.status_code, r.is_success and not r.json()["missing"]
        except httpx.HTTPError:
            status, full = 0, False  # the connection failed
        outcomes.append((time.time() - sent, status, full))

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            burst = pool.map(one, range(REQUESTS))
            time.sleep(2.0)
            lost_at = time.time()
            cluster.remove_node(nodes["a"])
            list(burst)
        nodes["a"] = cluster.add_node(
            num_cpus=8, num_gpus=3, object_store_memory=STORE, resources=NODE_A
        )
        full_again = restored = None
        while (full_again is None or restored is None) and time.time() - lost_at < 240:
            if full_again is None:
                try:
                    r = httpx.post(f"{base}/v1/reason", json=body, timeout=DEADLINE_S + 30)
                    if r.status_code == 200 and not r.json()["missing"]:
                        full_again = time.time() - lost_at
                except httpx.HTTPError:
                    pass
            if restored is None and replicas_running(config.name) == wanted:
                restored = time.time() - lost_at
            time.sleep(0.5)
    finally:
        serve.delete(config.name)
    statuses = Counter(status for _, status, _ in outcomes)
    return {
        "requests": len(outcomes),
        "full": sum(full for *_, full in outcomes),
        "degraded": sum(status == 200 and not full for _, status, full in outcomes),
        "errors": {str(s): n for s, n in sorted(statuses.items()) if s != 200},
        "late": sum(elapsed > DEADLINE_S + 2 for elapsed, _, _ in outcomes),
        "slowest_s": round(max(elapsed for elapsed, _, _ in outcomes), 2),
        "full_again_s": None if full_again is None else round(full_again, 1),
        "replicas_again_s": None if restored is None else round(restored, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "control_path_loss.json"))
    args = parser.parse_args()
    layouts = args.layouts.split(",")
    unknown = set(layouts) - set(LAYOUTS)
    if unknown:
        parser.error(f"unknown layouts {sorted(unknown)}; known: {', '.join(LAYOUTS)}")

    import ray
    from ray import serve
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 8,
            "object_store_memory": STORE,
            "resources": {"head_slot": 100, "frontend_slot": 100},
        },
    )
    nodes = {
        "a": cluster.add_node(num_cpus=8, num_gpus=3, object_store_memory=STORE, resources=NODE_A),
        "b": cluster.add_node(num_cpus=8, num_gpus=3, object_store_memory=STORE, resources=NODE_B),
    }
    ray.init(address=cluster.address, log_to_driver=False)
    port = pick_free_port()
    media = Path(tempfile.mkdtemp(prefix="mexa-loss-"))
    (media / "note.txt").write_text("A short note.")
    any_config = parse_config(app("replicated", media))
    # one proxy, on the head: every raylet here shares 127.0.0.1 (a real cluster puts a load
    # balancer in front of the frontend nodes' proxies)
    serve.start(proxy_location="HeadOnly", http_options=http_options(any_config, "127.0.0.1", port))
    base = f"http://127.0.0.1:{port}"
    results: dict[str, list[dict]] = {}
    try:
        for _ in range(args.runs):
            for layout in layouts:
                results.setdefault(layout, []).append(run(cluster, nodes, base, layout, media))
                print(layout, results[layout][-1], flush=True)
    finally:
        serve.shutdown()
        ray.shutdown()
        cluster.shutdown()

    print(
        f"\n{'layout':30} {'full':>5} {'degraded':>8} {'errors':>14} {'late':>5} "
        f"{'slowest s':>9} {'full again s':>12} {'replicas again s':>16}"
    )
    for layout, runs in results.items():
        for r in runs:
            errors = ",".join(f"{s}x{n}" for s, n in r["errors"].items()) or "-"
            print(
                f"{layout:30} {r['full']:>5} {r['degraded']:>8} {errors:>14} {r['late']:>5} "
                f"{r['slowest_s']:>9} {r['full_again_s']!s:>12} {r['replicas_again_s']!s:>16}"
            )
    write_results(
        args.out,
        {
            "deadline_s": DEADLINE_S,
            "requests": REQUESTS,
            "clients": CLIENTS,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
