"""End to end through a real local Ray Serve app: HTTP ingress -> orchestrator -> expert deployments
-> aggregator, with media by path and by upload, bad input, failing and slow experts."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from mexa_ray.errors import MexaError
from mexa_ray.serving import runtime

pytestmark = pytest.mark.serve


def reason(http, body: dict) -> httpx.Response:
    return http.post("/v1/reason", json=body)


def test_health_and_expert_cards(http):
    r = http.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    # every deployment of the running app has a replica: ready
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {
        "ready": True,
        "app": "mexa",
        "waiting": {},
    }
    cards = {c["name"]: c for c in http.get("/v1/experts").json()["experts"]}
    assert {"table-profiler", "scene-geometry", "audio-signal", "visual-stats"} <= set(cards)
    assert cards["table-profiler"]["skills"] == [{"id": "F2", "name": "Table Description"}]
    assert cards["slow-a"]["resources"]["num_gpus"] == 0.5
    # where it runs: one replica, holding one of the session Ray's two logical GPUs
    [replica] = cards["slow-a"]["replicas"]
    assert replica["state"] == "RUNNING" and replica["gpu_ids"] in (["0"], ["1"])
    assert replica["cuda_visible_devices"] == replica["gpu_ids"][0]
    # its peak memory, from its health checks: a CPU expert's resident high-water mark
    assert replica["memory"]["device"] == "cpu" and replica["memory"]["peak_bytes"] > 10 * 2**20


def test_a_group_serves_its_experts_from_one_replica(http):
    """`expert_groups`: one deployment, one replica process holding both experts; each call
    is answered as the expert it names, and the member that fails is missing alone."""
    from ray import serve

    from tests.conftest import GROUPED

    deployments = serve.status().applications["mexa"].deployments
    assert "experts-shared" in deployments
    assert not {f"expert-{name}" for name in GROUPED} & set(deployments)
    cards = {c["name"]: c for c in http.get("/v1/experts").json()["experts"]}
    [reader], [broken] = (cards[name]["replicas"] for name in GROUPED)
    assert reader["replica"] == broken["replica"] and reader["state"] == "RUNNING"
    body = {
        "question": "What is the note about?",
        "options": ["a meeting", "a recipe"],
        "media": [{"type": "text", "data": "VGhlIG1lZXRpbmcgaXMgYXQgbm9vbi4=", "format": "txt"}],
        "experts": list(GROUPED),
    }
    a = reason(http, body).json()
    assert [r["expert"] for r in a["reports"]] == ["text-reader"]
    assert "meeting" in a["reports"][0]["text"]
    assert [m["expert"] for m in a["missing"]] == ["broken"]
    assert a["answer"] == "a meeting"


def test_table_question_over_http(http, demo_requests):
    r = reason(http, demo_requests[0])
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["answer"] == "benign" and a["option_index"] == 1
    assert [s["expert"] for s in a["selected"]] == ["table-profiler"]
    assert a["selected"][0]["skill"] == "F2" and a["selected"][0]["why"]
    report = a["reports"][0]
    assert report["expert"] == "table-profiler" and "569 rows" in report["text"]
    assert report["latency_s"] > 0
    assert a["missing"] == [] and a["aggregator"] == "evidence-ranking"
    assert a["request_id"] and a["timings"]["total_s"] >= a["timings"]["experts_s"]


@pytest.mark.parametrize(
    "index, expected", [(0, "benign"), (1, "3"), (2, "music"), (3, "rightwards"), (4, "green")]
)
def test_analytic_pipeline_answers_the_demo_questions(http, demo_requests, index, expected):
    a = reason(http, demo_requests[index]).json()
    assert a["answer"] == expected, a
    assert a["router"] == "embedding" and a["aggregator"] == "evidence-ranking"


def test_uploaded_media_travel_by_reference(http, media_dir):
    data = base64.b64encode((media_dir / "melody.wav").read_bytes()).decode()
    r = reason(
        http,
        {
            "question": "Is this recording music, speech, or noise?",
            "options": ["music", "speech", "noise"],
            "media": [{"type": "audio", "data": data}],
        },
    )  # format sniffed from bytes
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["answer"] == "music"
    assert a["reports"][0]["expert"] == "audio-signal"
    assert "Estimated tempo 120" in a["reports"][0]["text"]


def test_point_cloud_through_the_handle(serve_app, demo_requests):
    handle, _ = serve_app
    a = runtime.ask(handle, demo_requests[1])
    assert a["answer"] == "3" and a["reports"][0]["expert"] == "scene-geometry"


def test_bad_input_through_the_handle_raises_the_library_error(serve_app):
    handle, _ = serve_app
    with pytest.raises(MexaError) as info:
        runtime.ask(handle, {"question": "  "})
    assert info.value.field == "question"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


BAD_BODIES = [
    ({"question": ""}, 422, "invalid_request", "question"),
    ({"options": ["a"]}, 422, "invalid_request", "question"),
    (
        {"question": "q", "media": [{"type": "smell", "path": "x"}]},
        422,
        "invalid_request",
        "media.0.type",
    ),
    (
        {"question": "q", "media": [{"type": "audio", "path": "missing.wav"}]},
        403,
        "media_access_denied",
        "media.0.path",
    ),
    (
        {"question": "q", "media": [{"type": "table", "path": "/etc/passwd"}]},
        403,
        "media_access_denied",
        "media.0.path",
    ),
    (
        {"question": "q", "media": [{"type": "image", "data": _b64(b"\x89PNG\r\n\x1a\nbroken")}]},
        422,
        "invalid_media",
        "media.0.data",
    ),
    (
        {"question": "q", "media": [{"type": "audio", "data": "%%not base64%%"}]},
        422,
        "invalid_media",
        "media.0.data",
    ),
    (
        {
            "question": "q",
            "media": [
                {"type": "points", "data": _b64(b"ply\nformat ascii 1.0\nbad"), "format": "ply"}
            ],
        },
        422,
        "invalid_media",
        "media.0.data",
    ),
    (
        {"question": "q", "media": [{"type": "audio", "data": _b64(b"xx"), "format": "docx"}]},
        415,
        "unsupported_media",
        "media.0.format",
    ),
    (
        {
            "question": "q",
            "media": [{"type": "text", "data": _b64(b"hello")}],
            "experts": ["nobody"],
        },
        422,
        "unknown_expert",
        "experts.0",
    ),
]


@pytest.mark.parametrize("body, status, kind, field", BAD_BODIES)
def test_bad_input_is_a_4xx_with_the_error_body(http, body, status, kind, field):
    r = reason(http, body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["type"] == kind and err["field"] == field and err["message"]


def test_missing_file_under_a_root_is_named(http, media_dir):
    r = reason(
        http, {"question": "q", "media": [{"type": "audio", "path": str(media_dir / "nope.wav")}]}
    )
    assert r.status_code == 422 and "no such file" in r.json()["error"]["message"]


def test_malformed_json_and_wrong_shape(http):
    r = http.post("/v1/reason", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request"
    r = http.post("/v1/reason", json=["a", "list"])
    assert r.status_code == 422 and "JSON object" in r.json()["error"]["message"]
    # nested 100,000 deep (the parser's recursion): the error body, not a plain-text 500
    for deep in (
        b"[" * 100_000 + b"]" * 100_000,
        b'{"question": "q", "media": ' + b"[" * 900 + b"]" * 900 + b"}",
    ):
        r = http.post("/v1/reason", content=deep, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])
        assert r.json()["error"]["message"]
    assert http.get("/healthz").status_code == 200


def test_service_keeps_serving_after_bad_input(http, demo_requests):
    for body, *_ in BAD_BODIES:
        reason(http, body)
    assert http.get("/healthz").status_code == 200
    assert reason(http, demo_requests[4]).json()["answer"] == "green"


def ask_note(http, experts: list[str], **extra) -> tuple[dict, float]:
    """Ask about a short uploaded note with the named experts; (answer, seconds taken)."""
    started = time.perf_counter()
    r = reason(
        http,
        {
            "question": "What does the note say?",
            "experts": experts,
            **extra,
            "media": [{"type": "text", "data": _b64(b"A short note."), "format": "txt"}],
        },
    )
    elapsed = time.perf_counter() - started
    assert r.status_code == 200, r.text
    return r.json(), elapsed


def test_experts_run_in_parallel(http):
    """Two 0.5 s experts: their calls overlap, and the answer comes in well under 1 s."""
    answer, elapsed = ask_note(http, ["slow-a", "slow-b"])
    reports = {x["expert"]: x for x in answer["reports"]}
    assert set(reports) == {"slow-a", "slow-b"}
    a, b = reports["slow-a"], reports["slow-b"]
    assert a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]  # overlap
    assert elapsed < 0.9, f"sequential would take >= 1.0 s; took {elapsed:.2f}s"
    # the timeline the playground draws: stages in order, both experts' rows overlapping
    timeline = answer["timeline"]
    assert [t["stage"] for t in timeline] == [
        "ingress",
        "routing",
        "expert",
        "expert",
        "aggregation",
        "total",
    ]
    rows = {t["expert"]: t for t in timeline if t["stage"] == "expert"}
    assert {r["status"] for r in rows.values()} == {"reported"}
    ra, rb = rows["slow-a"], rows["slow-b"]
    assert ra["start_s"] < rb["end_s"] and rb["start_s"] < ra["end_s"]
    total = timeline[-1]["end_s"]
    assert all(0 <= t["start_s"] <= t["end_s"] <= total + 0.05 for t in timeline)
    assert all(r["sent_s"] <= r["start_s"] + 0.05 for r in rows.values())


def test_failing_expert_is_reported_missing_and_the_rest_answer(http):
    a, _ = ask_note(http, ["slow-a", "broken"])
    assert [x["expert"] for x in a["reports"]] == ["slow-a"]
    statuses = {t["expert"]: t["status"] for t in a["timeline"] if t["stage"] == "expert"}
    assert statuses == {"slow-a": "reported", "broken": "missing"}
    (missing,) = a["missing"]
    assert missing["expert"] == "broken"
    assert "SyntheticExpertError" in missing["reason"] and "on purpose" in missing["reason"]
    assert a["answer"]


def test_an_expert_out_of_gpu_memory_is_missing_and_its_replica_serves_on(http):
    """torch's CUDA OutOfMemoryError (what an allocation past the replica's cap raises) is that
    expert's `missing` entry, and the same replica answers the next request."""
    for _ in range(2):
        a, _ = ask_note(http, ["slow-a", "exhausted"])
        assert [x["expert"] for x in a["reports"]] == ["slow-a"]
        (missing,) = a["missing"]
        assert missing["expert"] == "exhausted"
        assert "ExpertOutOfMemory" in missing["reason"]
        assert "exhausted ran out of GPU memory" in missing["reason"]
        assert "raise its num_gpus" in missing["reason"]


def test_expert_past_its_deadline_is_reported_missing(http):
    a, elapsed = ask_note(http, ["text-reader", "sluggish"])
    assert [x["expert"] for x in a["reports"]] == ["text-reader"]
    assert a["missing"][0]["expert"] == "sluggish"
    assert (
        "timed out" in a["missing"][0]["reason"] and "expert timeout" in a["missing"][0]["reason"]
    )
    assert elapsed < 4.0  # the 5 s expert was not waited for


def test_request_deadline_bounds_every_expert(http):
    a, _ = ask_note(http, ["slow-a"], deadline_s=0.2)
    assert a["reports"] == [] and "request deadline" in a["missing"][0]["reason"]
    assert a["answer"] == "unknown"


def test_each_expert_gets_its_own_resources(serve_app):
    """The two experts configured with num_gpus 0.5 hold exactly one of the two logical GPUs."""
    import ray

    used = ray.cluster_resources()["GPU"] - ray.available_resources().get("GPU", 0.0)
    assert used == pytest.approx(1.0)


def test_unknown_route_has_the_error_body(http):
    r = http.get("/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["type"] == "http_error"
