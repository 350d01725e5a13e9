"""Readiness: whether every deployment of the app can answer now.

The ingress answers HTTP as soon as its own replica exists, while expert replicas may still be
loading their models (Serve marks a replica RUNNING only once its constructor, which loads and
warms the models, has returned). A load balancer or a Kubernetes readiness probe that took the
ingress's answer for readiness sent the first requests into that wait. Ready here means every
deployment of the app has at least one RUNNING replica; the answer names the others and why.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ray import serve


def _readiness(app: str) -> dict[str, Any]:
    status = serve.status().applications.get(app)
    if status is None:
        return {"ready": False, "app": app, "waiting": {}}
    waiting = {}
    for name, d in sorted(status.deployments.items()):
        state, replicas = _name(d.status), {_name(s): n for s, n in d.replica_states.items()}
        if not _ready(state, replicas):
            # the message's first line: a failed constructor's holds its traceback, and the
            # route needs no key
            message = (d.message or "").strip().split("\n", 1)[0][:200]
            waiting[name] = {"status": state, "replicas": replicas, "message": message}
    return {"ready": not waiting, "app": app, "waiting": waiting}


def _ready(status: str, replicas: dict[str, int]) -> bool:
    """A running replica, or none at all and none wanted (autoscaled to zero: Serve starts one
    for the first request)."""
    return replicas.get("RUNNING", 0) > 0 or (status == "HEALTHY" and not any(replicas.values()))


def _name(value: object) -> str:
    """A status's name: a deployment's status is a str enum, its replica states' keys plain
    strings (though typed as enums)."""
    return str(getattr(value, "value", value))


#: the last answer per app, for when the controller cannot be asked
_last: dict[str, dict[str, Any]] = {}
#: the controller question in flight per app: a probe that timed out leaves it to the next
#: probe instead of blocking one more thread on an absent controller
_asking: dict[str, asyncio.Future] = {}


async def readiness(app: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """{"ready", "app", "waiting": {deployment: {status, replicas by state, message}}}; asks the
    Serve controller (a blocking call, so in a thread). While the controller cannot answer
    within `timeout_s` (its head node is away: replicas keep serving), the last answer stands,
    marked `stale` with the reason: taking every pod out of service then would stop a working
    app."""
    asking = _asking.get(app)
    if asking is None or asking.done():
        asking = _asking[app] = asyncio.ensure_future(asyncio.to_thread(_readiness, app))
    try:
        state = await asyncio.wait_for(asyncio.shield(asking), timeout_s)
    except Exception as exc:  # noqa: BLE001 - any failure to ask is "unknown", not an error
        last = _last.get(app, {"ready": False, "app": app, "waiting": {}})
        reason = str(exc) or type(exc).__name__
        return {**last, "stale": f"Serve's controller did not answer: {reason}"}
    _last[app] = state
    return state
