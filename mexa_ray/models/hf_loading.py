"""Resolving and loading a transformers checkpoint's processor and model class.

Shared by the replicas that load models and by `mexa check`, which resolves the same classes
from config files alone, so that what the preflight says is what a replica will do.
"""

from __future__ import annotations

import re
from typing import Any, cast

from mexa_ray.errors import ConfigError
from mexa_ray.models.engines import install_hint

#: the default transformers Auto class per model kind
AUTO_CLASSES = {
    "text": "AutoModelForCausalLM",
    "vision": "AutoModelForImageTextToText",
    "audio": "AutoModelForMultimodalLM",
}


def missing_package(exc: ImportError) -> str:
    """The package an ImportError is about: `exc.name`, or the library transformers' checks
    name ("X requires the Torchvision library but it was not found"; remote code's "requires
    the following packages that were not found in your environment: flash_attn")."""
    found = re.search(r"requires the (\S+) library", str(exc)) or re.search(
        r"not found in your environment: ([\w.-]+?)(?:[,.]|\s|$)", str(exc)
    )
    if found:
        return found.group(1).lower()
    return (exc.name or "an optional package").split(".")[0]


def missing_package_error(field: str, label: str, exc: ImportError) -> ConfigError:
    package = missing_package(exc)
    hint = install_hint(package)
    return ConfigError(
        f"{field}: {label!r} needs the {package} package, which is not installed ({hint})",
        field=field,
    )


def load_model_config(path: str, common: dict[str, Any], field: str, label: str) -> Any:
    """A checkpoint's transformers config (config.json), its failures as config errors naming
    the field (not `mexa_ray.config.load_config`, which loads the app's)."""
    import transformers

    try:
        return transformers.AutoConfig.from_pretrained(path, **common)
    except OSError as exc:  # no such hub id / folder, no config in it
        raise ConfigError(f"{field}: cannot load {label!r}: {exc}", field=field) from None
    except ValueError as exc:  # an architecture this transformers does not know
        raise ConfigError(
            f"{field}: {label!r}: {exc} (upgrade transformers?)", field=field
        ) from None
    except ImportError as exc:  # remote code importing a package that is not installed
        raise missing_package_error(field, label, exc) from None


def model_class(config: Any, kind: str, auto_class: str | None, field: str) -> type[Any]:
    """The class that loads the checkpoint: the Auto class for its kind when this transformers
    has it and maps the architecture, else the architecture's own class named in config.json
    (transformers 4.x has no AutoModelForMultimodalLM; Qwen2-Audio is still
    Qwen2AudioForConditionalGeneration there)."""
    import transformers

    name = auto_class or AUTO_CLASSES[kind]
    auto = getattr(transformers, name, None)
    mapping = getattr(auto, "_model_mapping", None)
    if auto is not None and (mapping is None or type(config) in mapping):
        return auto
    if auto_class:  # asked for by name: no silent substitute
        raise ConfigError(
            f"{field}.auto_class: transformers {transformers.__version__} has no "
            f"{name} for {type(config).__name__}",
            field=f"{field}.auto_class",
        )
    for arch in getattr(config, "architectures", None) or []:
        own = getattr(transformers, arch, None)
        if own is not None:
            return own
    raise ConfigError(
        f"{field}.model: transformers {transformers.__version__} has neither {name} "
        f"for {type(config).__name__} nor its architecture "
        f"{getattr(config, 'architectures', None)}; name one with auto_class",
        field=f"{field}.model",
    )


def architecture(model_cls: type, config: Any) -> str:
    """The class a checkpoint will be: an Auto class resolved through its mapping."""
    mapping = getattr(model_cls, "_model_mapping", None)
    if mapping is not None and type(config) in mapping:
        return mapping[type(config)].__name__
    return model_cls.__name__


def load_processor(path: str, common: dict[str, Any], field: str, label: str):
    """AutoProcessor, or the same processor without its video processor when that needs
    torchvision and torchvision is missing: MEXA's experts send sampled video frames as images,
    so the video processor is never called, and the image processor has a PIL backend."""
    import transformers

    try:
        return transformers.AutoProcessor.from_pretrained(path, **common)
    except ImportError as exc:
        if missing_package(exc) != "torchvision":
            raise missing_package_error(field, label, exc) from None
        first = exc
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING
    from transformers.processing_utils import MODALITY_TO_AUTOPROCESSOR_MAPPING, ProcessorMixin

    config = load_model_config(path, common, field, label)
    # the lazy mapping is typed for the tokenizer table's (slow, fast) class pairs; the processor
    # table maps a config to one processor class
    cls = cast("type[ProcessorMixin] | None", PROCESSOR_MAPPING.get(type(config), None))
    if cls is None:
        raise missing_package_error(field, label, first)
    parts: dict[str, Any] = {}
    for attr in cls.get_attributes():
        if "video" in attr:
            parts[attr] = None
        elif "tokenizer" in attr:
            parts[attr] = transformers.AutoTokenizer.from_pretrained(path, **common)
        elif "image" in attr:
            parts[attr] = transformers.AutoImageProcessor.from_pretrained(
                path, backend="pil", **common
            )
        else:
            parts[attr] = MODALITY_TO_AUTOPROCESSOR_MAPPING[attr].from_pretrained(path, **common)
    processor_dict, _ = cls.get_processor_dict(path, **common)
    template = processor_dict.get("chat_template") or getattr(
        parts.get("tokenizer"), "chat_template", None
    )
    return _without_video(cls)(**parts, chat_template=template)


def _without_video(cls: type) -> type:
    """`cls` accepting None for its video processor (its type check would look the class up
    in a mapping that torchvision's absence leaves empty)."""

    class FramesOnly(cls):
        def check_argument_for_proper_class(self, argument_name, argument):
            if argument is None and "video" in argument_name:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

    FramesOnly.__name__ = FramesOnly.__qualname__ = f"{cls.__name__}WithoutVideo"
    return FramesOnly
