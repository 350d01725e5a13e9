"""Any OpenAI-compatible endpoint (vLLM serve, hosted APIs) as a generator."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mexa_ray.config import ModelSpec
from mexa_ray.errors import ConfigError
from mexa_ray.models.llm import (
    Conversation,
    Generation,
    generation,
    openai_messages,
)

log = logging.getLogger(__name__)


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
