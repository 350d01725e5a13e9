"""Where each expert replica runs: its node and the GPU ids Ray gave it.

Serve's public API reports how many replicas a deployment has in each state, not where they run
or which GPUs they hold, and a user of a multi-GPU cluster asks exactly that first ("is the 32B
model on the LRM node? do two whole-GPU experts share a card?"). Each expert replica records
itself, once, in one small named actor per app on the head node; `GET /v1/experts` reads it and
marks the replicas whose node is gone.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import ray

log = logging.getLogger("ray.serve")

#: a resource only the head node has: the registry must outlive worker nodes
HEAD_RESOURCE = "node:__internal_head__"


@ray.remote(num_cpus=0, max_restarts=-1)
class PlacementRegistry:
    def __init__(self) -> None:
        self.replicas: dict[str, dict[str, Any]] = {}

    def put(self, record: dict[str, Any]) -> None:
        self.replicas[record["key"]] = record

    def update(self, replica: str, fields: dict[str, Any]) -> None:
        if replica in self.replicas:
            self.replicas[replica].update(fields)

    def remove(self, replica: str) -> None:
        self.replicas.pop(replica, None)

    def all(self) -> list[dict[str, Any]]:
        return list(self.replicas.values())


def registry(app: str):
    # @ray.remote makes the class an ActorClass, which Ray's hints do not say
    return PlacementRegistry.options(  # type: ignore[attr-defined]
        # v2: records keyed by replica and expert (a group's replica holds several); a detached
        # v1 registry left by an older release keeps its own name and code
        name=f"mexa-placement-v2:{app}",
        namespace="serve",
        get_if_exists=True,
        lifetime="detached",
        resources={HEAD_RESOURCE: 0.001},
    ).remote()


def record_replica(name: str, role: str = "expert") -> str | None:
    """Record this replica as `name`'s (called in its constructor; a group's replica records
    itself once per expert it holds); the record's key, or None outside Serve."""
    from ray import serve

    try:
        context = serve.get_replica_context()
    except RuntimeError:
        return None
    runtime = ray.get_runtime_context()
    replica = context.replica_id.unique_id
    key = f"{replica}/{name}"
    record = {
        "key": key,
        "name": name,
        "role": role,
        "replica": replica,
        "node_id": runtime.get_node_id(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "node_ip": ray.util.get_node_ip_address(),
        "pid": os.getpid(),
        "gpu_ids": [str(g) for g in runtime.get_accelerator_ids().get("GPU", [])],
        "started_at": time.time(),
    }
    try:
        ray.get(registry(context.app_name).put.remote(record), timeout=10)
    except Exception as exc:  # noqa: BLE001 - for people; never fail the replica for it
        log.warning("could not record replica %s of %s: %s", replica, name, exc)
    return key


def update_replica(replica: str | None, **fields: Any) -> None:
    """Add to this replica's record (its peak memory, from its health checks); never waits."""
    from ray import serve

    if replica is None:
        return
    try:
        registry(serve.get_replica_context().app_name).update.remote(replica, fields)
    except Exception as exc:  # noqa: BLE001 - for people only: never fail a health check
        log.warning("could not update replica %s: %s", replica, exc)


def forget_replica(replica: str | None) -> None:
    """Drop this replica's record when Serve stops it (scale-down, redeploy)."""
    from ray import serve

    if replica is None:
        return
    try:
        registry(serve.get_replica_context().app_name).remove.remote(replica)
    except Exception:  # noqa: BLE001 - shutting down: its node's state marks the record
        pass


async def placements(app: str, role: str = "expert") -> dict[str, list[dict[str, Any]]]:
    """Each expert's (or the aggregator's) recorded replicas, with their node's state: RUNNING
    while the node is alive, NODE_LOST once it is gone (Serve starts a replacement elsewhere if
    it can)."""
    try:
        records = await registry(app).all.remote()
    except Exception as exc:  # noqa: BLE001 - the listing goes on without placements
        log.warning("placement registry unavailable: %s", exc)
        return {}
    alive = {n["NodeID"]: n for n in ray.nodes() if n.get("Alive")}
    out: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(records, key=lambda r: (r["name"], r["started_at"])):
        if r["role"] != role:
            continue
        node = alive.get(r["node_id"])
        out.setdefault(r["name"], []).append(
            {
                "replica": r["replica"],
                "node_id": r["node_id"],
                "node_ip": r["node_ip"],
                "node_resources": sorted(
                    k
                    for k in (node or {}).get("Resources", {})
                    if not k.startswith(
                        ("node:", "CPU", "GPU", "memory", "object_store_memory", "accelerator_type")
                    )
                ),
                "gpu_ids": r["gpu_ids"],
                "cuda_visible_devices": r["cuda_visible_devices"],
                "memory": r.get("memory"),
                "state": "RUNNING" if node else "NODE_LOST",
            }
        )
    return out
