"""Expert backends and the registry that maps config `backend` names to classes.

Backends are imported on first use so that a replica loads only the libraries its expert needs.
A config may also name any class as "package.module:ClassName".

Each backend declares its `settings` as a pydantic model (`Expert.Settings`). Those of the
registered backends live in `mexa_ray.experts.settings`, which imports no backend, so a config's
settings are checked when it loads; a custom class's are checked when the expert is built, since
finding its model means importing its module.
"""

from __future__ import annotations

import importlib

from mexa_ray.config import ExpertSpec
from mexa_ray.errors import ConfigError
from mexa_ray.experts.base import Expert
from mexa_ray.experts.settings import SETTINGS, BackendSettings
from mexa_ray.types import Skill

BACKENDS: dict[str, str] = {
    "table": "mexa_ray.experts.table:TableExpert",
    "points": "mexa_ray.experts.points:PointCloudExpert",
    "audio": "mexa_ray.experts.audio:AudioExpert",
    "visual": "mexa_ray.experts.visual:VisualExpert",
    "text": "mexa_ray.experts.text:TextExpert",
    "synthetic": "mexa_ray.experts.synthetic:SyntheticExpert",
    # model-backed (transformers; `model` names the weights)
    "vlm": "mexa_ray.experts.vision:VisionLanguageExpert",
    "speech": "mexa_ray.experts.speech:SpeechExpert",
    "speech-ct2": "mexa_ray.experts.speech_ct2:FasterWhisperExpert",
    "ocr": "mexa_ray.experts.ocr:OCRExpert",
    "sound-events": "mexa_ray.experts.sound_events:SoundEventExpert",
    "audio-lm": "mexa_ray.experts.audio_lm:AudioLanguageExpert",
    "scene-vlm": "mexa_ray.experts.scene3d:SceneVLMExpert",
    "ct-vlm": "mexa_ray.experts.ct:CTExpert",
}


def settings_model(backend: str) -> type[BackendSettings] | None:
    """The settings model of a backend known without importing it: a registered name, or the
    class path of a registered backend; None for other classes (checked when built)."""
    return SETTINGS.get(BACKENDS.get(backend, backend))


def backend_class(backend: str) -> type[Expert]:
    target = BACKENDS.get(backend, backend)
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
    if not (isinstance(cls, type) and issubclass(cls, Expert)):
        raise ConfigError(f"expert backend {backend!r} is not an Expert subclass", field="backend")
    return cls


def build_expert(spec: ExpertSpec, skills: dict[str, Skill]) -> Expert:
    return backend_class(spec.backend)(spec, skills)


__all__ = ["BACKENDS", "Expert", "backend_class", "build_expert", "settings_model"]
