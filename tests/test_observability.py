"""Request ids and per-expert metrics, read where an operator reads them: the replicas' log files
and Ray's Prometheus endpoint."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.serve


def serve_log_lines(containing: str) -> list[str]:
    import ray

    logs = Path(ray._private.worker._global_node.get_logs_dir_path()) / "serve"
    return [
        line
        for f in sorted(logs.glob("replica_*.log"))
        for line in f.read_text(errors="replace").splitlines()
        if containing in line
    ]


def wait_for(predicate, timeout_s: float = 30.0, every_s: float = 0.5):
    """Log files and metrics are flushed asynchronously: poll, bounded."""
    end = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > end:
            return value
        time.sleep(every_s)


def test_request_id_in_the_response_and_in_every_replicas_log_lines(http, demo_requests):
    rid = f"obs-{uuid.uuid4().hex[:12]}"
    r = http.post("/v1/reason", json=demo_requests[0], headers={"X-Request-Id": rid})
    assert r.status_code == 200, r.text
    assert r.json()["request_id"] == rid and r.headers["x-request-id"] == rid

    replicas = ("ingress", "orchestrator", "expert-table-profiler", "aggregator")

    def lines() -> list[str]:  # each replica writes its lines in its own time: wait for all
        found = serve_log_lines(rid)
        complete = (
            all(any(d in x for x in found) for d in replicas)
            and any("selected" in x for x in found)
            and any("expert table-profiler" in x for x in found)
            and any("answered" in x for x in found)
        )
        return found if complete else []

    found = wait_for(lines) or serve_log_lines(rid)
    # Serve's access line at the ingress (the default `serve.access_log`), and the library's
    # own lines in the orchestrator, the expert and the aggregator, all carry Serve's id
    assert any("ingress" in x and "/v1/reason" in x and "200" in x for x in found), found
    assert any("selected ['table-profiler']" in x for x in found), found
    assert any("expert table-profiler skill F2" in x for x in found), found
    assert any("answered 'benign' from 1 reports (0 missing)" in x for x in found), found
    assert {d for d in replicas if any(d in x for x in found)} == set(replicas), found


def test_a_generated_request_id_is_the_same_in_body_and_header(http, demo_requests):
    r = http.post("/v1/reason", json=demo_requests[0])
    assert r.status_code == 200
    assert r.json()["request_id"] == r.headers["x-request-id"] != ""


def metrics_text() -> str:
    import ray

    port = ray._private.worker._global_node.metrics_export_port
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    except httpx.HTTPError:
        return ""


def sample(text: str, name: str, **tags: str) -> float:
    """The sum of a metric's samples whose labels include `tags`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        labels, value = line[len(name) + 1 :].rsplit("} ", 1)
        if all(f'{k}="{v}"' in labels for k, v in tags.items()):
            total += float(value)
    return total


def test_per_expert_metrics_reach_prometheus(http):
    before = metrics_text()
    for experts in (["slow-a", "broken"], ["text-reader", "sluggish"]):
        r = http.post(
            "/v1/reason",
            json={
                "question": "Notes?",
                "experts": experts,
                "media": [{"type": "text", "data": "bm90ZXM=", "format": "txt"}],
            },
        )
        assert r.status_code == 200, r.text

    def grew(text: str, name: str, **tags: str) -> bool:
        return sample(text, name, **tags) > sample(before, name, **tags)

    def checks(text: str) -> dict[str, bool]:
        out = {
            f"{m} {e}": grew(text, f"ray_mexa_expert_{m}_total", expert=e)
            for m in ("selections", "requests")
            for e in ("slow-a", "broken", "text-reader")
        }
        out["broken failed"] = grew(
            text, "ray_mexa_expert_failures_total", expert="broken", kind="failed"
        )
        out["sluggish timeout"] = grew(
            text, "ray_mexa_expert_failures_total", expert="sluggish", kind="timeout"
        )
        out["slow-a latency"] = grew(text, "ray_mexa_expert_latency_s_count", expert="slow-a")
        # a gauge, set from the health checks: a CPU replica's resident high-water mark
        out["slow-a peak memory"] = (
            sample(text, "ray_mexa_expert_memory_peak_bytes", expert="slow-a", device="cpu")
            > 10 * 2**20
        )
        return out

    # each replica exports on its own schedule: wait until every replica's numbers are in
    text = (
        wait_for(
            lambda: (lambda t: t if all(checks(t).values()) else "")(metrics_text()), timeout_s=60
        )
        or metrics_text()
    )
    assert all(checks(text).values()), checks(text)
    assert sample(text, "ray_mexa_expert_failures_total", expert="slow-a") == 0
    # slow-a sleeps 0.5 s: its latency sum grows by at least that
    assert (
        sample(text, "ray_mexa_expert_latency_s_sum", expert="slow-a")
        - sample(before, "ray_mexa_expert_latency_s_sum", expert="slow-a")
    ) >= 0.45
