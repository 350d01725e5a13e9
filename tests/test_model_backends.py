"""Model-backed router, aggregator and experts on tiny models built in the tests, loaded through
the config -> from_pretrained path a hub id takes; and the OpenAI-compatible remote backend
against a local server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import VLM_REPLY, pick_free_port
from openai_server import ChatServer, running

from mexa_ray.config import (
    AggregatorSpec,
    ExpertSpec,
    ModelSpec,
    load_config,
    parse_config,
)
from mexa_ray.errors import ConfigError
from mexa_ray.experts import build_expert
from mexa_ray.media.samples import make_scene, make_tone, make_video
from mexa_ray.models.llm import build_generator
from mexa_ray.reasoning.aggregation import EvidenceRankingAggregator, LRMAggregator
from mexa_ray.reasoning.routing import EmbeddingRouter, LLMRouter
from mexa_ray.reasoning.skills import DEFAULT_SKILLS
from mexa_ray.types import ExpertReport, Media, MissingExpert, Query

SKILLS = {s.id: s for s in DEFAULT_SKILLS}


def audio_query(path: Path, **kw) -> Query:
    return Query(
        question="What kind of sound is this?",
        options=["speech", "music", "noise"],
        media=[Media("audio", path=str(path), format="wav")],
        **kw,
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_tone(tmp_path_factory.mktemp("clip") / "tone.wav", seconds=2.0)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("video") / "moving.mp4")


def llm_router(model: str | dict, embedder) -> LLMRouter:
    config = parse_config(
        {
            **load_config("analytic").model_dump(),
            "router": {"kind": "llm", "llm": model, "max_experts": 4},
        }
    )
    spec = config.router.llm
    return LLMRouter(config, build_generator(spec, "router.llm"), EmbeddingRouter(config, embedder))


# --- config ----------------------------------------------------------------------------------


def test_model_spec_accepts_an_id_or_a_full_spec():
    assert (
        ModelSpec.model_validate("Qwen/Qwen2.5-VL-7B-Instruct").model
        == "Qwen/Qwen2.5-VL-7B-Instruct"
    )
    spec = ModelSpec.model_validate({"model": "x", "kind": "vision", "max_new_tokens": 64})
    # sampling unset: the checkpoint's own generation_config decides
    assert (spec.kind, spec.max_new_tokens, spec.dtype, spec.temperature, spec.top_p) == (
        "vision",
        64,
        "auto",
        None,
        None,
    )


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"router": {"kind": "llm"}}, "router.llm"),
        ({"aggregator": {"kind": "lrm"}}, "aggregator.llm"),
        (
            {"router": {"kind": "llm", "llm": {"model": "x", "backend": "tgi"}}},
            "router.llm.backend",
        ),
        (
            {"aggregator": {"kind": "lrm", "llm": {"model": "x", "temperature": -1}}},
            "aggregator.llm.temperature",
        ),
    ],
)
def test_bad_model_config_names_the_field(patch, field):
    with pytest.raises(ConfigError) as err:
        parse_config({**load_config("analytic").model_dump(), **patch})
    assert err.value.field == field


def test_batching_must_fit_in_max_ongoing_requests():
    with pytest.raises(ValueError, match="batches could never fill"):
        ExpertSpec(
            name="v",
            backend="vlm",
            model="x",
            modalities=["image"],
            skills=["A2"],
            description="d",
            batching={"max_batch_size": 16},
            deployment={"max_ongoing_requests": 4},
        )


def test_missing_model_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        build_generator(ModelSpec(model=str(tmp_path / "nowhere")), "aggregator.llm")
    assert err.value.field == "aggregator.llm.model"


def test_model_without_chat_template_is_refused(tiny, tmp_path):
    from transformers import AutoTokenizer

    folder = tmp_path / "no-template"
    import shutil

    shutil.copytree(tiny["random-lm"], folder)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.chat_template = None
    tok.save_pretrained(folder)
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(ConfigError, match="no chat template"):
        build_generator(ModelSpec(model=str(folder)), "router.llm")


# --- router ----------------------------------------------------------------------------------


def test_llm_router_maps_skill_ids_to_experts_and_drops_unknown_ones(tiny, embedder, clip):
    router = llm_router(str(tiny["router"]), embedder)
    selection = router.select(audio_query(clip))
    assert selection.router == f"llm:{tiny['router']}"
    assert [(s.expert, s.skill) for s in selection.experts] == [("audio-signal", "B2")]
    assert "chosen by llm:" in selection.experts[0].why
    assert any("Z9" in n and "dropped" in n for n in selection.notes)


def test_llm_router_falls_back_to_embeddings_when_no_skill_is_named(tiny, embedder, clip):
    router = llm_router(str(tiny["random-lm"]), embedder)
    selection = router.select(audio_query(clip))
    assert selection.router == "embedding"
    assert [s.expert for s in selection.experts] == ["audio-signal"]
    assert any(
        "named no usable skill" in n and "embedding router chose" in n for n in selection.notes
    )


def test_llm_router_falls_back_when_its_endpoint_is_down(embedder, clip):
    dead = {
        "model": "r1",
        "backend": "openai",
        "base_url": f"http://127.0.0.1:{pick_free_port()}/v1",
        "max_retries": 0,
        "request_timeout_s": 2,
    }
    selection = llm_router(dead, embedder).select(audio_query(clip))
    assert selection.router == "embedding" and selection.experts
    assert any("LLM router failed (APIConnectionError" in n for n in selection.notes)


def test_vision_router_is_shown_frames(tiny, embedder, video):
    from mexa_ray.reasoning.routing import router_frames

    query = Query("What moves?", media=[Media("video", path=str(video), format="mp4")])
    assert len(router_frames(query, 2)) == 2
    router = llm_router(
        {"model": str(tiny["vlm"]), "kind": "vision", "max_new_tokens": 12}, embedder
    )
    assert router.needs_media and router.frames == 4
    selection = router.select(query)
    # the tiny VLM read the frames and answered its caption, which names no skill
    assert selection.router == "embedding"
    assert any(f"it said: '{VLM_REPLY}'" in n for n in selection.notes)


def test_llm_router_leaves_forced_experts_alone(tiny, embedder, clip):
    selection = llm_router(str(tiny["router"]), embedder).select(
        audio_query(clip, experts=["audio-signal"])
    )
    assert selection.router == "forced"


# --- aggregator ------------------------------------------------------------------------------

REPORTS = [ExpertReport("audio-signal", "B3", "Sound character: music. Notes A4, E5.", 0.1)]


def lrm(model: str | dict, embedder) -> LRMAggregator:
    spec = ModelSpec.model_validate(model)
    return LRMAggregator(
        build_generator(spec, "aggregator.llm"),
        EvidenceRankingAggregator(AggregatorSpec(), embedder),
    )


def test_lrm_aggregator_extracts_the_letter_and_the_reasoning(tiny, embedder, clip):
    verdict = lrm(str(tiny["lrm"]), embedder).answer(audio_query(clip), REPORTS)
    assert (verdict.answer, verdict.option_index) == ("music", 1)
    assert verdict.reasoning == "The audio expert hears a steady melody."
    assert verdict.notes == []


def test_lrm_aggregator_says_when_no_option_can_be_read(tiny, embedder, clip):
    verdict = lrm({"model": str(tiny["random-lm"]), "max_new_tokens": 8}, embedder).answer(
        audio_query(clip), REPORTS
    )
    assert verdict.option_index is None
    assert any("names no option" in n for n in verdict.notes)
    assert any("max_new_tokens" in n for n in verdict.notes)


def test_lrm_aggregator_falls_back_to_evidence_when_the_lrm_fails(embedder, clip):
    dead = {
        "model": "r1",
        "backend": "openai",
        "max_retries": 0,
        "request_timeout_s": 2,
        "base_url": f"http://127.0.0.1:{pick_free_port()}/v1",
    }
    verdict = lrm(dead, embedder).answer(
        audio_query(clip), REPORTS, [MissingExpert("asr", "timed out")]
    )
    assert verdict.option_index == 1  # the evidence says music
    assert "Evidence ranking, not an LRM" in verdict.reasoning
    assert any("evidence-ranking fallback answered" in n for n in verdict.notes)


# --- remote OpenAI-compatible endpoint ---------------------------------------------------------


@pytest.fixture(scope="module")
def chat_server(tiny):
    server = ChatServer(build_generator(ModelSpec(model=str(tiny["lrm"])), "test-server"))
    with running(server, pick_free_port()) as url:
        yield server, url


def test_remote_lrm_through_the_openai_client(chat_server, embedder, clip, monkeypatch):
    server, url = chat_server
    monkeypatch.setenv("MEXA_TEST_KEY", "sk-test")
    server.requests.clear()
    aggregator = lrm(
        {
            "model": "deepseek-r1",
            "backend": "openai",
            "base_url": url,
            "api_key_env": "MEXA_TEST_KEY",
            "max_new_tokens": 32,
        },
        embedder,
    )
    verdict = aggregator.answer(audio_query(clip), REPORTS)
    # the server splits <think> into reasoning_content, as vLLM's reasoning parser does
    assert (verdict.option_index, verdict.reasoning) == (
        1,
        "The audio expert hears a steady melody.",
    )
    sent = server.requests[-1]
    assert sent["auth"] == "Bearer sk-test"
    assert sent["body"]["model"] == "deepseek-r1" and sent["body"]["max_tokens"] == 32
    # no sampling in the config: the server's defaults (vLLM's: the checkpoint's) apply
    assert "temperature" not in sent["body"] and "top_p" not in sent["body"]
    assert "Music caption from audio-signal" in sent["body"]["messages"][1]["content"]


def test_remote_endpoint_errors_are_retried_by_the_client(chat_server, embedder, clip):
    server, url = chat_server
    server.requests.clear()
    server.fail_next = 1
    aggregator = lrm(
        {"model": "r1", "backend": "openai", "base_url": url, "max_retries": 2}, embedder
    )
    verdict = aggregator.answer(audio_query(clip), REPORTS)
    assert len(server.requests) == 2 and verdict.option_index == 1


def test_remote_vision_and_audio_experts_send_media_parts(chat_server, video, clip):
    server, url = chat_server
    server.requests.clear()
    remote = {"model": "qwen2.5-vl", "backend": "openai", "base_url": url, "kind": "vision"}
    vlm = build_expert(
        ExpertSpec(
            name="vlm",
            backend="vlm",
            model=remote,
            modalities=["image", "video"],
            skills=["A1"],
            description="d",
            settings={"frames": 3},
        ),
        SKILLS,
    )
    report = vlm.run(
        Query("What moves?", media=[Media("video", path=str(video), format="mp4")]), "A1"
    )
    assert report.text.count("\n[") == 3
    parts = server.requests[0]["body"]["messages"][0]["content"]
    assert parts[0]["type"] == "image_url"
    assert parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    server.requests.clear()
    audio = build_expert(
        ExpertSpec(
            name="alm",
            backend="audio-lm",
            model={**remote, "model": "qwen2-audio", "kind": "audio"},
            modalities=["audio"],
            skills=["B2"],
            description="d",
        ),
        SKILLS,
    )
    audio.run(audio_query(clip), "B2")
    part = server.requests[0]["body"]["messages"][0]["content"][0]
    assert part["type"] == "input_audio" and part["input_audio"]["format"] == "wav"


# --- model-backed experts --------------------------------------------------------------------


def vlm_expert(
    tiny, backend: str = "vlm", skills=("A1", "A2", "E1"), modalities=("image", "video"), **settings
) -> object:
    spec = ExpertSpec(
        name="vlm",
        backend=backend,
        modalities=list(modalities),
        skills=list(skills),
        description="d",
        settings=settings,
        model={"model": str(tiny["vlm"]), "kind": "vision", "max_new_tokens": 12},
    )
    return build_expert(spec, SKILLS)


def test_vlm_expert_captions_sampled_frames_with_timestamps(tiny, video):
    expert = vlm_expert(tiny, frames=4)
    report = expert.run(
        Query("What moves?", media=[Media("video", path=str(video), format="mp4")]), "A1"
    )
    lines = report.text.splitlines()
    assert lines[0] == "Frame captions ([time] caption):"
    assert len(lines) == 5
    times = [float(line[1 : line.index("s]")]) for line in lines[1:]]
    assert times == sorted(times) and times[0] == 0.0 and times[-1] > 2.0
    assert all(line.endswith(VLM_REPLY) for line in lines[1:])


def test_vlm_expert_batches_requests_and_isolates_a_bad_one(tiny, video, tmp_path):
    from PIL import Image

    image = tmp_path / "red.png"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(image)
    expert = vlm_expert(tiny, frames=2)
    calls = [
        (Query("Read the text", media=[Media("image", path=str(image), format="png")]), "E1"),
        (Query("What moves?", media=[Media("video", path=str(video), format="mp4")]), "A1"),
        (Query("x", media=[Media("video", path=str(tmp_path / "gone.mp4"), format="mp4")]), "A1"),
    ]
    out = expert.run_batch(calls)
    assert out[0].text == VLM_REPLY and out[0].skill == "E1"
    assert out[1].text.count(VLM_REPLY) == 2
    assert isinstance(out[2], Exception)
    assert out[0].started_at == out[1].started_at  # one generate for both


def test_ct_expert_describes_slices_along_each_axis(tiny, tmp_path):
    vol = np.zeros((20, 32, 32), dtype=np.int16) - 1000
    vol[5:15, 8:24, 8:24] = 40  # a soft-tissue block in air
    path = tmp_path / "ct.npy"
    np.save(path, vol)
    expert = vlm_expert(
        tiny, backend="ct-vlm", skills=["D1"], modalities=["volume"], slices_per_axis=2
    )
    text = expert.run(
        Query("Is there a lesion?", media=[Media("volume", path=str(path), format="npy")]), "D1"
    ).text
    assert text.startswith("CT volume of shape 20 x 32 x 32")
    assert "from -1000 to 40" in text
    for plane in ("axial", "coronal", "sagittal"):
        assert text.count(f"[{plane} slice") == 2
    assert text.count(VLM_REPLY) == 6


def test_scene_expert_adds_captions_of_rendered_views(tiny, tmp_path):
    scene = make_scene(tmp_path / "room.ply")
    expert = vlm_expert(
        tiny, backend="scene-vlm", skills=["C1"], modalities=["points"], view_size=64
    )
    text = expert.run(
        Query("What is in the room?", media=[Media("points", path=str(scene), format="ply")]), "C1"
    ).text
    assert text.startswith("Point cloud with")  # the open3d geometry report comes first
    assert f"[top view] {VLM_REPLY}" in text and f"[front view] {VLM_REPLY}" in text


def test_rendered_views_keep_the_nearest_point():
    from mexa_ray.experts.scene3d import splat

    pts = np.array([[0, 0, 0], [0, 0, 1.0], [1, 1, 0]])
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)
    top = splat(pts, colours, right=0, up=1, toward=2, size=2)
    assert top[1, 0].tolist() == [0, 255, 0]  # z=1 hides z=0 at (0, 0)
    assert top[0, 1].tolist() == [0, 0, 255]
    assert top[0, 0].tolist() == [255, 255, 255]


def test_whisper_expert_writes_timestamped_subtitles(tiny, clip):
    spec = ExpertSpec(
        name="asr",
        backend="speech",
        modalities=["audio", "video"],
        skills=["B1"],
        description="d",
        model={"model": str(tiny["whisper"]), "max_new_tokens": 12},
    )
    expert = build_expert(spec, SKILLS)
    text = expert.run(audio_query(clip), "B1").text
    lines = text.splitlines()
    assert lines[0] in ("Subtitles:", "No speech was recognised.")
    for line in lines[1:]:
        assert line.startswith("[") and "s] " in line
    assert expert.check_health() is None


def test_health_check_fails_when_the_models_gpu_is_gone(tiny):
    """A model placed on CUDA whose device is no longer there fails its health check (on this
    CPU-only machine every CUDA device is 'gone'); one on CPU passes."""
    from mexa_ray.models.llm import check_device

    check_device("cpu", "lrm")
    with pytest.raises(RuntimeError, match="lrm: the GPU this model was loaded on is gone"):
        check_device("cuda", "lrm")
    spec = ExpertSpec(
        name="asr",
        backend="speech",
        modalities=["audio"],
        skills=["B1"],
        description="d",
        model={"model": str(tiny["whisper"]), "max_new_tokens": 4},
    )
    expert = build_expert(spec, SKILLS)
    expert.device = "cuda"  # as if loaded on a GPU that has since failed
    with pytest.raises(RuntimeError, match="asr: the GPU"):
        expert.check_health()
