import subprocess
import sys
from types import SimpleNamespace

import pytest

from mexa_ray.config import Overrides, load_config, packaged_configs, parse_config
from mexa_ray.errors import ConfigError
from mexa_ray.experts import BACKENDS, backend_class, build_expert, settings_model
from mexa_ray.experts.base import Expert
from mexa_ray.experts.settings import NoSettings, SyntheticSettings
from mexa_ray.experts.synthetic import SyntheticExpert
from mexa_ray.reasoning.skills import MEXA_SKILLS

PAPER_SKILLS = {
    "A1": "Video Description",
    "A2": "Detailed Image Description",
    "A3": "Short Image Description",
    "B1": "Video Subtitle Extraction",
    "B2": "Audio Description",
    "B3": "Music Description",
    "C1": "3D Scene Description",
    "C2": "3D Situated Context Description",
    "D1": "CT Scan Interpretation",
    "D2": "Medical Image Description",
    "E1": "General OCR",
    "E2": "Poster/Slides Caption",
    "E3": "PDF Text Extraction",
    "F1": "Chart/Plot Description",
    "F2": "Table Description",
    "G1": "Equation Caption",
    "G2": "Mathematics & Geometry Caption",
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
    expert = {
        "name": "x",
        "backend": "table",
        "modalities": ["table"],
        "skills": ["F2"],
        "description": "d",
    }
    expert.update(expert_overrides)
    return {"experts": [expert]}


@pytest.mark.parametrize(
    "override, field, words",
    [
        ({"skills": ["Z9"]}, "experts.0.skills", "unknown skill 'Z9'"),
        ({"modalities": ["smell"]}, "experts.0.modalities", "unknown modality"),
        ({"skills": ["C1"]}, "experts.0.skills", "skill C1 reads"),
        ({"name": "Bad Name"}, "experts.0.name", "pattern"),
        ({"colour": "red"}, "experts.0.colour", "Extra inputs"),
        (
            {"deployment": {"num_replicas": 2, "autoscaling_config": {"max_replicas": 3}}},
            "experts.0.deployment.num_replicas",
            "either num_replicas or autoscaling_config",
        ),
        (
            {"deployment": {"max_queued_requests": 0}},
            "experts.0.deployment.max_queued_requests",
            "-1 (no limit) or at least 1",
        ),
        (
            {"deployment": {"max_replicas_per_node": 0}},
            "experts.0.deployment.max_replicas_per_node",
            "greater than or equal to 1",
        ),
        ({"bulk": {"actors": [3, 1]}}, "experts.0.bulk.actors", "need 1 <= min <= max"),
        ({"bulk": {"batch_size": 0}}, "experts.0.bulk.batch_size", "greater than or equal to 1"),
    ],
)
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
    data = _data(backend="mexa_ray.experts.synthetic:SyntheticExpert", settings={"text": "hi"})
    config = parse_config(data)
    expert = build_expert(config.experts[0], config.skill_catalogue())
    assert isinstance(expert, SyntheticExpert)


def test_unknown_backend_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown expert backend"):
        backend_class("nonexistent")
    with pytest.raises(ConfigError, match="cannot be imported"):
        backend_class("no.such.module:Cls")


def test_serve_kwargs_carry_resources_and_scaling():
    config = load_config()
    opts = config.expert("table-profiler").deployment.serve_kwargs()
    assert opts["ray_actor_options"]["num_gpus"] == 0
    assert opts["autoscaling_config"]["max_replicas"] == 2
    assert "num_replicas" not in opts
    fixed = config.expert("text-reader").deployment.serve_kwargs()
    assert fixed["num_replicas"] == 1 and "autoscaling_config" not in fixed
    assert "max_replicas_per_node" not in fixed  # Serve's own default: no limit
    # on one machine (--no-gpus), replicas kept apart could never all start: the limit goes
    one_machine = load_config("gpu-cluster", Overrides(no_gpus=True))
    assert one_machine.router.deployment.autoscaling_config["min_replicas"] == 2
    assert all(
        d.max_replicas_per_node is None
        for d in (one_machine.ingress.deployment, one_machine.router.deployment)
    )
    # the cluster config keeps each control-path deployment's replicas on different nodes
    cluster = load_config("gpu-cluster")
    for deployment in (cluster.ingress.deployment, cluster.router.deployment):
        opts = deployment.serve_kwargs()
        assert opts["max_replicas_per_node"] == 1
        assert opts["autoscaling_config"]["min_replicas"] >= 2


@pytest.mark.parametrize("name", ["gpu-1x80gb", "gpu-cluster"])
def test_recommended_gpu_configs_are_valid_and_complete(name):
    config = load_config(name)
    assert config.router.kind == "llm" and config.aggregator.kind == "lrm"
    for spec in config.experts:
        backend_class(spec.backend)  # every backend imports
    covered = {sid for spec in config.experts for sid in spec.skills}
    assert {s.id for s in MEXA_SKILLS} <= covered  # all 17 MEXA skills have an expert
    if name == "gpu-1x80gb":  # everything shares one card
        deployments = [
            config.router.deployment,
            config.aggregator.deployment,
            config.ingress.deployment,
        ] + [s.deployment for s in config.experts]
        assert sum(d.ray_actor_options.get("num_gpus", 0) for d in deployments) <= 1.0


def test_packaged_configs_load_by_name_and_unknown_names_are_clear():
    assert load_config("default").experts == load_config().experts
    with pytest.raises(
        ConfigError, match="packaged configs: analytic, default, gpu-1x80gb, gpu-cluster"
    ):
        load_config("gpu-9x")


def test_bulk_resources_default_to_the_serve_deployment():
    spec = parse_config(
        _data(
            deployment={"ray_actor_options": {"num_cpus": 2, "num_gpus": 0.5}},
            bulk={"num_gpus": 0.25},
        )
    ).experts[0]
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
    assert names[5:] == ["speech-transcriber", "sound-events", "text-in-image", "chart-reader"]
    assert default.expert("visual-stats").settings["classifier"]["arch"] == "efficientnet-lite0"
    assert default.expert("table-profiler") == analytic.expert("table-profiler")
    assert default.router.deployment == analytic.router.deployment  # merged, not replaced


def test_extends_a_file_beside_the_config_and_refuses_loops(tmp_path):
    (tmp_path / "base.yaml").write_text("extends: analytic\nrequest_deadline_s: 7\n")
    (tmp_path / "mine.yaml").write_text(
        "extends: base.yaml\nexperts:\n  - name: text-reader\n    backend: text\n"
        "    modalities: [text]\n    skills: [T1]\n    description: Mine.\n"
    )
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


# --- backend settings: typed, checked at load ---------------------------------------------------


@pytest.mark.parametrize(
    "override, field, words",
    [
        ({"settings": {"max_colums": 3}}, "experts.0.settings.max_colums", "Extra inputs"),
        ({"settings": {"max_rows": "five"}}, "experts.0.settings.max_rows", "valid integer"),
        (
            {"settings": {"max_columns": 0}},
            "experts.0.settings.max_columns",
            "greater than or equal to 1",
        ),
        (
            {
                "backend": "visual",
                "modalities": ["image"],
                "skills": ["A2"],
                "settings": {"classifier": {"topk": 5}},
            },
            "experts.0.settings.classifier.topk",
            "Extra inputs",
        ),
        # a built-in class named by its path is checked at load all the same
        (
            {
                "backend": "mexa_ray.experts.synthetic:SyntheticExpert",
                "modalities": ["text"],
                "skills": ["T1"],
                "settings": {"dealy_s": 1},
            },
            "experts.0.settings.dealy_s",
            "Extra inputs",
        ),
    ],
)
def test_a_bad_setting_fails_at_load_naming_its_field(override, field, words):
    with pytest.raises(ConfigError) as info:
        parse_config(_data(**override))
    assert info.value.field == field
    assert words in info.value.message and field in info.value.message


def test_a_misspelt_setting_in_a_yaml_file_fails_at_load(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "extends: analytic\nexperts:\n  - name: text-reader\n    backend: text\n"
        "    modalities: [text]\n    skills: [T1]\n    description: d\n"
        "    settings: {max_chars: 10, max_char: 20}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    # the user's file and line, and the expert by name: not the merged list's index
    assert info.value.field == "experts.text-reader.settings.max_char"
    assert info.value.message == f"{path}, line 8: Extra inputs are not permitted"


def test_an_error_in_a_file_that_extends_names_the_users_file_line_and_expert(tmp_path):
    """A new expert appended after the parent's, a base file's setting and the user's own:
    each error points at the file and line that wrote it."""
    (tmp_path / "base.yaml").write_text("extends: analytic\nrouter:\n  max_experts: 0\n")
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "extends: base.yaml\n"
        "experts:\n"
        "  - name: word-stats\n"
        "    backend: text\n"
        "    modalities: [text]\n"
        "    skills: [T1]\n"
        "    description: Counts words.\n"
        "    settings:\n"
        "      max_chars: 10\n"
        "      top_kk: 3\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(mine)
    assert info.value.field == "router.max_experts"  # validated first: the base's line
    assert info.value.message.startswith(f"{tmp_path / 'base.yaml'}, line 3: ")
    (tmp_path / "base.yaml").write_text("extends: analytic\n")
    with pytest.raises(ConfigError) as info:
        load_config(mine)
    assert info.value.field == "experts.word-stats.settings.top_kk"
    assert info.value.message == f"{mine}, line 10: Extra inputs are not permitted"
    assert len(load_config("analytic").experts) > 1  # so the merged index was not 0


def test_the_old_keys_fail_with_their_new_names():
    with pytest.raises(ConfigError) as info:
        parse_config(_data(options={"max_rows": 3}))
    assert info.value.field == "experts.0.options"
    assert "renamed to `settings`" in info.value.message
    data = _data()
    data["aggregator"] = {
        "kind": "lrm",
        "llm": {"model": "m", "backend": "vllm", "engine_options": {"tensor_parallel_size": 2}},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert info.value.field == "aggregator.llm.engine_options"
    assert "renamed to `engine_args`" in info.value.message


@pytest.mark.parametrize("name", packaged_configs())
def test_every_packaged_config_loads_with_valid_settings(name):
    config = load_config(name)
    for spec in config.experts:
        model = settings_model(spec.backend)
        assert model is not None, spec.backend  # packaged configs use registered backends
        model.model_validate(spec.settings)


def test_loading_a_config_imports_no_backend_or_model_library():
    code = (
        "import sys; from mexa_ray.config import load_config; load_config('gpu-cluster'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'torch', 'transformers', 'open3d', 'pyarrow', 'av', 'ray') "
        "or m.startswith('mexa_ray.experts.') and m not in "
        "('mexa_ray.experts.base', 'mexa_ray.experts.settings', 'mexa_ray.experts.catalogue')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_each_catalogue_entry_is_an_expert_class_whose_experts_read_its_settings_model():
    """One entry per backend: its class imports, and an expert built from it parses its
    settings with the entry's model (the class itself declares none)."""
    from mexa_ray.experts.catalogue import BY_TARGET

    for name, entry in BACKENDS.items():
        cls = backend_class(name)
        assert f"{cls.__module__}:{cls.__qualname__}" == entry.target, name
        assert settings_model(name) is settings_model(entry.target) is entry.settings
        spec = SimpleNamespace(name="x", settings={})  # what parse_settings reads
        assert type(cls.parse_settings(spec)) is entry.settings, name
    assert len(BY_TARGET) == len(BACKENDS)


def test_an_expert_reads_typed_settings_with_the_defaults():
    config = parse_config(
        _data(backend="synthetic", modalities=["text"], skills=["T1"], settings={"delay_s": 0})
    )
    expert = build_expert(config.experts[0], config.skill_catalogue())
    assert isinstance(expert.settings, SyntheticSettings)
    assert expert.settings.delay_s == 0.0 and expert.settings.fail is False
    assert expert.settings.text is None


class _NoSettingsExpert(Expert):
    """A custom backend that declares no settings model."""

    def describe(self, item, query, skill) -> str:
        return "nothing"


def test_a_custom_backend_without_a_settings_model_takes_none():
    # a custom class's model is only known once it is imported, so it is checked when built
    spec = parse_config(_data(backend="my.module:Expert", settings={"depth": 3})).experts[0]
    skills = load_config("analytic").skill_catalogue()
    with pytest.raises(ConfigError) as info:
        _NoSettingsExpert(spec, skills)
    assert info.value.field == "experts.x.settings.depth"
    assert "Extra inputs" in info.value.message
    fine = parse_config(_data(backend="my.module:Expert")).experts[0]
    assert _NoSettingsExpert(fine, skills).settings == NoSettings()


@pytest.mark.parametrize(
    "group, words",
    [
        ({"name": "g", "experts": ["nobody"]}, "no expert named 'nobody'"),
        ({"name": "g", "experts": ["gpu-one"]}, "asks for GPUs"),
        ({"name": "g", "experts": ["batcher"]}, "batches its calls"),
        (
            {
                "name": "g",
                "experts": ["light"],
                "deployment": {"ray_actor_options": {"num_gpus": 1}},
            },
            "give GPU experts their own deployments",
        ),
    ],
)
def test_expert_groups_hold_cpu_experts_that_exist(group, words):
    data = load_config("analytic").model_dump()
    base = {"backend": "synthetic", "modalities": ["text"], "skills": ["T1"], "description": "x"}
    data["experts"] += [
        {**base, "name": "light"},
        {**base, "name": "gpu-one", "deployment": {"ray_actor_options": {"num_gpus": 0.5}}},
        {**base, "name": "batcher", "batching": {"max_batch_size": 2}},
    ]
    data["expert_groups"] = [group]
    with pytest.raises(ConfigError, match=words) as info:
        parse_config(data)
    assert info.value.field.startswith("expert_groups.0")


def test_an_expert_is_in_one_group_and_its_deployment_is_the_groups():
    data = load_config("analytic").model_dump()
    data["expert_groups"] = [
        {"name": "a", "experts": ["text-reader", "audio-signal"]},
        {"name": "b", "experts": ["audio-signal"]},
    ]
    with pytest.raises(ConfigError, match="'audio-signal' is in group 'a' already"):
        parse_config(data)
    data["expert_groups"].pop()
    config = parse_config(data)
    assert config.deployment_of("audio-signal") == config.deployment_of("text-reader")
    assert config.deployment_of("audio-signal") == "experts-a"
    assert config.deployment_of("table-profiler") == "expert-table-profiler"
    names = [name for name, _, _ in config.deployments()]
    assert "experts-a" in names and "expert-text-reader" not in names
    assert "expert-table-profiler" in names


def test_no_gpus_reaches_a_groups_deployment():
    """`--no-gpus` (a laptop, CI) lifts a group's cluster placement as it does an expert's."""
    data = load_config("analytic").model_dump()
    data["expert_groups"] = [
        {
            "name": "a",
            "experts": ["text-reader", "audio-signal"],
            "deployment": {
                "max_replicas_per_node": 1,
                "ray_actor_options": {"num_cpus": 2, "resources": {"expert_slot": 1}},
            },
        }
    ]
    config = parse_config(Overrides(no_gpus=True).apply(data))
    group = config.expert_groups[0].deployment
    assert "resources" not in group.ray_actor_options
    assert group.max_replicas_per_node is None
    assert group.ray_actor_options["num_cpus"] <= Overrides(no_gpus=True).cpu_cap


def test_a_deployment_without_actor_options_says_its_cpus():
    """The cards, Serve and `mexa check` read num_cpus from every deployment block, written or
    not (a group's `deployment: {num_replicas: 1}` once failed the ingress's start)."""
    from mexa_ray.cards import expert_cards

    data = load_config("analytic").model_dump()
    data["expert_groups"] = [
        {"name": "g", "experts": ["text-reader"], "deployment": {"num_replicas": 1}}
    ]
    config = parse_config(data)
    assert config.expert_groups[0].deployment.ray_actor_options["num_cpus"] > 0
    [card] = [c for c in expert_cards(config) if c["name"] == "text-reader"]
    assert card["deployment"] == "experts-g" and card["resources"]["replicas"] == "1"
