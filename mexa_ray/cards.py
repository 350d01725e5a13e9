"""Expert cards as users see them (`mexa experts`, `GET /v1/experts`), and the settings each
backend takes (`mexa experts --backends`)."""

from __future__ import annotations

import re
from typing import Any, get_args

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from mexa_ray.config import AppConfig
from mexa_ray.experts.catalogue import BACKENDS


def expert_cards(config: AppConfig) -> list[dict]:
    catalogue = config.skill_catalogue()
    cards = []
    for spec in config.experts:
        # a grouped expert runs on its group's deployment: its replicas and resources are those
        group = config.group_of(spec.name)
        dep = group.deployment if group else spec.deployment
        cards.append(
            {
                "name": spec.name,
                "backend": spec.backend,
                "model": spec.model.label if spec.model else None,
                "modalities": list(spec.modalities),
                "skills": [{"id": sid, "name": catalogue[sid].name} for sid in spec.skills],
                "description": spec.description,
                "limitations": spec.limitations,
                "timeout_s": spec.timeout_s,
                "deployment": config.deployment_of(spec.name),
                "resources": {
                    "num_cpus": dep.ray_actor_options["num_cpus"],
                    "num_gpus": dep.ray_actor_options.get("num_gpus", 0),
                    "replicas": (
                        dep.autoscaling_config
                        and f"{dep.autoscaling_config.get('min_replicas', 1)}-"
                        f"{dep.autoscaling_config.get('max_replicas', 1)} (autoscaling)"
                    )
                    or str(dep.num_replicas or 1),
                },
            }
        )
    return cards


def _type_name(annotation: Any) -> str:
    """A field's type as a config author reads it: `int`, `str | None`, `Literal['x', 'y']`."""
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__name__
    return re.sub(r"\b(?:[a-z_][a-z0-9_]*\.)+(?=[A-Za-z_])", "", str(annotation))


_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def _bounds(field: FieldInfo) -> str:
    """The field's numeric bounds (` (>= 0, <= 1)`), so the listing says what load refuses."""
    found = [
        f"{sign} {getattr(m, name)}"
        for m in field.metadata
        for name, sign in _BOUNDS
        if getattr(m, name, None) is not None
    ]
    return f" ({', '.join(found)})" if found else ""


def settings_fields(model: type[BaseModel], prefix: str = "") -> list[dict]:
    """Each setting of a settings model: dotted name, type, default and description; a nested
    model's own settings follow it (e.g. `classifier.top_k`)."""
    out: list[dict] = []
    for name, field in model.model_fields.items():
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        out.append(
            {
                "name": prefix + name,
                "type": _type_name(field.annotation) + _bounds(field),
                "required": field.is_required(),
                "default": default.model_dump() if isinstance(default, BaseModel) else default,
                "description": field.description or "",
            }
        )
        for arg in (field.annotation, *get_args(field.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                out.extend(settings_fields(arg, f"{prefix}{name}."))
    return out


def backend_settings() -> list[dict]:
    """Every registered backend with the settings an expert's `settings:` may give it. Read
    from mexa_ray.experts.catalogue, so listing them imports no backend and no model library."""
    backends = []
    for name, entry in BACKENDS.items():
        backends.append(
            {"name": name, "class": entry.target, "settings": settings_fields(entry.settings)}
        )
    return backends
