"""The readiness answer while Serve's controller cannot be asked (its head node away): the last
answer stands, marked stale, and probes do not pile up threads on the absent controller. The
answer itself, from a real app, is tests/test_serve_readiness.py's."""

from __future__ import annotations

import asyncio
import threading

from mexa_ray.serving import readiness


def test_a_controller_that_does_not_answer_leaves_the_last_answer_marked_stale(monkeypatch):
    release, calls = threading.Event(), []
    ready = {"ready": True, "app": "a", "waiting": {}}

    def ask(app: str) -> dict:
        calls.append(app)
        if len(calls) > 1:
            release.wait(10)  # the controller is away
        return ready

    monkeypatch.setattr(readiness, "_readiness", ask)
    monkeypatch.setattr(readiness, "_last", {})
    monkeypatch.setattr(readiness, "_asking", {})

    async def probes() -> list[dict]:
        first = await readiness.readiness("a", timeout_s=1)
        stuck = [await readiness.readiness("a", timeout_s=0.05) for _ in range(3)]
        release.set()
        await asyncio.sleep(0.1)
        return [first, *stuck, await readiness.readiness("a", timeout_s=1)]

    first, *stuck, after = asyncio.run(probes())
    assert first == ready and after == ready
    for answer in stuck:
        assert answer["ready"] is True and "did not answer" in answer["stale"]
    assert len(calls) == 3  # the first, one shared by the three stuck probes, the one after


def test_never_asked_and_failing_is_not_ready(monkeypatch):
    def ask(app: str) -> dict:
        raise ConnectionError("the head node is gone")

    monkeypatch.setattr(readiness, "_readiness", ask)
    monkeypatch.setattr(readiness, "_last", {})
    monkeypatch.setattr(readiness, "_asking", {})
    answer = asyncio.run(readiness.readiness("b"))
    assert answer["ready"] is False and "the head node is gone" in answer["stale"]


def test_a_deployment_autoscaled_to_zero_is_ready_and_a_replacing_one_is_not():
    assert readiness._ready("HEALTHY", {"RUNNING": 1})
    assert readiness._ready("HEALTHY", {})  # min_replicas 0, idle: Serve starts one on demand
    assert not readiness._ready("UPDATING", {"STARTING": 1})  # loading its models
    assert not readiness._ready("HEALTHY", {"STARTING": 1})  # a lost replica's replacement
    assert not readiness._ready("UNHEALTHY", {"RUNNING": 0, "STOPPING": 1})
