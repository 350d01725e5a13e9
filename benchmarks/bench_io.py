"""What the benchmarks share: how they start a local Ray and Serve, and how they write their JSON
under benchmarks/results/, with the machine it ran on (figures from a 2-core build box and a GPU
node must not be mistaken for each other)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(out: str | Path, payload: dict) -> Path:
    """Write `payload` plus the machine's description as JSON to `out`; print and return it."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"machine": platform.platform(), "cpu_count": os.cpu_count(), **payload}, indent=2
        )
        + "\n"
    )
    print(f"wrote {path}")
    return path


def start_serve(port: int | None = None, object_store_mb: int = 300, haproxy: bool = False) -> None:
    """A local Ray with 4 logical CPUs (the replicas' fractional `num_cpus` fit on 2 cores) and
    Serve with its HTTP proxy on 127.0.0.1:`port`, or no proxy when `port` is None (handle calls
    only). `haproxy`: Serve's HAProxy ingress instead of its Python proxy (the variable must be in
    the environment Ray starts from; HAProxy then listens on all interfaces)."""
    import ray
    from ray import serve

    if haproxy:
        os.environ["RAY_SERVE_ENABLE_HA_PROXY"] = "1"

    ray.init(
        num_cpus=4,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=object_store_mb * 2**20,
    )
    where = (
        {"http_options": {"host": "127.0.0.1", "port": port}}
        if port is not None
        else {"proxy_location": "Disabled"}
    )
    serve.start(logging_config={"log_level": "WARNING"}, **where)
