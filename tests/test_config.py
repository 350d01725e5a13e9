import pytest

from mexa_ray.config import load_config, parse_config
from mexa_ray.errors import ConfigError
from mexa_ray.experts import backend_class, build_expert
from mexa_ray.experts.synthetic import SyntheticExpert
from mexa_ray.skills import MEXA_SKILLS

PAPER_SKILLS = {
    "A1": "Video Description", "A2": "Detailed Image Description",
    "A3": "Short Image Description", "B1": "Video Subtitle Extraction",
    "B2": "Audio Description", "B3": "Music Description", "C1": "3D Scene Description",
    "C2": "3D Situated Context Description", "D1": "CT Scan Interpretation",
    "D2": "Medical Image Description", "E1": "General OCR", "E2": "Poster/Slides Caption",
    "E3": "PDF Text Extraction", "F1": "Chart/Plot Description", "F2": "Table Description",
    "G1": "Equation Caption", "G2": "Mathematics & Geometry Caption",
}


def test_catalogue_keeps_the_papers_seventeen_skills():
    assert {s.id: s.name for s in MEXA_SKILLS} == PAPER_SKILLS


def test_default_config_covers_the_demo_modalities():
    config = load_config()
    modalities = {m for e in config.experts for m in e.modalities}
    assert {"table", "points", "audio", "image", "video", "text"} <= modalities
    catalogue = config.skill_catalogue()
    assert all(sid in catalogue for e in config.experts for sid in e.skills)


def _data(**expert_overrides):
    expert = {"name": "x", "backend": "table", "modalities": ["table"], "skills": ["F2"],
              "description": "d"}
    expert.update(expert_overrides)
    return {"experts": [expert]}


@pytest.mark.parametrize("override, field, words", [
    ({"skills": ["Z9"]}, "experts.0.skills", "unknown skill 'Z9'"),
    ({"modalities": ["smell"]}, "experts.0.modalities", "unknown modality"),
    ({"skills": ["C1"]}, "experts.0.skills", "skill C1 reads"),
    ({"name": "Bad Name"}, "experts.0.name", "pattern"),
    ({"colour": "red"}, "experts.0.colour", "Extra inputs"),
    ({"deployment": {"num_replicas": 2, "autoscaling_config": {"max_replicas": 3}}},
     "experts.0.deployment", "either num_replicas or autoscaling_config"),
    ({"deployment": {"max_queued_requests": 0}}, "experts.0.deployment",
     "-1 (no limit) or at least 1"),
    ({"bulk": {"actors": [3, 1]}}, "experts.0.bulk.actors", "need 1 <= min <= max"),
    ({"bulk": {"batch_size": 0}}, "experts.0.bulk.batch_size", "greater than or equal to 1"),
])
def test_bad_config_names_the_field(override, field, words):
    with pytest.raises(ConfigError) as info:
        parse_config(_data(**override))
    assert info.value.field == field
    assert words in info.value.message


def test_duplicate_expert_names_are_refused():
    data = _data()
    data["experts"].append(dict(data["experts"][0]))
    with pytest.raises(ConfigError, match="duplicate expert name"):
        parse_config(data)


def test_missing_config_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("experts: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- a list")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(bad)


def test_adding_an_expert_is_a_config_entry_with_any_backend_class():
    data = _data(backend="mexa_ray.experts.synthetic:SyntheticExpert", options={"text": "hi"})
    config = parse_config(data)
    expert = build_expert(config.experts[0], config.skill_catalogue())
    assert isinstance(expert, SyntheticExpert)


def test_unknown_backend_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown expert backend"):
        backend_class("nonexistent")
    with pytest.raises(ConfigError, match="cannot be imported"):
        backend_class("no.such.module:Cls")


def test_serve_options_carry_resources_and_scaling():
    config = load_config()
    opts = config.expert("table-profiler").deployment.serve_options()
    assert opts["ray_actor_options"]["num_gpus"] == 0
    assert opts["autoscaling_config"]["max_replicas"] == 2
    assert "num_replicas" not in opts
    fixed = config.expert("text-reader").deployment.serve_options()
    assert fixed["num_replicas"] == 1 and "autoscaling_config" not in fixed


@pytest.mark.parametrize("name", ["gpu-1x80gb", "gpu-cluster"])
def test_recommended_gpu_configs_are_valid_and_complete(name):
    config = load_config(name)
    assert config.router.kind == "llm" and config.aggregator.kind == "lrm"
    for spec in config.experts:
        backend_class(spec.backend)  # every backend imports
    covered = {sid for spec in config.experts for sid in spec.skills}
    assert {s.id for s in MEXA_SKILLS} <= covered  # all 17 MEXA skills have an expert
    if name == "gpu-1x80gb":  # everything shares one card
        deployments = [config.router.deployment, config.aggregator.deployment,
                       config.ingress.deployment] + [s.deployment for s in config.experts]
        assert sum(d.ray_actor_options.get("num_gpus", 0) for d in deployments) <= 1.0


def test_packaged_configs_load_by_name_and_unknown_names_are_clear():
    assert load_config("default").experts == load_config().experts
    with pytest.raises(ConfigError, match="packaged configs: analytic, default, gpu-1x80gb, gpu-cluster"):
        load_config("gpu-9x")


def test_bulk_resources_default_to_the_serve_deployment():
    spec = parse_config(_data(deployment={"ray_actor_options": {"num_cpus": 2, "num_gpus": 0.5}},
                              bulk={"num_gpus": 0.25})).experts[0]
    assert spec.bulk.resources(spec.deployment) == {"num_cpus": 2.0, "num_gpus": 0.25}


def test_default_extends_analytic_with_models_and_keeps_its_experts():
    default, analytic = load_config(), load_config("analytic")
    # chosen on the quality suite: the evidence ranking and the embedding router
    assert default.router.kind == "embedding" and default.aggregator.kind == "evidence"
    assert analytic.router.kind == "embedding" and analytic.aggregator.kind == "evidence"
    small = load_config("lrm-small")  # the small-LLM setup, kept to compare
    assert small.router.kind == "llm" and small.aggregator.kind == "lrm"
    assert small.aggregator.verify_confidence == 0.5 and small.experts == default.experts
    names = [e.name for e in default.experts]
    assert names[:5] == [e.name for e in analytic.experts]  # replaced in place, new ones appended
    assert names[5:] == ["speech-transcriber", "text-in-image"]
    assert default.expert("visual-stats").options["classifier"]["arch"] == "efficientnet-lite0"
    assert default.expert("table-profiler") == analytic.expert("table-profiler")
    assert default.router.deployment == analytic.router.deployment  # merged, not replaced


def test_extends_a_file_beside_the_config_and_refuses_loops(tmp_path):
    (tmp_path / "base.yaml").write_text("extends: analytic\nrequest_deadline_s: 7\n")
    (tmp_path / "mine.yaml").write_text(
        "extends: base.yaml\nexperts:\n  - name: text-reader\n    backend: text\n"
        "    modalities: [text]\n    skills: [T1]\n    description: Mine.\n")
    config = load_config(tmp_path / "mine.yaml")
    assert config.request_deadline_s == 7 and config.expert("text-reader").description == "Mine."
    assert len(config.experts) == len(load_config("analytic").experts)
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="loops"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("extends: nowhere.yaml\n")
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "c.yaml")
