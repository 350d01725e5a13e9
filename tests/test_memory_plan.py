"""`mexa check`'s GPU memory plan, and the memory cap each model backend gets from its share."""

from __future__ import annotations

import json
from pathlib import Path

import published_configs
import pytest
import yaml

from mexa_ray.cli import main
from mexa_ray.config import ModelSpec, load_config
from mexa_ray.models import gpu_share, memory_plan

REPO = Path(__file__).resolve().parents[1]
GiB = 1024**3


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    return published_configs.write(tmp_path_factory.mktemp("published"))


def plan_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["check", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def memory_checks(report: dict) -> dict[str, tuple[str, str]]:
    return {
        c["what"]: (c["status"], c["detail"])
        for c in report["checks"]
        if c["what"].endswith(" memory") or c["what"].startswith("GPU memory")
    }


def safetensors_params(folder: Path) -> int:
    from safetensors.torch import load_file

    return sum(t.numel() for f in folder.glob("*.safetensors") for t in load_file(f).values())


@pytest.mark.models
def test_weights_come_from_the_headers_and_match_the_architecture_built_on_meta(
    gpu_models, tmp_path
):
    """Two independent readings of each tiny checkpoint agree with the tensors themselves:
    the safetensors headers, and the architecture config.json describes (tied output layers
    counted once, as loaded)."""
    import transformers

    root = gpu_models["gpu-1x80gb"]
    for model in ["Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct",
                  "openai/whisper-large-v3", "Qwen/Qwen2-Audio-7B-Instruct"]:  # fmt: skip
        folder = root / model
        params = safetensors_params(folder)
        from_headers = memory_plan.folder_weights(folder, None, None)
        assert from_headers is not None and from_headers.source == "safetensors headers"
        assert from_headers.params == params, model
        assert from_headers.loaded_bytes(2) == 2 * params  # bf16 on a GPU, whatever is stored
        config = transformers.AutoConfig.from_pretrained(folder)
        cls = transformers.AutoModelForSpeechSeq2Seq if "whisper" in model else None
        if cls is None:
            from mexa_ray.models.hf_loading import model_class

            kind = "audio" if "Audio" in model else "vision" if "VL" in model else "text"
            cls = model_class(config, kind, None, "m")
        assert memory_plan.meta_weights(config, cls).params == params, model


def test_an_index_without_its_shards_gives_the_stored_total(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": 6_000_000}, "weight_map": {"a": "x.safetensors"}})
    )
    weights = memory_plan.folder_weights(tmp_path, None, "float32")
    assert weights is not None and weights.stored_bytes == 6_000_000
    assert weights.params == 1_500_000 and weights.loaded_bytes(2) == 3_000_000
    (tmp_path / "model.gguf").write_bytes(b"\0" * 4096)
    gguf = memory_plan.folder_weights(tmp_path, "model.gguf", None)
    assert gguf is not None and gguf.loaded_bytes(2) == 4096  # quantised: as stored


def test_kv_cache_follows_layers_heads_and_head_size(published):
    """R1-Distill-Qwen-7B: 28 layers x 4 KV heads x 128 = 56 KiB of bf16 K and V per token."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(
        published / "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
    )
    spec = ModelSpec(model="r1", max_new_tokens=4096, batch_size=4)
    working = memory_plan.working_memory(spec, config, {}, 2)
    assert working.context_tokens == 4096 + 4096
    assert working.kv_bytes == 57344 * 8192 * 4
    # vLLM pages its cache into its share: one longest sequence is the plan
    vllm = memory_plan.working_memory(spec.model_copy(update={"backend": "vllm"}), config, {}, 2)
    assert vllm.kv_bytes == 57344 * 8192
    short = memory_plan.working_memory(
        spec.model_copy(update={"context_tokens": 1024}), config, {}, 2
    )
    assert short.kv_bytes == 57344 * 1024 * 4


def test_every_packaged_model_counts_the_parameters_its_card_states(capsys, published):
    code, report = plan_json(
        capsys, "--config", "gpu-cluster", "--cluster", str(REPO / "cluster.yaml"),
        "--model-dir", str(published),
    )  # fmt: skip
    code2, report2 = plan_json(
        capsys, "--config", "gpu-1x80gb", "--gpus", "1", "--gpu-memory", "80GiB",
        "--model-dir", str(published),
    )  # fmt: skip
    rows = report["memory_plan"]["replicas"] + report2["memory_plan"]["replicas"]
    seen = {}
    for row in rows:
        model = row["model"].removeprefix(str(published) + "/")
        seen[model] = row["weights_bytes"] / 2  # bf16
        assert row["weights_source"] == "config.json architecture (meta device)"
    assert set(seen) == set(published_configs.PUBLISHED)
    for model, params in seen.items():
        stated = published_configs.PUBLISHED[model][1]
        assert abs(params - stated) / stated < 0.02, (model, params, stated)


def test_the_packaged_single_gpu_config_fits_80gb_and_fails_on_a_smaller_card(capsys, published):
    argv = ["--config", "gpu-1x80gb", "--gpus", "1", "--model-dir", str(published)]
    _, report = plan_json(capsys, *argv, "--gpu-memory", "80GiB")
    checks = memory_checks(report)
    assert len(checks) == 7  # six models and the card
    assert all(status == "ok" for status, _ in checks.values()), checks
    [card] = report["memory_plan"]["cards"]
    assert card["memory_bytes"] == 80 * GiB and 60 * GiB < card["planned_bytes"] <= 80 * GiB
    for row in report["memory_plan"]["replicas"]:
        assert row["need_bytes"] == (
            row["weights_bytes"] + row["kv_cache_bytes"] + row["activation_bytes"]
            + row["runtime_bytes"]
        )  # fmt: skip
        assert row["share_bytes"] == int(80 * GiB * row["share"])
        assert 0 <= row["headroom_bytes"] == row["share_bytes"] - row["need_bytes"]

    code, report = plan_json(capsys, *argv, "--gpu-memory", "40GiB")
    assert code == 1
    checks = memory_checks(report)
    status, detail = checks["experts.vision memory"]
    assert status == "FAIL"
    # the numbers: what it needs, its share of this card
    assert "needs 17.7 GiB" in detail and "(num_gpus 0.23 of 40.0 GiB) gives 9.2 GiB" in detail
    assert checks["GPU memory this machine/0"][0] == "FAIL"


def test_the_cluster_file_gives_each_node_types_card_memory(capsys, published, tmp_path):
    argv = ["--config", "gpu-cluster", "--model-dir", str(published)]
    _, report = plan_json(capsys, *argv, "--cluster", str(REPO / "cluster.yaml"))
    checks = memory_checks(report)
    assert checks and all(status == "ok" for status, _ in checks.values()), checks
    memory = {(c["node"], c["gpu"]): c["memory_bytes"] for c in report["memory_plan"]["cards"]}
    assert memory[("gpu_lrm-1", 0)] == 40 * GiB and memory[("gpu_experts-1", 0)] == 80 * GiB
    # the reasoning model spreads over its two whole GPUs: 2 x 40 GiB
    lrm = [r for r in report["memory_plan"]["replicas"] if r["replica"] == "aggregator#1"]
    assert lrm[0]["share_bytes"] == 80 * GiB and len(lrm[0]["gpus"]) == 2

    data = yaml.safe_load((REPO / "cluster.yaml").read_text())
    data["available_node_types"]["gpu_lrm"]["labels"] = {memory_plan.GPU_MEMORY_LABEL: "24GiB"}
    smaller = tmp_path / "cluster.yaml"
    smaller.write_text(yaml.safe_dump(data))
    code, report = plan_json(capsys, *argv, "--cluster", str(smaller))
    assert code == 1
    status, detail = memory_checks(report)["aggregator#1 memory"]
    assert status == "FAIL" and "QwQ-32B needs 74.2 GiB" in detail and "gives 48.0 GiB" in detail


def test_no_card_size_means_no_plan_and_says_how_to_ask(capsys, published):
    code, report = plan_json(
        capsys, "--config", "gpu-1x80gb", "--gpus", "1", "--model-dir", str(published)
    )
    [(status, detail)] = memory_checks(report).values()
    assert status == "unchecked" and "--gpu-memory" in detail
    assert report["memory_plan"] == {"replicas": [], "cards": []}
    assert main(["check", "--config", "gpu-1x80gb", "--gpus", "1", "--gpu-memory", "lots"]) == 2
    assert "--gpu-memory: 'lots' is not a memory size" in capsys.readouterr().err


def test_a_model_with_nothing_to_read_is_unchecked_not_passed(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    code, report = plan_json(
        capsys, "--config", "gpu-1x80gb", "--gpus", "1", "--gpu-memory", "80GiB"
    )
    checks = memory_checks(report)
    assert checks["experts.vision memory"][0] == "unchecked"
    assert checks["GPU memory this machine/0"][0] == "unchecked"
    assert "FAIL" not in {s for s, _ in checks.values()}


# --- the settings each backend receives ------------------------------------------------------


def test_a_share_of_a_card_becomes_each_engines_memory_setting():
    spec = ModelSpec(model="m", backend="vllm", max_new_tokens=512)
    assert gpu_share.vllm_engine_args(spec, 0.4) == {
        "gpu_memory_utilization": 0.4,
        "max_model_len": 4096 + 512,
    }
    # whole GPUs are the replica's own: vLLM keeps its default budget
    assert "gpu_memory_utilization" not in gpu_share.vllm_engine_args(spec, 2.0)
    assert "gpu_memory_utilization" not in gpu_share.vllm_engine_args(spec, None)
    # what the config sets wins
    own = spec.model_copy(
        update={"engine_args": {"gpu_memory_utilization": 0.3}, "context_tokens": 2048}
    )
    assert gpu_share.vllm_engine_args(own, 0.4) == {
        "gpu_memory_utilization": 0.3,
        "max_model_len": 2048,
    }
    # a share is never rounded up past itself
    assert gpu_share.fraction_of(0.2999) == 0.299 and gpu_share.fraction_of(1.0) is None


def test_llamacpp_offloads_the_layers_that_fit_its_share():
    # 24 layers of 100 MiB each: a 1 GiB share holds the runtime's 0.5 GiB and 5 layers
    layers = gpu_share.llamacpp_gpu_layers(GiB, 24 * 100 * 1024**2, 24)
    assert layers == 5
    assert gpu_share.llamacpp_gpu_layers(40 * GiB, 24 * 100 * 1024**2, 24) == 25  # all + output
    assert gpu_share.llamacpp_gpu_layers(GiB // 4, 24 * 100 * 1024**2, 24) == 0
    # on CPU (no share) only the context is set, from the plan
    spec = ModelSpec(model="m", backend="llamacpp", gguf_file="x.gguf", max_new_tokens=256)
    assert gpu_share.llamacpp_engine_args(spec, "/absent.gguf", None) == {"n_ctx": 4096 + 256}


def test_cpu_replicas_are_not_capped_and_report_their_resident_peak():
    assert gpu_share.cap_torch_memory("m", share=None) is None
    report = gpu_share.memory_report()
    assert report["device"] == "cpu" and report["peak_bytes"] > 50 * 1024**2


def test_an_out_of_memory_error_is_recognised_however_the_engine_words_it():
    import torch

    assert gpu_share.is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory."))
    assert gpu_share.is_out_of_memory(RuntimeError("llama_decode: failed: out of memory"))
    assert not gpu_share.is_out_of_memory(RuntimeError("shape mismatch"))


def test_the_copied_published_configs_are_the_architectures_the_packaged_configs_name():
    named = {
        spec.model
        for name in ("gpu-1x80gb", "gpu-cluster")
        for spec in [
            *(e.model for e in load_config(name).experts if e.model),
            load_config(name).router.llm,
            load_config(name).aggregator.llm,
        ]
        if spec is not None
    }
    assert named == set(published_configs.PUBLISHED)
