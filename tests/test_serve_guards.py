"""The service's guards, each on a small app of its own on the session's Ray: bearer-token auth
(the ingress gets its keys the way `mexa serve` passes them: from the caller's MEXA_API_KEYS),
JSON-only routes and CORS, rate limits per key, the body-size limit, media URLs from an allow-list, the media duration limit, and overload
answered 503 with Retry-After instead of a hang."""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import httpx
import openai
import pytest

from mexa_ray.config import load_config, parse_config

pytestmark = pytest.mark.serve

SMALL = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0.05}}
ALLOWED_ORIGIN = "https://app.example.org"


@pytest.fixture(scope="module")
def guarded(serve_app):
    from ray import serve

    from mexa_ray.serving.app import build_app

    _, base_url = serve_app
    text_reader = next(
        e for e in load_config("analytic").model_dump()["experts"] if e["name"] == "text-reader"
    )
    config = parse_config(
        {
            "name": "mexa-guarded",
            "router": {"deployment": SMALL},
            "aggregator": {"deployment": SMALL},
            "ingress": {
                "max_body_bytes": 4000,
                "cors_origins": [ALLOWED_ORIGIN],
                # per key: the tests before the rate-limit one send at most 4 counted requests
                "rate_limit": {"requests_per_minute": 8, "concurrent": 1, "retry_after_s": 1},
                "deployment": SMALL,
            },
            "experts": [{**text_reader, "deployment": SMALL}],
        }
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEXA_API_KEYS", "key-one, key-two")
        app = build_app(config)
    serve.run(app, name=config.name, route_prefix="/guarded")
    yield f"{base_url}/guarded"
    serve.delete(config.name)


def note(question: str = "What does the note say?") -> dict:
    return {
        "question": question,
        "media": [
            {
                "type": "text",
                "format": "txt",
                "data": base64.b64encode(b"The key is blue.").decode(),
            }
        ],
    }


def test_every_route_but_the_probes_needs_a_key(guarded):
    assert httpx.get(f"{guarded}/healthz").status_code == 200
    assert httpx.get(f"{guarded}/readyz").json()["ready"] is True  # probes carry no key
    for headers in (
        {},
        {"authorization": "Bearer wrong"},
        {"authorization": "key-one"},
        {"authorization": "Basic a2V5LW9uZQ=="},
    ):
        r = httpx.post(f"{guarded}/v1/reason", json=note(), headers=headers, timeout=60)
        assert r.status_code == 401, headers
        assert r.json()["error"]["type"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
        assert httpx.get(f"{guarded}/v1/experts", headers=headers).status_code == 401
    for key in ("key-one", "key-two"):
        r = httpx.post(
            f"{guarded}/v1/reason",
            json=note(),
            headers={"authorization": f"Bearer {key}"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert r.json()["reports"][0]["expert"] == "text-reader"


def test_openai_client_sends_its_key(guarded):
    messages = [{"role": "user", "content": "What is two and two?"}]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{guarded}/v1", api_key="nope", max_retries=0).models.list()
    client = openai.OpenAI(base_url=f"{guarded}/v1", api_key="key-two", max_retries=0)
    assert [m.id for m in client.models.list()] == ["mexa-guarded"]
    with pytest.raises(openai.UnprocessableEntityError):  # no media is fine; no question is not
        client.chat.completions.create(
            model="mexa-guarded",
            messages=[{"role": "user", "content": [{"type": "text", "text": " "}]}],
        )
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

    r = httpx.post(
        f"{guarded}/v1/reason",
        content=chunked(),
        headers={**auth, "content-type": "application/json"},
    )
    assert r.status_code == 413
    r = httpx.post(f"{guarded}/v1/reason", json=note(), headers=auth, timeout=60)
    assert r.status_code == 200  # still serving


def test_json_routes_take_json_only_and_cors_is_closed_unless_configured(guarded, http):
    """A browser page may POST `text/plain` cross-origin without asking first: such a body is
    refused 415 with the error body; a page may send JSON only where CORS lets it."""
    auth = {"authorization": "Bearer key-one"}
    body = json.dumps(note())
    for kind in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {**auth, **({"content-type": kind} if kind else {})}
        r = httpx.post(f"{guarded}/v1/reason", content=body, headers=headers)
        assert r.status_code == 415, (kind, r.text)
        assert r.json()["error"]["type"] == "unsupported_content_type"
        assert r.json()["error"]["field"] == "content-type"
    r = http.post("/v1/chat/completions", content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 415
    # the browser's preflight: answered for the configured origin only
    ask = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, authorization",
    }
    r = httpx.options(f"{guarded}/v1/reason", headers={"origin": ALLOWED_ORIGIN, **ask})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    r = httpx.options(f"{guarded}/v1/reason", headers={"origin": "https://evil.example", **ask})
    assert "access-control-allow-origin" not in r.headers
    r = http.options("/v1/reason", headers={"origin": ALLOWED_ORIGIN, **ask})  # not configured
    assert "access-control-allow-origin" not in r.headers
    r = httpx.post(
        f"{guarded}/v1/reason",
        json=note(),
        headers={**auth, "origin": ALLOWED_ORIGIN},
        timeout=60,
    )
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


def test_rate_limits_per_key_answer_429_with_retry_after(guarded):
    """Past a key's requests per minute: 429s with Retry-After and the error body, while other
    keys are served; past its concurrent requests: a 429 the openai client backs off on and
    retries."""
    one = {"authorization": "Bearer key-one"}
    statuses = []
    for _ in range(10):
        r = httpx.post(f"{guarded}/v1/reason", json=note(), headers=one, timeout=60)
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert r.json()["error"]["type"] == "rate_limited"
            assert 1 <= int(r.headers["retry-after"]) <= 60
    assert statuses[0] == 200 and statuses.count(429) >= 2 and set(statuses) == {200, 429}
    two = {"authorization": "Bearer key-two"}
    assert httpx.post(f"{guarded}/v1/reason", json=note(), headers=two, timeout=60).is_success

    # key-two's one slot held by a request whose body is still arriving
    started = threading.Event()

    def slow_body():
        yield json.dumps(note())[:20].encode()
        started.set()
        time.sleep(3)
        yield json.dumps(note())[20:].encode()

    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(
            httpx.post,
            f"{guarded}/v1/reason",
            content=slow_body(),
            headers={**two, "content-type": "application/json"},
            timeout=60,
        )
        started.wait(10)
        time.sleep(0.5)
        messages = [{"role": "user", "content": "What is two and two?"}]
        impatient = openai.OpenAI(base_url=f"{guarded}/v1", api_key="key-two", max_retries=0)
        with pytest.raises(openai.RateLimitError):
            impatient.chat.completions.create(model="mexa-guarded", messages=messages)
        patient = openai.OpenAI(base_url=f"{guarded}/v1", api_key="key-two", max_retries=5)
        reply = patient.chat.completions.create(model="mexa-guarded", messages=messages)
        assert reply.choices[0].message.content
        assert held.result().status_code == 200


@pytest.fixture(scope="module")
def busy(serve_app):
    """One orchestrator replica that takes one request at a time and queues one more, in front of
    an expert that works for a second."""
    from ray import serve

    from mexa_ray.serving.app import build_app

    _, base_url = serve_app
    config = parse_config(
        {
            "name": "mexa-busy",
            "router": {
                "deployment": {
                    **SMALL,
                    "max_ongoing_requests": 1,
                    "max_queued_requests": 1,
                    "retry_after_s": 2,
                }
            },
            "aggregator": {"deployment": SMALL},
            "ingress": {"deployment": SMALL},
            "experts": [
                {
                    "name": "slow",
                    "backend": "synthetic",
                    "modalities": ["text"],
                    "skills": ["T1"],
                    "description": "Reads a note slowly.",
                    "settings": {"delay_s": 1.0},
                    "deployment": SMALL,
                }
            ],
        }
    )
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


@pytest.fixture(scope="module")
def crowded(serve_app):
    """An orchestrator with room for many requests, in front of two experts: one that takes one call
    at a time and queues one more, and one that is fast."""
    from ray import serve

    from mexa_ray.serving.app import build_app

    _, base_url = serve_app
    wide = {**SMALL, "max_ongoing_requests": 16}
    config = parse_config(
        {
            "name": "mexa-crowded",
            "router": {"deployment": wide},
            "aggregator": {"deployment": wide},
            "ingress": {"deployment": wide},
            "experts": [
                {
                    "name": "narrow",
                    "backend": "synthetic",
                    "modalities": ["text"],
                    "skills": ["T1"],
                    "description": "Reads a note slowly, one at a time.",
                    "settings": {"delay_s": 1.0},
                    "deployment": {**SMALL, "max_ongoing_requests": 1, "max_queued_requests": 1},
                },
                {
                    "name": "quick",
                    "backend": "synthetic",
                    "modalities": ["text"],
                    "skills": ["T1"],
                    "description": "Reads a note.",
                    "deployment": wide,
                },
            ],
        }
    )
    serve.run(build_app(config), name=config.name, route_prefix="/crowded")
    yield f"{base_url}/crowded"
    serve.delete(config.name)


def test_an_expert_with_a_full_queue_is_missing_as_unscheduled(crowded):
    def call(_):
        return httpx.post(
            f"{crowded}/v1/reason", json={**note(), "experts": ["narrow", "quick"]}, timeout=30
        )

    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(call, range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    bodies = [r.json() for r in responses]
    assert all("quick" in {x["expert"] for x in b["reports"]} for b in bodies), bodies
    refused = [m for b in bodies for m in b["missing"]]
    assert refused and all(m["expert"] == "narrow" for m in refused), bodies
    assert all(m["reason"].startswith("could not be scheduled") for m in refused), refused
    assert any("narrow" in {x["expert"] for x in b["reports"]} for b in bodies)


class _MediaHost(SimpleHTTPRequestHandler):
    """Serves the demo media; /moved redirects to the image."""

    def do_GET(self) -> None:  # http.server's name
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/green_disc.png")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def media_host(media_dir):
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_MediaHost, directory=str(media_dir))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def limited(serve_app, media_dir, media_host):
    """Image and audio experts behind an ingress that fetches URLs from the test's media host
    only, takes items up to 1 MB and audio or video up to 4 s."""
    from ray import serve

    from mexa_ray.serving.app import build_app

    _, base_url = serve_app
    experts = [
        {**e, "deployment": SMALL}
        for e in load_config("analytic").model_dump()["experts"]
        if e["name"] in ("visual-stats", "audio-signal")
    ]
    config = parse_config(
        {
            "name": "mexa-limited",
            "router": {"deployment": SMALL},
            "aggregator": {"deployment": SMALL},
            "media": {
                "roots": [str(media_dir)],
                "url_hosts": [media_host.split("//")[1]],
                "max_bytes": 2**20,
                "max_seconds": 4,
            },
            "ingress": {"deployment": SMALL},
            "experts": experts,
        }
    )
    serve.run(build_app(config), name=config.name, route_prefix="/limited")
    yield f"{base_url}/limited"
    serve.delete(config.name)


def colour_question(media: dict) -> dict:
    return {
        "question": "What colour is the disc?",
        "options": ["red", "green", "blue"],
        "media": [media],
    }


def test_media_urls_only_from_allowed_hosts(limited, media_host):
    r = httpx.post(
        f"{limited}/v1/reason",
        timeout=60,
        json=colour_question({"type": "image", "url": f"{media_host}/green_disc.png"}),
    )
    assert r.status_code == 200, r.text
    assert r.json()["answer"] == "green" and r.json()["reports"][0]["expert"] == "visual-stats"
    client = openai.OpenAI(base_url=f"{limited}/v1", api_key="-", max_retries=0)
    reply = client.chat.completions.create(
        model="mexa-limited",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What colour is the disc?"},
                    {"type": "image_url", "image_url": {"url": f"{media_host}/green_disc.png"}},
                ],
            }
        ],
        extra_body={"mexa": {"options": ["red", "green", "blue"]}},
    )
    assert reply.choices[0].message.content == "green"

    port = media_host.rsplit(":", 1)[1]
    refused = [  # (url, status, words in the message)
        (f"http://localhost:{port}/green_disc.png", 403, "not an allowed host"),
        ("http://127.0.0.1:1/green_disc.png", 403, "not an allowed host"),  # other port
        (f"{media_host}/moved", 422, "redirects are not followed"),
        (f"{media_host}/absent.png", 422, "HTTP 404"),
        (f"{media_host}/room.ply", 413, "limit is 1048576"),  # 1.4 MB
    ]
    for url, status, words in refused:
        r = httpx.post(
            f"{limited}/v1/reason", timeout=60, json=colour_question({"type": "image", "url": url})
        )
        assert r.status_code == status, (url, r.text)
        assert r.json()["error"]["field"] == "media.0.url" and words in r.json()["error"]["message"]
    with pytest.raises(openai.PermissionDeniedError) as info:
        client.chat.completions.create(
            model="mexa-limited",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What colour?"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "http://169.254.169.254/latest/x.png"},
                        },
                    ],
                }
            ],
        )
    assert info.value.body["param"] == "messages.0.content.1.image_url.url"


def test_audio_and_video_over_the_duration_limit_are_413(limited, media_dir):
    melody = media_dir / "melody.wav"  # 6 s
    for item, field in (
        ({"type": "audio", "path": str(melody)}, "media.0.path"),
        ({"type": "audio", "data": base64.b64encode(melody.read_bytes()).decode()}, "media.0.data"),
    ):
        r = httpx.post(
            f"{limited}/v1/reason", timeout=60, json={"question": "Is this music?", "media": [item]}
        )
        assert r.status_code == 413, r.text
        error = r.json()["error"]
        assert error["field"] == field and "lasts 6.0 s; the limit is 4 s" in error["message"]
    r = httpx.post(
        f"{limited}/v1/reason",
        timeout=60,
        json={  # a 3 s video is within it
            "question": "Which way does the square move?",
            "options": ["left", "right"],
            "media": [{"type": "video", "path": str(media_dir / "red_square.mp4")}],
        },
    )
    assert r.status_code == 200, r.text
