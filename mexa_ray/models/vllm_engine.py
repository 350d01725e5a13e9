"""An in-process vLLM engine (GPU), its memory budget the replica's share."""

from __future__ import annotations

import logging

from mexa_ray.config import ModelSpec
from mexa_ray.errors import ConfigError
from mexa_ray.models.engines import install_hint
from mexa_ray.models.gpu_share import assigned_share, vllm_engine_args
from mexa_ray.models.llm import (
    Conversation,
    Generation,
    generation,
    openai_messages,
    template_opens_thinking,
)
from mexa_ray.models.weights import resolve_model_path

log = logging.getLogger(__name__)


class VLLMGenerator:
    """An in-process vLLM engine (GPU); imported lazily so that CPU installs never need vllm.

    vLLM must be the first to touch CUDA in the replica, so nothing here imports torch first.
    """

    def __init__(self, spec: ModelSpec, field: str = "llm") -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise ConfigError(
                f"{field}.backend: 'vllm' needs the vllm package ({install_hint('vllm')})",
                field=f"{field}.backend",
            ) from None
        self.spec = spec
        self.label = spec.label
        dtype = "auto" if spec.dtype == "auto" else spec.dtype
        self.engine = LLM(
            model=resolve_model_path(spec.model, f"{field}.model"),
            revision=spec.revision,
            dtype=dtype,
            trust_remote_code=spec.trust_remote_code,
            **vllm_engine_args(spec, assigned_share()),
        )
        # the checkpoint's generation_config (vLLM reads it), with the config's overrides
        self.params = self.engine.get_default_sampling_params()
        self.params.max_tokens = spec.max_new_tokens
        if spec.temperature is not None:
            self.params.temperature = spec.temperature
        if spec.top_p is not None:
            self.params.top_p = spec.top_p
        tokenizer = self.engine.get_tokenizer()
        self.opens_thinking = template_opens_thinking(
            lambda conv: tokenizer.apply_chat_template(
                conv, tokenize=False, add_generation_prompt=True, **spec.chat_template_kwargs
            )
        )

    def generate(
        self, conversations: list[Conversation], schemas: list[dict | None] | None = None
    ) -> list[Generation]:
        """`schemas` is not passed on yet: vLLM's structured-output parameters changed across
        releases, and this backend has not run on a GPU here to pin one down."""
        outputs = self.engine.chat(
            [openai_messages(c) for c in conversations],
            self.params,
            chat_template_kwargs=self.spec.chat_template_kwargs or None,
            use_tqdm=False,
        )
        return [
            generation(
                o.outputs[0].text, o.outputs[0].finish_reason != "length", self.opens_thinking
            )
            for o in outputs
        ]

    def check_health(self) -> None:
        """vLLM's own engine check (it raises once its engine core or GPU is gone)."""
        check = getattr(getattr(self.engine, "llm_engine", None), "check_health", None)
        if check is not None:
            check()
