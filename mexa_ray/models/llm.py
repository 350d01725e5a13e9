"""Text generation backends for the router, the aggregator and model-backed experts.

Every backend takes OpenAI-style conversations and returns `Generation`s, so that the router and
aggregator prompts do not care whether the model runs in this process (transformers, vLLM) or
behind an OpenAI-compatible endpoint. Message content is a string, or a list of parts:
`{"type": "text", "text": ...}`, `{"type": "image", "image": PIL.Image}`,
`{"type": "audio", "audio": float32 array at the model's sampling rate}`.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np

from mexa_ray.config import ModelSpec
from mexa_ray.errors import ConfigError
from mexa_ray.models import hf_loading
from mexa_ray.models.engines import ENGINES, install_hint
from mexa_ray.models.gpu_share import (
    assigned_share,
    cap_torch_memory,
    llamacpp_engine_args,
    vllm_engine_args,
)
from mexa_ray.models.weights import resolve_model_path

log = logging.getLogger(__name__)

Message = dict[str, Any]
Conversation = list[Message]

_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"

#: seconds a llama.cpp engine may be idle before a health check decodes a token to see it work
HEALTH_PROBE_S = 60.0


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
    if _THINK_CLOSE in text:
        head, _, answer = text.rpartition(_THINK_CLOSE)
        parts = [p.strip() for p in re.split(r"</?think>", head) if p.strip()]
        return "\n".join(parts), answer.strip(), False
    if text.startswith(_THINK_OPEN):
        return text[len(_THINK_OPEN) :].strip(), "", True
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
    return prompt.rfind(_THINK_OPEN) > prompt.rfind(_THINK_CLOSE)


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


def _content_parts(message: Message) -> list[dict]:
    content = message.get("content", "")
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def media_of(conversation: Conversation, kind: str) -> list[Any]:
    """The images (or audio arrays) of a conversation in the order the template places them."""
    return [
        part[kind] for m in conversation for part in _content_parts(m) if part.get("type") == kind
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


class TransformersGenerator:
    """A transformers model in this process: the model's own chat template, batched generate.

    On a GPU replica (Serve gives it `num_gpus`, so CUDA is visible) the model loads in bfloat16
    with `device_map="auto"`, which also spreads a large LRM over several GPUs; on CPU, float32.
    """

    def __init__(self, spec: ModelSpec, field: str = "llm") -> None:
        import transformers

        self.spec = spec
        self.label = spec.label
        path = resolve_model_path(spec.model, f"{field}.model")
        self.device, dtype = placement(spec, field)
        common = load_kwargs(spec)
        config = hf_loading.load_config(path, common, f"{field}.model", spec.label)
        model_class = hf_loading.model_class(config, spec.kind, spec.auto_class, field)
        try:
            if spec.kind == "text":
                self.processor = None
                self.tokenizer = transformers.AutoTokenizer.from_pretrained(path, **common)
            else:
                self.processor = hf_loading.load_processor(
                    path, common, f"{field}.model", spec.label
                )
                self.tokenizer = self.processor.tokenizer
            self.model = model_class.from_pretrained(
                path, dtype=dtype, device_map="auto" if self.device == "cuda" else None, **common
            )
        except OSError as exc:  # no weights in the folder / repo
            raise ConfigError(
                f"{field}.model: cannot load {spec.label!r}: {exc}", field=f"{field}.model"
            ) from None
        except ImportError as exc:  # a processor or model class whose package is missing
            raise hf_loading.missing_package_error(f"{field}.model", spec.label, exc) from None
        self.model.eval()
        self.dtype = dtype
        # decoder-only batches are padded on the left so every row continues from its prompt
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        template_owner = self.processor if self.processor is not None else self.tokenizer
        if not getattr(template_owner, "chat_template", None):
            raise ConfigError(
                f"{field}.model: {spec.label!r} has no chat template; MEXA's "
                "prompts need an instruction-tuned model",
                field=f"{field}.model",
            )
        self._template_owner = template_owner
        self._strip = [
            t for t in self.tokenizer.all_special_tokens if t not in (_THINK_OPEN, _THINK_CLOSE)
        ]
        stop = getattr(self.model.generation_config, "eos_token_id", None)
        self._stop_ids = {
            self.tokenizer.eos_token_id,
            *(stop if isinstance(stop, list) else [stop]),
        } - {None}
        self._lock = threading.Lock()  # one generate at a time per model; calls come from threads
        self.opens_thinking = template_opens_thinking(self._prompt)
        self.decoding = decoding_kwargs(spec)
        log.info(
            "loaded %s (%s) on %s as %s; decoding %s%s",
            spec.label,
            model_class.__name__,
            self.device,
            dtype,
            self.decoding or "as its generation_config says",
            "; its template opens <think>" if self.opens_thinking else "",
        )

    def _prompt(self, conversation: Conversation) -> str:
        # with tokenize=False the template renders one conversation to one string
        prompt = self._template_owner.apply_chat_template(
            conversation,
            tokenize=False,
            add_generation_prompt=True,
            **self.spec.chat_template_kwargs,
        )
        return cast(str, prompt)

    def _encode(self, conversations: list[Conversation]):
        prompts = [self._prompt(c) for c in conversations]
        if self.processor is None:
            return self.tokenizer(
                prompts, return_tensors="pt", padding=True, add_special_tokens=False
            )
        kwargs: dict[str, Any] = {"text": prompts, "return_tensors": "pt", "padding": True}
        if self.spec.kind == "vision":
            images = [img for c in conversations for img in media_of(c, "image")]
            if images:
                kwargs["images"] = images
        else:
            audio = [a for c in conversations for a in media_of(c, "audio")]
            if audio:
                kwargs["audio"] = audio
                kwargs["sampling_rate"] = self.sampling_rate
        return self.processor(**kwargs)

    @property
    def sampling_rate(self) -> int:
        """The audio rate an audio-language model's feature extractor expects."""
        if self.processor is None:
            raise TypeError(f"{self.label!r} is a text model: it takes no audio")
        return int(getattr(self.processor.feature_extractor, "sampling_rate", 16000))

    def _decode(self, ids) -> tuple[str, bool]:
        # stopped by itself: some stop token (models may have several, e.g. Llama 3) was emitted
        finished = bool(self._stop_ids & set(ids.tolist()))
        # one sequence of ids decodes to one string
        text = cast(str, self.tokenizer.decode(ids, skip_special_tokens=False))
        for tok in self._strip:
            text = text.replace(tok, "")
        return text, finished

    def generate(
        self, conversations: list[Conversation], schemas: list[dict | None] | None = None
    ) -> list[Generation]:
        """`schemas` is ignored: transformers has no grammar-constrained decoding."""
        import torch

        out: list[Generation] = []
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": self.spec.max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            **self.decoding,
        }
        step = self.spec.batch_size
        with self._lock, torch.inference_mode():
            for start in range(0, len(conversations), step):
                enc = self._encode(conversations[start : start + step])
                enc = {
                    k: (
                        v.to(self.model.device, dtype=self.dtype)
                        if torch.is_floating_point(v)
                        else v.to(self.model.device)
                    )
                    for k, v in enc.items()
                    if hasattr(v, "to")
                }
                ids = self.model.generate(**enc, **gen_kwargs)
                prompt_len = enc["input_ids"].shape[1]
                for row in ids[:, prompt_len:]:
                    raw, finished = self._decode(row)
                    out.append(generation(raw, finished, self.opens_thinking))
        return out

    def check_health(self) -> None:
        check_device(self.device, self.label)


def _data_url(image: Any) -> str:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _wav_base64(samples: np.ndarray, rate: int) -> str:
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
        for part in _content_parts(m):
            if part["type"] == "image":
                parts.append({"type": "image_url", "image_url": {"url": _data_url(part["image"])}})
            elif part["type"] == "audio":
                parts.append(
                    {
                        "type": "input_audio",
                        "input_audio": {
                            "data": _wav_base64(part["audio"], audio_rate),
                            "format": "wav",
                        },
                    }
                )
            else:
                parts.append({"type": "text", "text": part["text"]})
        messages.append({"role": m["role"], "content": parts})
    return messages


class OpenAIGenerator:
    """Any OpenAI-compatible chat endpoint (vLLM's server, hosted reasoning models).

    The client does the retries with backoff and the timeouts; conversations of one batch are
    sent concurrently. A `reasoning_content` field (DeepSeek, vLLM reasoning parsers) is taken as
    the reasoning; otherwise <think> tags in the text are split as for local models.
    """

    sampling_rate = 16000

    def __init__(self, spec: ModelSpec, field: str = "llm") -> None:
        from openai import OpenAI

        base_url = spec.base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ConfigError(
                f"{field}.base_url: the openai backend needs an endpoint URL (or $OPENAI_BASE_URL)",
                field=f"{field}.base_url",
            )
        self.spec = spec
        self.label = spec.label
        self.client = OpenAI(
            base_url=base_url,
            api_key=os.environ.get(spec.api_key_env) or "not-needed",
            timeout=spec.request_timeout_s,
            max_retries=spec.max_retries,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=spec.batch_size, thread_name_prefix="openai-generator"
        )

    def _one(self, conversation: Conversation, schema: dict | None = None) -> Generation:
        kwargs: dict[str, Any] = {
            "model": self.spec.model,
            "messages": openai_messages(conversation, self.sampling_rate),
            "max_tokens": self.spec.max_new_tokens,
        }
        # unset: the server's defaults (vLLM's are the checkpoint's generation_config)
        if self.spec.temperature is not None:
            kwargs["temperature"] = self.spec.temperature
        if self.spec.top_p is not None and self.spec.temperature != 0:
            kwargs["top_p"] = self.spec.top_p
        if schema is not None:  # structured outputs (vLLM's server and hosted APIs have them)
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": schema},
            }
        if self.spec.chat_template_kwargs:
            kwargs["extra_body"] = {"chat_template_kwargs": self.spec.chat_template_kwargs}
        response = self.client.chat.completions.create(**kwargs)
        choice = response.choices[0]
        raw = choice.message.content or ""
        extra = getattr(choice.message, "reasoning_content", None) or (
            (choice.message.model_extra or {}).get("reasoning_content")
        )
        return generation(
            raw, choice.finish_reason != "length", extra_reasoning=str(extra) if extra else None
        )

    def generate(
        self, conversations: list[Conversation], schemas: list[dict | None] | None = None
    ) -> list[Generation]:
        return list(
            self._pool.map(self._one, conversations, schemas or [None] * len(conversations))
        )

    def check_health(self) -> None:
        """The endpoint is someone else's service: its outages show up as missing answers."""


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
                    p["text"] for p in _content_parts(m) if p.get("type") == "text"
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


def build_generator(spec: ModelSpec, field: str = "llm") -> Generator:
    """Load the model a spec names (once; callers keep the generator for the replica's life)."""
    engine: Callable[[ModelSpec, str], Generator] = globals()[ENGINES[spec.backend].generator]
    return engine(spec, field)


def first_line(text: str, limit: int = 200) -> str:
    """A short, single-line excerpt of model output for notes and logs."""
    line = re.sub(r"\s+", " ", text).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"
