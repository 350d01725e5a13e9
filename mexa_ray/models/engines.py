"""The language-model engines a model spec's `backend` names, one entry each, and how a missing
package is installed. Imports nothing heavy: the config, `mexa check` and the replicas that
load a model all read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: a model spec's `backend` (the config schema's choices)
EngineName = Literal["transformers", "openai", "vllm", "llamacpp"]


@dataclass(frozen=True)
class Engine:
    #: its generator class in mexa_ray.models.llm
    generator: str
    #: the package it imports (`mexa check` looks for it)
    package: str


ENGINES: dict[str, Engine] = {
    "transformers": Engine(
        "mexa_ray.models.transformers_engine:TransformersGenerator", "transformers"
    ),
    "openai": Engine("mexa_ray.models.openai_engine:OpenAIGenerator", "openai"),
    "vllm": Engine("mexa_ray.models.vllm_engine:VLLMGenerator", "vllm"),
    "llamacpp": Engine("mexa_ray.models.llamacpp_engine:LlamaCppGenerator", "xllamacpp"),
}

#: how a missing package is installed, where mexa-ray has an extra for it
INSTALL_HINTS = {
    "torchvision": "pip install 'mexa-ray[gpu]' (torchvision must match your torch build)",
    "vllm": "pip install 'mexa-ray[vllm]' (on a GPU machine)",
    "xllamacpp": "pip install 'mexa-ray[offline]'",
    "nibabel": "pip install 'mexa-ray[medical]'",
}


def install_hint(package: str) -> str:
    return INSTALL_HINTS.get(package, f"pip install {package}")
