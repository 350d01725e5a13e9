"""A GGUF model run natively by llama.cpp (xllamacpp's prebuilt wheels)."""

from __future__ import annotations

import logging
import os
import secrets
import time
from typing import Any

from mexa_ray.config import ModelSpec
from mexa_ray.errors import ConfigError
from mexa_ray.models.engines import install_hint
from mexa_ray.models.gpu_share import assigned_share, llamacpp_engine_args
from mexa_ray.models.llm import (
    Conversation,
    Generation,
    content_parts,
    generation,
    template_opens_thinking,
)
from mexa_ray.models.weights import resolve_model_path

#: seconds a llama.cpp engine may be idle before a health check decodes a token to see it work
HEALTH_PROBE_S = 60.0

log = logging.getLogger(__name__)


class LlamaCppGenerator:
    """A GGUF model run natively by llama.cpp, for CPU-only replicas: xllamacpp, which embeds
    llama.cpp's own server engine and ships prebuilt wheels (llama-cpp-python compiles
    llama.cpp at install, about 5 minutes on 2 cores).

    On 2 cores it loads a 135M model in half a second (transformers dequantises the same file
    for about 20 s) and decodes 2-3x faster; the chat template is the one the GGUF file carries.
    The engine is thread-safe, so a batch needs no lock. It listens on a loopback port of its
    own (it cannot be turned off): that port takes only a random key this replica holds.
    """

    def __init__(self, spec: ModelSpec, field: str = "llm") -> None:
        try:
            import xllamacpp
        except ImportError:
            raise ConfigError(
                f"{field}.backend: 'llamacpp' needs the xllamacpp package "
                f"({install_hint('xllamacpp')})",
                field=f"{field}.backend",
            ) from None
        if spec.kind != "text":
            raise ConfigError(
                f"{field}.kind: the llamacpp backend runs text-only models; use "
                "transformers or vllm for a vision or audio model",
                field=f"{field}.kind",
            )
        if not spec.gguf_file:
            raise ConfigError(
                f"{field}.gguf_file: the llamacpp backend loads a GGUF file; name "
                "it inside `model`",
                field=f"{field}.gguf_file",
            )
        path = os.path.join(resolve_model_path(spec.model, f"{field}.model"), spec.gguf_file)
        if not os.path.isfile(path):
            raise ConfigError(f"{field}.gguf_file: no file {path}", field=f"{field}.gguf_file")
        self.spec = spec
        self.label = spec.label
        self._xllamacpp = xllamacpp
        engine_args = {
            "n_threads": max(1, min(4, os.cpu_count() or 1)),
            **llamacpp_engine_args(spec, path, assigned_share()),
        }
        params = xllamacpp.CommonParams()
        params.model.path = path
        params.verbosity = 0  # else llama.cpp's server logs every request to stderr
        # <think> stays in the text, where split_reasoning finds it for every backend alike
        params.reasoning_format = xllamacpp.common_reasoning_format.COMMON_REASONING_FORMAT_NONE
        self._key = secrets.token_urlsafe(24)
        params.api_keys = [self._key]
        for key, value in engine_args.items():
            try:
                if key == "n_threads":
                    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = int(value)
                else:
                    setattr(params, key, value)  # n_ctx, n_gpu_layers, n_parallel, ...
            except (AttributeError, TypeError) as exc:
                raise ConfigError(
                    f"{field}.engine_args.{key}: llama.cpp has no such setting "
                    f"or not of this type ({exc})",
                    field=f"{field}.engine_args.{key}",
                ) from None
        try:
            self.engine = xllamacpp.Server(params)
        except RuntimeError as exc:
            raise ConfigError(
                f"{field}.gguf_file: llama.cpp cannot load {path}: {exc}",
                field=f"{field}.gguf_file",
            ) from None
        self.opens_thinking = template_opens_thinking(self._render)
        # the first evaluation allocates llama.cpp's buffers and threads: pay it here, before
        # the replica is ready, not in the first request
        self.engine.handle_chat_completions(
            {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
        )
        self._alive_at = time.monotonic()
        log.info(
            "loaded %s with llama.cpp (xllamacpp %s; %s)",
            spec.label,
            xllamacpp.__version__,
            engine_args,
        )

    def _render(self, conversation: Conversation) -> str:
        """The prompt the GGUF file's own chat template makes of a conversation, rendered by
        llama.cpp itself (its /apply-template route: the Python API has no call for it)."""
        import json
        import urllib.request

        body: dict[str, Any] = {"messages": conversation}
        if self.spec.chat_template_kwargs:
            body["chat_template_kwargs"] = self.spec.chat_template_kwargs
        request = urllib.request.Request(
            self.engine.listening_address + "/apply-template",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self._key}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["prompt"]

    def _grammar(self, schema: dict) -> str:
        """A JSON schema as the grammar the sampler obeys: compact JSON (llama.cpp's loose
        default whitespace can spend a short router's whole token budget), and no properties
        besides the schema's (JSON Schema itself would allow any)."""
        return self._xllamacpp.json_schema_to_grammar(
            {
                "additionalProperties": False,
                **schema,
                "x-guidance": {
                    "whitespace_flexible": False,
                    "item_separator": ", ",
                    "key_separator": ": ",
                },
            }
        )

    def _one(self, conversation: Conversation, schema: dict | None) -> Generation:
        messages = [
            {
                "role": m["role"],
                "content": "\n".join(
                    p["text"] for p in content_parts(m) if p.get("type") == "text"
                ),
            }
            for m in conversation
        ]
        # a GGUF file carries no sampling defaults: greedy unless the config says otherwise
        temperature = self.spec.temperature or 0.0
        request: dict[str, Any] = {
            "messages": messages,
            "max_tokens": self.spec.max_new_tokens,
            "temperature": temperature,
            "seed": 0,
            "top_p": (self.spec.top_p or 1.0) if temperature > 0 else 1.0,
        }
        if self.spec.chat_template_kwargs:
            request["chat_template_kwargs"] = self.spec.chat_template_kwargs
        if schema is not None:
            request["grammar"] = self._grammar(schema)
        out = self.engine.handle_chat_completions(request)
        if "error" in out:  # llama.cpp's server answers errors in the body, not by raising
            raise RuntimeError(f"{self.label}: llama.cpp: {out['error'].get('message')}")
        self._alive_at = time.monotonic()
        choice = out["choices"][0]
        return generation(
            choice["message"].get("content") or "",
            choice.get("finish_reason") != "length",
            self.opens_thinking,
        )

    def generate(
        self, conversations: list[Conversation], schemas: list[dict | None] | None = None
    ) -> list[Generation]:
        return [
            self._one(c, schema)
            for c, schema in zip(conversations, schemas or [None] * len(conversations))
        ]

    def check_health(self) -> None:
        """A request answered lately is proof of life; an idle engine decodes one token (about
        0.1 s for a small model on 2 cores, once a minute at most, so idle replicas stay idle)."""
        if time.monotonic() - self._alive_at < HEALTH_PROBE_S:
            return
        out = self.engine.handle_completions({"prompt": "ok", "max_tokens": 1})
        if "error" in out or not out.get("choices"):
            raise RuntimeError(f"{self.label}: llama.cpp does not answer: {out.get('error')}")
        self._alive_at = time.monotonic()
