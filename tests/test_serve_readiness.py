"""Readiness on a small app of its own on the session's Ray, whose expert takes seconds to load
(a synthetic `load_s`, where a real expert loads its model): `/readyz` answers 503 naming that
expert's deployment while it loads, and again while its replica is replaced, and 200 once it
can answer; a request sent the moment it first answers 200 is not kept waiting."""

from __future__ import annotations

import base64
import statistics
import threading
import time

import httpx
import pytest

from mexa_ray.config import parse_config

pytestmark = pytest.mark.serve

SMALL = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0.05}}
APP = "mexa-ready"
LOAD_S = 8.0
NOTE = {"type": "text", "format": "txt", "data": base64.b64encode(b"hello").decode()}


def body(n: int) -> dict:
    """A request of its own: the aggregator memoises the embeddings of texts it has seen, so a
    repeated question would make the later requests faster than any first one."""
    return {"question": f"What does note {n} say?", "experts": ["slow-loader"], "media": [NOTE]}


def wait_for(http: httpx.Client, status: int, timeout_s: float) -> tuple[httpx.Response, float]:
    """Poll /readyz until it answers `status` (JSON); the answer and when it came."""
    end = time.monotonic() + timeout_s
    seen = []
    while True:
        try:
            r = http.get("/readyz")
            if r.status_code == status and r.headers["content-type"] == "application/json":
                return r, time.perf_counter()
            seen.append((round(time.monotonic() - end + timeout_s, 1), r.status_code, r.text[:80]))
        except httpx.HTTPError as exc:
            seen.append((round(time.monotonic() - end + timeout_s, 1), repr(exc)[:60]))
        assert time.monotonic() < end, (
            f"/readyz did not answer {status} in {timeout_s} s: {seen[:3]} .. {seen[-3:]}"
        )
        time.sleep(0.1)


def test_ready_only_when_every_expert_can_answer(serve_app):
    import ray
    from ray import serve

    from mexa_ray.serving.app import build_app

    _, base_url = serve_app
    config = parse_config(
        {
            "name": APP,
            "router": {"deployment": SMALL},
            "aggregator": {"deployment": SMALL},
            "ingress": {"deployment": SMALL},
            "experts": [
                {
                    "name": "slow-loader",
                    "backend": "synthetic",
                    "modalities": ["text"],
                    "skills": ["T1"],
                    "description": "Reads a note, after loading for a while.",
                    "settings": {"delay_s": 0.3, "load_s": LOAD_S},
                    "deployment": SMALL,
                }
            ],
        }
    )
    # serve.run returns once the app runs; from a thread, the test watches it start
    deploying = threading.Thread(
        target=lambda: serve.run(build_app(config), name=APP, route_prefix="/ready")
    )
    deploying.start()
    try:
        with httpx.Client(base_url=f"{base_url}/ready", timeout=60) as http:
            loading, _ = wait_for(http, 503, timeout_s=120)
            assert loading.json()["ready"] is False
            assert "expert-slow-loader" in loading.json()["waiting"], loading.json()
            assert http.get("/healthz").status_code == 200  # alive, not ready

            ready, at = wait_for(http, 200, timeout_s=120)
            assert ready.json() == {"ready": True, "app": APP, "waiting": {}}
            first = http.post("/v1/reason", json=body(0))
            first_s = time.perf_counter() - at
            assert first.status_code == 200 and not first.json()["missing"], first.text
            after = []
            for n in range(1, 6):
                started = time.perf_counter()
                assert http.post("/v1/reason", json=body(n)).status_code == 200
                after.append(time.perf_counter() - started)
            assert first_s <= 1.5 * statistics.median(after), (first_s, after)

            # the expert's replica lost: not ready until its replacement has loaded
            [victim] = [
                a["name"]
                for a in ray.util.list_named_actors(all_namespaces=True)
                if a["name"].startswith(f"SERVE_REPLICA::{APP}#expert-slow-loader#")
            ]
            ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
            down, _ = wait_for(http, 503, timeout_s=60)
            assert list(down.json()["waiting"]) == ["expert-slow-loader"], down.json()
            wait_for(http, 200, timeout_s=120)
            answer = http.post("/v1/reason", json=body(6)).json()
            assert [r["expert"] for r in answer["reports"]] == ["slow-loader"], answer
    finally:
        deploying.join(timeout=120)
        serve.delete(APP)
