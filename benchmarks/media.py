"""Large media through the chain: passed by reference, not copied per expert.

A point cloud of about 100 MB (`.npy`, float32 x, y, z) goes to k experts that read point
clouds, once by path (under a media root: read in place) and once uploaded in the request body
(base64: the ingress checks it, writes it to the node's media cache and puts it in the object
store once). The experts are the synthetic backend, so the time measured is the transport.

    python benchmarks/media.py [--mb 100] [--experts 4] [--repeats 3]

For each way it reports the request's size on the wire, the bytes each expert call carries (the
pickled query the orchestrator sends, media by reference), what passing the media by value would
carry (the file, once per expert), the latency, the ingress's share (decode, hash, probe,
publish) and the time from sending the request to the first expert starting. Prints a table and
writes benchmarks/results/media.json.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from bench_io import RESULTS, start_serve, write_results
from ray import cloudpickle, serve

from mexa_ray.config import AppConfig, load_config, parse_config
from mexa_ray.serving import runtime
from mexa_ray.serving.app import build_app
from mexa_ray.types import Media, Query


def points_config(root: Path, k: int) -> AppConfig:
    data = load_config("analytic").model_dump()
    data["media"]["roots"] = [str(root)]
    data["ingress"]["max_body_bytes"] = 2**31 - 1
    data["experts"] = [
        {
            "name": f"reader-{i}",
            "backend": "synthetic",
            "modalities": ["points"],
            "skills": ["C1"],
            "description": f"reads a point cloud {i}",
            "timeout_s": 300,
            "settings": {"delay_s": 0.0},
            "deployment": {
                "num_replicas": 1,
                "max_ongoing_requests": 4,
                "ray_actor_options": {"num_cpus": 0.01},
            },
        }
        for i in range(k)
    ]
    return parse_config(data)


def expert_call_bytes(size: int) -> tuple[int, int]:
    """(pickled query with the media by object reference, the same with the bytes inline)."""
    import ray

    media = Media("points", format="npy", sha256="0" * 64)
    # an upload this large sits in the object store: the query carries its ObjectRef
    by_ref = Query("Describe the room.", media=[dataclasses.replace(media, ref=ray.put(b"x"))])
    by_value = len(cloudpickle.dumps(Query("Describe the room.", media=[media]))) + size
    return len(cloudpickle.dumps(by_ref)), by_value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=100.0)
    ap.add_argument("--experts", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--port", type=int, default=8433)
    ap.add_argument("--out", default=str(RESULTS / "media.json"))
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="mexa-media-bench-"))
    n = int(args.mb * 2**20 / 12)
    cloud = root / "room.npy"
    np.save(cloud, np.random.default_rng(0).random((n, 3), dtype=np.float32))
    size = cloud.stat().st_size
    upload = base64.b64encode(cloud.read_bytes()).decode()
    names = [f"reader-{i}" for i in range(args.experts)]
    ways = {
        "by path": {"type": "points", "path": str(cloud)},
        "uploaded": {"type": "points", "data": upload, "format": "npy"},
    }

    start_serve(args.port, object_store_mb=1024)
    rows = []
    try:
        serve.run(build_app(points_config(root, args.experts)), name="mexa", route_prefix="/")
        with httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=600) as http:
            for way, item in ways.items():
                body = json.dumps(
                    {"question": "Describe the room.", "experts": names, "media": [item]}
                ).encode()
                latencies, ingress, first = [], [], []
                for _ in range(args.repeats):
                    sent = time.time()
                    r = http.post(
                        "/v1/reason", content=body, headers={"content-type": "application/json"}
                    )
                    latencies.append(time.time() - sent)
                    answer = r.json()
                    assert r.status_code == 200 and len(answer["reports"]) == args.experts, r.text
                    ingress.append(answer["timings"]["ingress_s"])
                    first.append(min(x["started_at"] for x in answer["reports"]) - sent)
                by_ref, by_value = expert_call_bytes(size)
                rows.append(
                    {
                        "way": way,
                        "media_mb": size / 2**20,
                        "experts": args.experts,
                        "request_mb": len(body) / 2**20,
                        "per_expert_call_bytes": by_ref
                        if way == "uploaded"
                        else len(
                            cloudpickle.dumps(
                                Query(
                                    "Describe the room.",
                                    media=[Media("points", path=str(cloud), format="npy")],
                                )
                            )
                        ),
                        "by_value_per_expert_mb": by_value / 2**20,
                        "latency_s": statistics.median(latencies),
                        "ingress_s": statistics.median(ingress),
                        "first_expert_start_s": statistics.median(first),
                    }
                )
    finally:
        runtime.stop()

    print(
        "| way | media MB | request MB | bytes per expert call | by value, per expert MB | "
        "latency s | ingress s | first expert starts s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['way']} | {r['media_mb']:.0f} | {r['request_mb']:.1f} | "
            f"{r['per_expert_call_bytes']} | {r['by_value_per_expert_mb']:.0f} | "
            f"{r['latency_s']:.2f} | {r['ingress_s']:.2f} | {r['first_expert_start_s']:.2f} |"
        )
    write_results(args.out, {"rows": rows})


if __name__ == "__main__":
    main()
