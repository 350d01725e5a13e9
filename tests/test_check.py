"""`mexa check`: the preflight a GPU user runs before deploying, without Ray or weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mexa_ray.cli import main
from mexa_ray.config import load_config

REPO = Path(__file__).resolve().parents[1]
GPU_1X80GB_MODELS = [
    "router.llm",
    "aggregator.llm",
    "experts.vision.model",
    "experts.speech.model",
    "experts.audio.model",
    "experts.ct.model",
]


def check(capsys, *argv: str) -> tuple[int, dict[str, str]]:
    """Exit code, and each line's status by what it checked."""
    code = main(["check", *argv])
    lines = capsys.readouterr().out.splitlines()
    statuses = {}
    for line in lines:
        status, _, rest = line.partition(" ")
        statuses[rest.strip().split(": ", 1)[0]] = status
    return code, statuses | {"_lines": "\n".join(lines)}


def test_hub_ids_that_cannot_be_looked_at_are_unchecked_not_passed(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, lines = check(capsys, "--config", "gpu-1x80gb", "--gpus", "1")
    assert code == 0, lines["_lines"]
    assert [lines[m] for m in GPU_1X80GB_MODELS] == ["unchecked"] * 6
    assert "FAIL" not in lines.values()
    # its shares sum to one GPU: they fit one card, and not a card less
    assert lines["GPU budget"] == "ok" and "this machine 1/1 GPUs" in lines["_lines"]
    assert all(
        lines[f"experts.{e.name}.backend"] == "ok" for e in load_config("gpu-1x80gb").experts
    )


def test_the_cluster_config_fits_the_cluster_file(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, lines = check(capsys, "--config", "gpu-cluster", "--cluster", str(REPO / "cluster.yaml"))
    assert code == 0, lines["_lines"]
    assert lines["GPU budget"] == "ok"
    # each LRM replica takes two whole GPUs of an lrm_slot node; the experts share an expert
    # node, and the router's second replica (one per node) takes a second one
    assert (
        "gpu_experts-1 3.75/8 GPUs; gpu_experts-2 0.5/8 GPUs; gpu_lrm-1 4/8 GPUs" in lines["_lines"]
    )
    assert lines["media.roots /data/media"] == "warn"  # shared storage, not here
    # on one machine its node-type resources exist nowhere: it cannot start
    code, lines = check(capsys, "--config", "gpu-cluster", "--gpus", "8")
    assert code == 1 and lines["GPU budget"] == "FAIL"
    assert "expert_slot" in lines["_lines"]


@pytest.mark.parametrize("name", ["gpu-1x80gb", "gpu-cluster"])
def test_tiny_model_configs_resolve_every_class(capsys, gpu_models, name):
    code, lines = check(capsys, "--config", name, "--no-gpus", "--model-dir", str(gpu_models[name]))
    text = lines["_lines"]
    assert code == 0, text
    models = [k for k in lines if k.endswith((".llm", ".model"))]
    assert models and all(lines[m] == "ok" for m in models), text
    assert "Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor" in text
    assert "Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor" in text
    assert "WhisperForConditionalGeneration, WhisperProcessor" in text
    assert "weights present" in text


def write_config(tmp_path: Path, change) -> Path:
    data = load_config("gpu-1x80gb").model_dump(mode="json")
    change(data)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_missing_package_fails_naming_the_expert_and_the_package(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "needs-a-package"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "needs-a-package",
                "auto_map": {"AutoConfig": "configuration_needs.NeedsConfig"},
            }
        )
    )
    (folder / "configuration_needs.py").write_text(
        "import mexa_absent_package\nfrom transformers import PretrainedConfig\n\n\n"
        "class NeedsConfig(PretrainedConfig):\n    model_type = 'needs-a-package'\n"
    )

    def change(data):
        data["aggregator"]["llm"]["backend"] = "vllm"
        data["experts"][0]["model"].update(model=str(folder), trust_remote_code=True)

    code, lines = check(capsys, "--config", str(write_config(tmp_path, change)))
    text = lines["_lines"]
    assert code == 1
    assert lines["aggregator.llm.backend"] == "FAIL"
    assert "'vllm' needs the vllm package, which is not installed" in text
    assert lines["experts.vision.model"] == "FAIL"
    assert "needs the mexa_absent_package package, which is not installed" in text


def test_a_gpu_budget_that_does_not_fit_fails(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def change(data):  # the vision expert asks for a whole GPU beside the others' shares
        data["experts"][0]["deployment"]["ray_actor_options"]["num_gpus"] = 1

    config = str(write_config(tmp_path, change))
    code, lines = check(capsys, "--config", config, "--gpus", "1")
    assert code == 1 and lines["GPU budget"] == "FAIL"
    assert "fit no node" in lines["_lines"]
    code, lines = check(capsys, "--config", config, "--gpus", "2")
    assert code == 0 and lines["GPU budget"] == "ok"


def test_replicas_kept_apart_need_as_many_nodes():
    """max_replicas_per_node: the check places no more of a deployment's replicas on a node
    than Serve would, so a control path kept apart on too few nodes fails before deploying."""
    from mexa_ray.cli.check import Node, place, replicas

    config = load_config("gpu-cluster")
    ingress = [r for r in replicas(config, "max") if r.deployment == "ingress"]
    assert len(ingress) == 4 and all(r.max_per_node == 1 for r in ingress)

    def frontends(n: int) -> list[Node]:
        return [Node(f"frontend-{i}", 8.0, [], {"frontend_slot": 1000.0}) for i in range(n)]

    nodes = frontends(4)
    assert place(nodes, ingress) == [] and all(len(n.placed) == 1 for n in nodes)
    assert [r.label for r in place(frontends(3), ingress)] == ["ingress#4"]
