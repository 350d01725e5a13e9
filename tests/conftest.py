"""Shared fixtures: generated media, one embedding model, and one real Ray Serve app per session.

Ray takes seconds to start and the app longer to deploy, so both happen once; every end-to-end
test talks to the same app over HTTP (and through its handle).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from mexa_ray.cli.demo import examples
from mexa_ray.config import AppConfig, EmbeddingSpec, load_config, parse_config

#: experts whose work is a controlled sleep or failure, added to the default app for tests
SYNTHETIC_EXPERTS = [
    {"name": "slow-a", "delay_s": 0.5, "timeout_s": 10, "gpus": 0.5},
    {"name": "slow-b", "delay_s": 0.5, "timeout_s": 10, "gpus": 0.5},
    {"name": "broken", "delay_s": 0.0, "timeout_s": 10, "fail": True},
    {"name": "exhausted", "delay_s": 0.0, "timeout_s": 10, "fail": "out_of_memory"},
    {"name": "sluggish", "delay_s": 5.0, "timeout_s": 0.5},
]


#: the test app's expert group: a real expert and one that fails on every call
GROUPED = ("text-reader", "broken")

#: fixtures that start Ray, Serve, a browser, or build or load a model: a test using one is `slow`
SLOW_FIXTURES = {
    "ray_session", "serve_app", "http", "ray_tmp", "tiny", "gpu_models", "embedder", "browser",
}  # fmt: skip
#: the markers of tests that start Ray, Serve, a cluster or a model on their own
SLOW_MARKERS = {"serve", "data", "models", "cluster"}


def pytest_collection_modifyitems(config, items) -> None:
    """Every test that starts Ray, Serve, a cluster, a browser or a model is `slow`, from its
    fixtures and markers, so `-m "not slow"` is the fast tier without a list to keep."""
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames) or SLOW_MARKERS & {
            m.name for m in item.iter_markers()
        }:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def fast_tier_starts_no_ray(request):
    """In the fast tier (`-m "not slow"`) a test that starts Ray fails, naming the marker it
    lacks, instead of quietly making the tier slow."""
    if "not slow" not in (request.config.getoption("markexpr") or ""):
        yield
        return
    import ray

    def refuse(*args, **kwargs):
        raise RuntimeError("this test starts Ray: mark it slow (or use a slow fixture)")

    original, ray.init = ray.init, refuse
    yield
    ray.init = original


@pytest.fixture(scope="session")
def demo_requests(tmp_path_factory) -> list[dict]:
    return examples(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def media_dir(demo_requests) -> Path:
    return Path(demo_requests[0]["media"][0]["path"]).parent


@pytest.fixture(scope="session")
def embedder():
    from mexa_ray.models.embedding import shared_embedder

    return shared_embedder(EmbeddingSpec())


def app_config_for_tests(media_dir: Path) -> AppConfig:
    """The default config plus the synthetic experts, with the generated media as a root."""
    data = load_config("analytic").model_dump()
    for s in SYNTHETIC_EXPERTS:
        data["experts"].append(
            {
                "name": s["name"],
                "backend": "synthetic",
                "modalities": ["text"],
                "skills": ["T1"],
                "description": f"Synthetic test expert {s['name']}.",
                "timeout_s": s["timeout_s"],
                "settings": {"delay_s": s["delay_s"], "fail": s.get("fail", False)},
                "deployment": {
                    "num_replicas": 1,
                    "max_ongoing_requests": 8,
                    "ray_actor_options": {"num_cpus": 0.05, "num_gpus": s.get("gpus", 0)},
                },
            }
        )
    # two experts share one deployment (`expert_groups`), one of them failing on every call:
    # every e2e test touching them goes through a group's replica
    data["expert_groups"] = [
        {"name": "shared", "experts": list(GROUPED), "deployment": {"num_replicas": 1}}
    ]
    data["media"]["roots"] = [str(media_dir)]
    return parse_config(data)


@pytest.fixture
def free_port() -> int:
    return pick_free_port()


def pick_free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_node(node: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Stops a `ray start --block` run in a process group of its own (this Ray only). SIGKILL
    to the group loses the node at once. SIGTERM goes to `ray start` alone, which
    stops its own processes; sent to the whole group it leaves the GCS lingering for half a
    minute, so after a short grace what is left of the group is killed."""
    try:
        if sig == signal.SIGKILL:
            os.killpg(node.pid, sig)
        else:
            node.send_signal(sig)
    except ProcessLookupError:
        return
    try:
        node.wait(timeout=5 if sig != signal.SIGKILL else 60)
    except subprocess.TimeoutExpired:
        os.killpg(node.pid, signal.SIGKILL)
        node.wait(timeout=60)


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray (with two logical GPUs) for every test that needs Ray: Serve and Data."""
    import ray

    ray.init(
        num_cpus=4,
        num_gpus=2,
        include_dashboard=False,
        object_store_memory=300 * 2**20,
        log_to_driver=False,
    )
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="session")
def serve_app(ray_session, media_dir):
    """The app running on the session's Ray; yields (handle, base_url)."""
    from ray import serve

    from mexa_ray.serving import runtime
    from mexa_ray.serving.serve_config import http_options

    port = pick_free_port()
    config = app_config_for_tests(media_dir)
    serve.start(
        http_options=http_options(config, "127.0.0.1", port), logging_config={"log_level": "INFO"}
    )  # request ids in the log files
    handle = runtime.deploy(config)
    yield handle, f"http://127.0.0.1:{port}"
    serve.shutdown()


@pytest.fixture(scope="session")
def http(serve_app):
    """An HTTP client for the session's app."""
    import httpx

    _, base_url = serve_app
    with httpx.Client(base_url=base_url, timeout=120) as client:
        yield client


#: what the taught tiny models answer, whatever the prompt
ROUTER_REPLY = "B2, Z9"
LRM_REPLY = "<think>The audio expert hears a steady melody.</think>Answer: (B)"
VLM_REPLY = "a red square moves right"


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """Tiny models saved with save_pretrained, built once per session (a few seconds each)."""
    import tiny_models

    root = tmp_path_factory.mktemp("tiny-models")
    return {
        "router": tiny_models.causal_lm(root / "router", reply=ROUTER_REPLY, roles=("router",)),
        "lrm": tiny_models.causal_lm(root / "lrm", reply=LRM_REPLY, seed=1, roles=("aggregator",)),
        "random-lm": tiny_models.causal_lm(root / "random-lm"),
        "vlm": tiny_models.llava(root / "vlm", reply=VLM_REPLY),
        "whisper": tiny_models.whisper(root / "whisper"),
    }


#: what the tiny stand-ins for the packaged GPU configs' models answer
GPU_ROUTE_REPLY = "A2, B1, B2"
GPU_VLM_REPLY = "a green square"
GPU_AUDIO_REPLY = "a steady beeping tone"
#: a reasoning model's reply after the <think> its template opened: weighs (A) first
GPU_LRM_REPLY = (
    "Option (A) red does not match the vision report, which names green.</think>Answer: (B)"
)


@pytest.fixture(scope="session")
def gpu_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny models of every architecture the packaged GPU configs name, laid out as model
    folders (`--model-dir`) under their hub ids: one folder per config, since gpu-cluster's
    router is the Qwen2.5-VL-7B that gpu-1x80gb uses as its vision expert."""
    import tiny_models

    root = tmp_path_factory.mktemp("gpu-models")
    built = {
        "qwen25": tiny_models.qwen25_instruct(root / "built" / "qwen25", GPU_ROUTE_REPLY),
        # greedy, so the answers are exact (test_reasoning_models covers their sampling)
        "r1": tiny_models.r1_distill(root / "built" / "r1", GPU_LRM_REPLY, seed=1, sampled=False),
        "qwq": tiny_models.qwq(root / "built" / "qwq", GPU_LRM_REPLY, seed=1, sampled=False),
        "vl": tiny_models.qwen25_vl(root / "built" / "vl", GPU_VLM_REPLY),
        # the router of gpu-cluster, and its medical-image, scene and ct experts' model
        "vl-router": tiny_models.qwen25_vl(
            root / "built" / "vl-router", GPU_ROUTE_REPLY, roles=("vision-router", "image")
        ),
        "whisper": tiny_models.whisper(root / "built" / "whisper", multilingual=True),
        "audio": tiny_models.qwen2_audio(root / "built" / "audio", GPU_AUDIO_REPLY),
    }
    layouts = {
        "gpu-1x80gb": {
            "Qwen/Qwen2.5-1.5B-Instruct": "qwen25",
            "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": "r1",
            "Qwen/Qwen2.5-VL-7B-Instruct": "vl",
            "Qwen/Qwen2.5-VL-3B-Instruct": "vl",
            "openai/whisper-large-v3": "whisper",
            "Qwen/Qwen2-Audio-7B-Instruct": "audio",
        },
        "gpu-cluster": {
            "Qwen/Qwen2.5-VL-7B-Instruct": "vl-router",
            "Qwen/QwQ-32B": "qwq",
            "Qwen/Qwen2.5-VL-32B-Instruct": "vl",
            "openai/whisper-large-v3": "whisper",
            "Qwen/Qwen2-Audio-7B-Instruct": "audio",
        },
    }
    dirs: dict[str, Path] = {}
    for config, layout in layouts.items():
        for model_id, key in layout.items():
            link = root / config / model_id
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(built[key], target_is_directory=True)
        dirs[config] = root / config
    return {**built, **dirs}
