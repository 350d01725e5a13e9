"""The service's guards, each on a small app of its own on the session's Ray: bearer-token auth
(the ingress gets its keys the way `mexa serve` passes them: from the caller's MEXA_API_KEYS),
the body-size limit, and overload answered 503 with Retry-After instead of a hang."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from mexa_ray.config import load_config, parse_config

pytestmark = pytest.mark.serve

SMALL = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0.05}}


@pytest.fixture(scope="module")
def guarded(serve_app):
    from ray import serve

    from deployments.app import build_app

    _, base_url = serve_app
    text_reader = next(e for e in load_config().model_dump()["experts"]
                       if e["name"] == "text-reader")
    config = parse_config({
        "name": "mexa-guarded",
        "router": {"deployment": SMALL}, "aggregator": {"deployment": SMALL},
        "ingress": {"max_body_bytes": 4000, "deployment": SMALL},
        "experts": [{**text_reader, "deployment": SMALL}],
    })
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEXA_API_KEYS", "key-one, key-two")
        app = build_app(config)
    serve.run(app, name=config.name, route_prefix="/guarded")
    yield f"{base_url}/guarded"
    serve.delete(config.name)


def note(question: str = "What does the note say?") -> dict:
    return {"question": question, "media": [{"type": "text", "format": "txt",
                                             "data": base64.b64encode(b"The key is blue.").decode()}]}


def test_every_route_but_healthz_needs_a_key(guarded):
    assert httpx.get(f"{guarded}/healthz").status_code == 200
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "key-one"},
                    {"authorization": "Basic a2V5LW9uZQ=="}):
        r = httpx.post(f"{guarded}/v1/reason", json=note(), headers=headers, timeout=60)
        assert r.status_code == 401, headers
        assert r.json()["error"]["type"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
        assert httpx.get(f"{guarded}/v1/experts", headers=headers).status_code == 401
    for key in ("key-one", "key-two"):
        r = httpx.post(f"{guarded}/v1/reason", json=note(),
                       headers={"authorization": f"Bearer {key}"}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["reports"][0]["expert"] == "text-reader"


def test_openai_client_sends_its_key(guarded):
    messages = [{"role": "user", "content": "What is two and two?"}]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{guarded}/v1", api_key="nope", max_retries=0).models.list()
    client = openai.OpenAI(base_url=f"{guarded}/v1", api_key="key-two", max_retries=0)
    assert [m.id for m in client.models.list()] == ["mexa-guarded"]
    with pytest.raises(openai.UnprocessableEntityError):  # no media is fine; no question is not
        client.chat.completions.create(model="mexa-guarded", messages=[
            {"role": "user", "content": [{"type": "text", "text": " "}]}])
    assert client.chat.completions.create(model="mexa-guarded", messages=messages).choices


def test_body_over_the_limit_is_413(guarded):
    auth = {"authorization": "Bearer key-one"}
    big = note("x" * 5000)
    r = httpx.post(f"{guarded}/v1/reason", json=big, headers=auth)
    assert r.status_code == 413 and r.json()["error"]["field"] == "body"

    def chunked():  # no Content-Length: the limit is checked on the bytes read
        yield b'{"question": "'
        yield b"y" * 5000
        yield b'"}'

    r = httpx.post(f"{guarded}/v1/reason", content=chunked(),
                   headers={**auth, "content-type": "application/json"})
    assert r.status_code == 413
    r = httpx.post(f"{guarded}/v1/reason", json=note(), headers=auth, timeout=60)
    assert r.status_code == 200  # still serving


@pytest.fixture(scope="module")
def busy(serve_app):
    """One selector replica that takes one request at a time and queues one more, in front of
    an expert that works for a second."""
    from ray import serve

    from deployments.app import build_app

    _, base_url = serve_app
    config = parse_config({
        "name": "mexa-busy",
        "router": {"deployment": {**SMALL, "max_ongoing_requests": 1, "max_queued_requests": 1,
                                  "retry_after_s": 2}},
        "aggregator": {"deployment": SMALL}, "ingress": {"deployment": SMALL},
        "experts": [{"name": "slow", "backend": "synthetic", "modalities": ["text"],
                     "skills": ["T1"], "description": "Reads a note slowly.",
                     "options": {"delay_s": 1.0}, "deployment": SMALL}],
    })
    serve.run(build_app(config), name=config.name, route_prefix="/busy")
    yield f"{base_url}/busy"
    serve.delete(config.name)


def test_overload_is_503_with_retry_after_never_a_hang(busy):
    def call(_):
        return httpx.post(f"{busy}/v1/reason", json=note(), timeout=30)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(call, range(8)))
    codes = sorted(r.status_code for r in responses)
    assert set(codes) == {200, 503}, codes
    assert codes.count(200) >= 1 and codes.count(503) >= 4  # one runs, one may queue
    for r in responses:
        if r.status_code == 503:
            assert r.headers["retry-after"] == "2"
            assert r.json()["error"]["type"] == "overloaded"
        else:
            assert r.json()["reports"][0]["expert"] == "slow"
    assert call(0).status_code == 200  # served again once the burst is over
