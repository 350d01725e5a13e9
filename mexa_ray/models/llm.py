"""Text generation for the router, the aggregator and model-backed experts: what every engine
shares (the Generator protocol, conversations, reasoning split, device placement), and
`build_generator`, which loads the engine a model spec names (one module each, listed in
`mexa_ray.models.engines`).

Every backend takes OpenAI-style conversations and returns `Generation`s, so that the router and
aggregator prompts do not care whether the model runs in this process (transformers, vLLM) or
behind an OpenAI-compatible endpoint. Message content is a string, or a list of parts:
`{"type": "text", "text": ...}`, `{"type": "image", "image": PIL.Image}`,
`{"type": "audio", "audio": float32 array at the model's sampling rate}`.
"""

from __future__ import annotations

import base64
import importlib
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from mexa_ray.config import ModelSpec
from mexa_ray.errors import ConfigError
from mexa_ray.models.engines import ENGINES
from mexa_ray.models.gpu_share import (
    cap_torch_memory,
)

log = logging.getLogger(__name__)

Message = dict[str, Any]
Conversation = list[Message]

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


@dataclass
class Generation:
    #: the answer part: what follows a reasoning model's </think>, or all of a plain model's text
    text: str
    #: the <think> part of a reasoning model (or the endpoint's reasoning_content); "" if none
    reasoning: str
    #: the decoded output, untouched, for logs and debugging
    raw: str
    #: whether the model stopped by itself (False: it ran into max_new_tokens)
    finished: bool = True
    #: a reasoning model's thinking never closed (it ran out of tokens mid-thought): `text` is
    #: empty, since an answer must not be read out of unfinished thinking
    thinking_cut: bool = False


def split_reasoning(raw: str, opened: bool = False) -> tuple[str, str, bool]:
    """(reasoning, answer, thinking_cut) of a model's output.

    Handles `<think>..</think>answer`, `..</think>answer` where the chat template opened the
    <think> itself (`opened`: DeepSeek-R1 distills, QwQ), and thinking that never closed, opened
    by the model or by its template: no answer, whatever the thinking names along the way.
    """
    text = raw.strip()
    if THINK_CLOSE in text:
        head, _, answer = text.rpartition(THINK_CLOSE)
        parts = [p.strip() for p in re.split(r"</?think>", head) if p.strip()]
        return "\n".join(parts), answer.strip(), False
    if text.startswith(THINK_OPEN):
        return text[len(THINK_OPEN) :].strip(), "", True
    if opened:
        return text, "", True
    return "", text, False


def generation(
    raw: str, finished: bool, opened: bool = False, extra_reasoning: str | None = None
) -> Generation:
    """A Generation from decoded text (and an endpoint's separate reasoning, if any)."""
    reasoning, text, cut = split_reasoning(raw, opened and not extra_reasoning)
    if extra_reasoning:
        reasoning = (extra_reasoning.strip() + ("\n" + reasoning if reasoning else "")).strip()
        cut = cut or (not text and not finished)
    return Generation(text, reasoning, raw, finished, cut)


def template_opens_thinking(render: Any) -> bool:
    """Whether a chat template's generation prompt leaves a <think> open for the model (R1
    distills, QwQ; Qwen3 with thinking on), found by rendering a one-line conversation."""
    try:
        prompt = render([{"role": "user", "content": "?"}])
    except Exception:  # noqa: BLE001 - a template that needs more than one user turn: plain
        return False
    return prompt.rfind(THINK_OPEN) > prompt.rfind(THINK_CLOSE)


def decoding_kwargs(spec: ModelSpec) -> dict[str, Any]:
    """`generate` arguments for the config's sampling: temperature 0 decodes greedily (and
    overrides the checkpoint's own sampling defaults); a temperature or top-p set in the config
    overrides the checkpoint's; what the config leaves unset comes from the checkpoint's
    generation_config (R1 distills ship temperature 0.6, top-p 0.95, as their card advises)."""
    if spec.temperature == 0:
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    kwargs: dict[str, Any] = {}
    if spec.temperature is not None:
        kwargs.update(do_sample=True, temperature=spec.temperature)
    if spec.top_p is not None:
        kwargs["top_p"] = spec.top_p
    return kwargs


class Generator(Protocol):
    label: str

    def generate(
        self, conversations: list[Conversation], schemas: list[dict | None] | None = None
    ) -> list[Generation]:
        """One Generation per conversation, in order. `schemas` (one JSON schema or None per
        conversation) constrains the reply where the backend decodes under a grammar (llamacpp,
        openai endpoints with structured outputs); the others ignore it, so callers still parse
        and check the text."""

    def check_health(self) -> None:
        """Raise if the model can no longer serve (e.g. its GPU is gone)."""


class AudioGenerator(Generator, Protocol):
    """A generator that hears audio (transformers, openai): it takes waveforms at this rate."""

    @property
    def sampling_rate(self) -> int: ...


def content_parts(message: Message) -> list[dict]:
    content = message.get("content", "")
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def media_of(conversation: Conversation, kind: str) -> list[Any]:
    """The images (or audio arrays) of a conversation in the order the template places them."""
    return [
        part[kind] for m in conversation for part in content_parts(m) if part.get("type") == kind
    ]


def placement(spec: ModelSpec, field: str) -> tuple[str, Any]:
    """(device, torch dtype) for a model: CUDA and bfloat16 when this process sees a GPU (Serve
    sets CUDA_VISIBLE_DEVICES from the deployment's num_gpus), else CPU and float32."""
    import torch

    cuda = torch.cuda.is_available()
    if spec.device == "cuda" and not cuda:
        raise ConfigError(
            f"{field}.device is 'cuda' but no GPU is visible to this process "
            "(give the deployment num_gpus)",
            field=f"{field}.device",
        )
    device = "cuda" if spec.device == "cuda" or (spec.device == "auto" and cuda) else "cpu"
    if device == "cuda":
        cap_torch_memory(spec.label)  # the replica's num_gpus share, as a memory cap
    dtype = {
        "auto": torch.bfloat16 if device == "cuda" else torch.float32,
        "bfloat16": torch.bfloat16,
        "float16": torch.float16,
        "float32": torch.float32,
    }[spec.dtype]
    return device, dtype


def load_kwargs(spec: ModelSpec) -> dict[str, Any]:
    """from_pretrained arguments every processor and model of a spec shares."""
    common: dict[str, Any] = {
        "revision": spec.revision,
        "trust_remote_code": spec.trust_remote_code,
    }
    if spec.gguf_file:
        common["gguf_file"] = spec.gguf_file
    return common


def check_device(device: str, label: str) -> None:
    """Raise if the GPU a model was loaded on is gone or broken (a health check fails, and Serve
    replaces the replica). A device that fell off the bus or hit an Xid error still "is
    available" to torch; a tiny kernel round trip is what finds out."""
    import torch

    if device != "cuda":
        return
    if not torch.cuda.is_available():
        raise RuntimeError(f"{label}: the GPU this model was loaded on is gone")
    try:
        probe = torch.ones(1, device="cuda") + 1
        torch.cuda.synchronize()
        ok = probe.item() == 2.0
    except RuntimeError as exc:  # CUDA errors surface as RuntimeError subclasses
        raise RuntimeError(f"{label}: the GPU fails: {exc}") from None
    if not ok:
        raise RuntimeError(f"{label}: the GPU computes wrong results")


def data_url(image: Any) -> str:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def wav_base64(samples: np.ndarray, rate: int) -> str:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV")
    return base64.b64encode(buf.getvalue()).decode()


def openai_messages(conversation: Conversation, audio_rate: int = 16000) -> list[dict]:
    """Our conversation in the OpenAI chat format: images as data URLs, audio as base64 WAV."""
    messages = []
    for m in conversation:
        if isinstance(m.get("content"), str):
            messages.append({"role": m["role"], "content": m["content"]})
            continue
        parts = []
        for part in content_parts(m):
            if part["type"] == "image":
                parts.append({"type": "image_url", "image_url": {"url": data_url(part["image"])}})
            elif part["type"] == "audio":
                parts.append(
                    {
                        "type": "input_audio",
                        "input_audio": {
                            "data": wav_base64(part["audio"], audio_rate),
                            "format": "wav",
                        },
                    }
                )
            else:
                parts.append({"type": "text", "text": part["text"]})
        messages.append({"role": m["role"], "content": parts})
    return messages


def build_generator(spec: ModelSpec, field: str = "llm") -> Generator:
    """Load the model a spec names (once; callers keep the generator for the replica's life)."""
    module, name = ENGINES[spec.backend].generator.split(":")
    engine: Callable[[ModelSpec, str], Generator] = getattr(importlib.import_module(module), name)
    return engine(spec, field)


def first_line(text: str, limit: int = 200) -> str:
    """A short, single-line excerpt of model output for notes and logs."""
    line = re.sub(r"\s+", " ", text).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"
