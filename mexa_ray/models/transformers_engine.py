"""A transformers model in this process (CPU, or a GPU share capped to its memory)."""

from __future__ import annotations

import logging
import threading
from typing import Any, cast

from mexa_ray.config import ModelSpec
from mexa_ray.errors import ConfigError
from mexa_ray.models import hf_loading
from mexa_ray.models.llm import (
    THINK_CLOSE,
    THINK_OPEN,
    Conversation,
    Generation,
    check_device,
    decoding_kwargs,
    generation,
    load_kwargs,
    media_of,
    placement,
    template_opens_thinking,
)
from mexa_ray.models.weights import resolve_model_path

log = logging.getLogger(__name__)


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
        config = hf_loading.load_model_config(path, common, f"{field}.model", spec.label)
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
            t for t in self.tokenizer.all_special_tokens if t not in (THINK_OPEN, THINK_CLOSE)
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
