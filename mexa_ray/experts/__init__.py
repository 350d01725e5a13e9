"""Expert backends: the class a config's `backend` names, built once per replica or actor.

Backends are imported on first use so that a replica loads only the libraries its expert needs.
The registered ones are listed in `mexa_ray.experts.catalogue` (one entry each); a config may
also name any class as "package.module:ClassName", which declares its own `Settings`,
`requires` and `model_loader`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mexa_ray.errors import ConfigError
from mexa_ray.experts.catalogue import BACKENDS, Backend, registered
from mexa_ray.experts.settings import BackendSettings

if TYPE_CHECKING:  # the config imports this package's catalogue: no import back at run time
    from mexa_ray.config import ExpertSpec
    from mexa_ray.experts.base import Expert
    from mexa_ray.types import Skill


def settings_model(backend: str) -> type[BackendSettings] | None:
    """The settings model of a backend known without importing it: a registered name, or the
    class path of a registered backend; None for other classes (checked when built)."""
    entry = registered(backend)
    return entry.settings if entry else None


def backend_entry(backend: str) -> Backend:
    """What `mexa check` needs of a backend: the catalogue's entry, or for a custom class the
    same read off the class (which imports it)."""
    entry = registered(backend)
    if entry is not None:
        return entry
    cls = backend_class(backend)
    return Backend(backend, cls.Settings, cls.requires, cls.model_loader)


def backend_class(backend: str) -> type[Expert]:
    entry = registered(backend)
    target = entry.target if entry else backend
    if ":" not in target:
        raise ConfigError(
            f"unknown expert backend {backend!r}; registered: "
            f"{', '.join(sorted(BACKENDS))}, or give 'package.module:ClassName'",
            field="backend",
        )
    module_name, class_name = target.split(":", 1)
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"expert backend {backend!r} cannot be imported: {exc}", field="backend"
        ) from None
    from mexa_ray.experts.base import Expert

    if not (isinstance(cls, type) and issubclass(cls, Expert)):
        raise ConfigError(f"expert backend {backend!r} is not an Expert subclass", field="backend")
    return cls


def build_expert(spec: ExpertSpec, skills: dict[str, Skill]) -> Expert:
    return backend_class(spec.backend)(spec, skills)


__all__ = [
    "BACKENDS",
    "backend_class",
    "backend_entry",
    "build_expert",
    "settings_model",
]
