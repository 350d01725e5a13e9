"""Each packaged GPU config, as shipped, deployed through Ray Serve with tiny models of the
architectures it names in place of the hub ids (`--model-dir`) and its GPUs set to 0
(`--no-gpus`): Qwen2.5-VL (images, video frames, CT slices, point-cloud views, and as a router),
Whisper-large-v3's shape, Qwen2-Audio, a Qwen2.5-Instruct router, and reasoning models whose
templates open <think> (R1-Distill, QwQ)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import GPU_AUDIO_REPLY, GPU_VLM_REPLY

from mexa_ray.config import Overrides, load_config, parse_config
from mexa_ray.media.samples import make_image, make_scene, make_table, make_tone, make_video
from mexa_ray.serving.runtime import ask, deploy

pytestmark = pytest.mark.serve


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gpu-media")
    volume = root / "ct.npy"
    rng = np.random.default_rng(0)
    np.save(volume, rng.normal(40, 200, size=(12, 24, 24)).astype(np.float32))
    text = root / "note.txt"
    text.write_text("The patient reported no pain after the procedure.")
    return {
        "image": make_image(root / "disc.png"),
        "audio": make_tone(root / "tone.wav"),
        "video": make_video(root / "moving.mp4"),
        "points": make_scene(root / "room.ply"),
        "table": make_table(root / "table.csv"),
        "volume": volume,
        "text": text,
    }


def deployed(name: str, model_dir: Path, media: dict[str, Path]):
    """The packaged config `name` on the session's Serve, as `mexa serve --config NAME
    --no-gpus --model-dir DIR` loads it, under its own app name and without a route."""
    from ray import serve

    data = load_config(name, Overrides(no_gpus=True, model_dir=model_dir)).model_dump()
    for section in ("router", "aggregator", "ingress"):
        # one replica each: this test is about the models; the redundancy a cluster config
        # asks for (two of each, on two nodes) is tests/test_cluster.py's
        scaling = data[section]["deployment"].get("autoscaling_config")
        if scaling:
            scaling["min_replicas"] = 1
    config = parse_config(data).with_media_roots([next(iter(media.values())).parent])
    config = config.model_copy(update={"name": f"mexa-{name}"})
    handle = deploy(config, route_prefix=None)
    return config, handle, lambda: serve.delete(config.name)


def every_expert_request(config, media: dict[str, Path]) -> dict:
    return {
        "question": "What do these inputs show?",
        "experts": [e.name for e in config.experts],
        "media": [{"type": kind, "path": str(path)} for kind, path in media.items()],
    }


def frames_seen(handle, video: Path) -> int:
    """How many sampled frames the vision expert described in a video question."""
    answer = ask(
        handle,
        {
            "question": "What happens in this video?",
            "experts": ["vision"],
            "media": [{"type": "video", "path": str(video)}],
        },
    )
    return answer["reports"][0]["text"].count(GPU_VLM_REPLY)


def assert_routed_answer(
    answer: dict, config, router_model: Path, lrm_model: Path, exact: bool = True
) -> None:
    """The router's taught reply picked the vision, speech and audio experts (`exact`; a
    vision router, taught on text alone, may drop one once it sees the picture); the LRM's
    template opened <think>, its thinking is the reasoning, and its answer after </think> is
    the option."""
    assert answer["router"] == f"llm:{router_model.resolve()}"
    picked = {s["expert"]: s["skill"] for s in answer["selected"]}
    taught = {"vision": "A2", "speech": "B1", "audio": "B2"}
    assert picked == taught if exact else (picked and picked.items() <= taught.items()), picked
    reports = {r["expert"]: r["text"] for r in answer["reports"]}
    assert not answer["missing"], answer["missing"]
    assert "vision" not in picked or GPU_VLM_REPLY in reports["vision"]
    assert "audio" not in picked or GPU_AUDIO_REPLY in reports["audio"]
    # random weights: Whisper-large-v3's shape detects a language and decodes timestamps
    assert "speech" not in picked or reports["speech"].startswith(
        ("Subtitles:\n[", "No speech was recognised.")
    )
    assert answer["aggregator"] == f"lrm:{lrm_model.resolve()}"
    assert (answer["answer"], answer["option_index"]) == ("green", 1), answer
    # the thinking, without the tag the template opened, the one the model closed, or the
    # answer after it (a tiny taught model garbles its words on prompts it was not taught on:
    # a vision router's picks vary, and with them the LRM's prompt)
    reasoning = answer["reasoning"]
    assert reasoning.startswith("Option (") and "names green" in reasoning
    assert not any(tag in reasoning for tag in ("<think>", "</think>", "Answer:"))
    if exact:
        assert reasoning == ("Option (A) red does not match the vision report, which names green.")


def test_gpu_1x80gb_runs_every_architecture_it_names(serve_app, gpu_models, media):
    config, handle, delete = deployed("gpu-1x80gb", gpu_models["gpu-1x80gb"], media)
    try:
        # the override took every GPU away, the structure stayed
        assert all(e.deployment.ray_actor_options["num_gpus"] == 0 for e in config.experts)
        routed = ask(
            handle,
            {
                "question": "What colour is the square, and what is heard?",
                "options": ["red", "green", "blue"],
                "media": [
                    {"type": "image", "path": str(media["image"])},
                    {"type": "audio", "path": str(media["audio"])},
                ],
            },
        )
        assert_routed_answer(routed, config, gpu_models["qwen25"], gpu_models["r1"])

        everything = ask(handle, every_expert_request(config, media))
        reports = {r["expert"]: r["text"] for r in everything["reports"]}
        assert not everything["missing"], everything["missing"]
        assert set(reports) == {e.name for e in config.experts}
        # Qwen2.5-VL read the image and 9 CT slices (VL-3B's stand-in), and 8 video frames
        assert GPU_VLM_REPLY in reports["vision"]
        assert reports["ct"].count(GPU_VLM_REPLY) == 9
        assert frames_seen(handle, media["video"]) == 8
        # Whisper-large-v3's shape transcribed the tone and the video's (silent) track
        assert "[video: moving.mp4]\nThe video has no audio track." in reports["speech"]
        assert GPU_AUDIO_REPLY in reports["audio"]
    finally:
        delete()


def test_gpu_cluster_runs_every_architecture_it_names(serve_app, gpu_models, media):
    config, handle, delete = deployed("gpu-cluster", gpu_models["gpu-cluster"], media)
    try:
        # the node-type resources (expert_slot, lrm_slot) are gone with the GPUs
        assert all("resources" not in e.deployment.ray_actor_options for e in config.experts)
        routed = ask(
            handle,
            {
                "question": "What colour is the square, and what is heard?",
                "options": ["red", "green", "blue"],
                "media": [
                    {"type": "image", "path": str(media["image"])},
                    {"type": "audio", "path": str(media["audio"])},
                ],
            },
        )
        # the router is Qwen2.5-VL itself (it sees the picture); the LRM is QwQ's shape
        assert_routed_answer(
            routed, config, gpu_models["vl-router"], gpu_models["qwq"], exact=False
        )

        everything = ask(handle, every_expert_request(config, media))
        reports = {r["expert"]: r["text"] for r in everything["reports"]}
        assert not everything["missing"], everything["missing"]
        assert set(reports) == {e.name for e in config.experts}
        assert GPU_VLM_REPLY in reports["vision"]
        assert frames_seen(handle, media["video"]) == 16
        # medical-image, scene and ct run on the router's model (Qwen2.5-VL-7B's stand-in)
        assert reports["ct"].count("A2, B1, B2") == 3 * 4  # slices_per_axis: 4
        assert "A2, B1, B2" in reports["scene"] and "A2, B1, B2" in reports["medical-image"]
    finally:
        delete()
