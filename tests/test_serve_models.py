"""MEXA's model path end to end through Ray Serve: an LLM router, a vision-language expert with
`@serve.batch`, a Whisper expert and an LRM aggregator, all tiny models built in the tests and
loaded by the deployments through `from_pretrained`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import VLM_REPLY

from mexa_ray.config import load_config, parse_config
from mexa_ray.media.samples import make_tone, make_video
from mexa_ray.serving.runtime import ask, deploy

pytestmark = pytest.mark.serve

SMALL = {"ray_actor_options": {"num_cpus": 0.05}}


@pytest.fixture(scope="module")
def model_app(serve_app, tiny, tmp_path_factory):
    """A second app on the session's Ray, reachable by handle only."""
    from ray import serve

    media = tmp_path_factory.mktemp("model-media")
    video = make_video(media / "moving.mp4")
    clip = make_tone(media / "tone.wav", seconds=2.0)
    default = load_config("analytic").model_dump()
    audio_signal = next(e for e in default["experts"] if e["name"] == "audio-signal")
    config = parse_config(
        {
            "name": "mexa-tiny",
            "router": {
                "kind": "llm",
                "llm": {"model": str(tiny["router"]), "max_new_tokens": 16},
                "deployment": SMALL,
            },
            "aggregator": {
                "kind": "lrm",
                "llm": {"model": str(tiny["lrm"]), "max_new_tokens": 48},
                "deployment": SMALL,
            },
            "media": {"roots": [str(media)]},
            "ingress": {"deployment": SMALL},
            "experts": [
                {**audio_signal, "deployment": {"num_replicas": 1, **SMALL}},
                {
                    "name": "vlm",
                    "backend": "vlm",
                    "modalities": ["image", "video"],
                    "skills": ["A1", "A2", "E1"],
                    "description": "Tiny LLaVA captions frames.",
                    "model": {"model": str(tiny["vlm"]), "kind": "vision", "max_new_tokens": 12},
                    "settings": {"frames": 3},
                    "timeout_s": 60,
                    "batching": {"max_batch_size": 8, "batch_wait_timeout_s": 0.2},
                    "deployment": {
                        "num_replicas": 1,
                        "max_ongoing_requests": 8,
                        "ray_actor_options": {"num_cpus": 0.05, "num_gpus": 0.25},
                    },
                },
                {
                    "name": "asr",
                    "backend": "speech",
                    "modalities": ["audio", "video"],
                    "skills": ["B1"],
                    "description": "Tiny Whisper transcribes speech.",
                    "model": {"model": str(tiny["whisper"]), "max_new_tokens": 12},
                    "timeout_s": 60,
                    "deployment": {"num_replicas": 1, **SMALL},
                },
            ],
        }
    )
    handle = deploy(config, route_prefix=None)
    yield handle, video, clip
    serve.delete(config.name)


def test_llm_router_and_lrm_decide_through_serve(model_app, tiny):
    handle, video, clip = model_app
    answer = ask(
        handle,
        {
            "question": "What kind of sound is this?",
            "options": ["speech", "music", "noise"],
            "media": [{"type": "audio", "path": str(clip)}, {"type": "video", "path": str(video)}],
        },
    )
    assert answer["router"] == f"llm:{tiny['router']}"
    assert [(s["expert"], s["skill"]) for s in answer["selected"]] == [("audio-signal", "B2")]
    assert any("Z9" in n for n in answer["notes"])
    assert answer["aggregator"] == f"lrm:{tiny['lrm']}"
    assert (answer["answer"], answer["option_index"]) == ("music", 1)
    assert answer["reasoning"] == "The audio expert hears a steady melody."
    assert answer["reports"][0]["expert"] == "audio-signal" and not answer["missing"]


def test_model_experts_report_through_serve(model_app):
    handle, video, clip = model_app
    answer = ask(
        handle,
        {
            "question": "What happens?",
            "experts": ["vlm", "asr"],
            "media": [{"type": "video", "path": str(video)}, {"type": "audio", "path": str(clip)}],
        },
    )
    reports = {r["expert"]: r["text"] for r in answer["reports"]}
    assert not answer["missing"]
    assert reports["vlm"].count(VLM_REPLY) == 3
    # the asr expert reads both items: the silent video is reported as such, not as a failure
    assert "[video: moving.mp4]\nThe video has no audio track." in reports["asr"]
    assert "[audio: tone.wav]\n" in reports["asr"]


def test_concurrent_requests_are_batched_by_the_expert(model_app):
    handle, video, _ = model_app
    payload = {
        "question": "What moves?",
        "experts": ["vlm"],
        "media": [{"type": "video", "path": str(video)}],
    }
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: ask(handle, payload), range(8)))
    reports = [a["reports"][0] for a in answers]
    assert all(VLM_REPLY in r["text"] for r in reports)
    # calls answered by one run_batch share its start time: some calls were batched together
    starts = [r["started_at"] for r in reports]
    assert len(set(starts)) < len(starts)
