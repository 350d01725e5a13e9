"""The request schema of `POST /v1/reason`, validated with pydantic.

Validation errors become `InvalidRequest` naming the dotted field (`media.0.type`), which the
ingress answers as HTTP 422 with the error body (docs/http-api.md). `check_request` holds a
request to an app's config (its limits, its experts) without Ray: the ingress runs it, and
`mexa ask` runs it before starting anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from mexa_ray.errors import InvalidRequest, UnknownExpert, invalid_request, validated
from mexa_ray.types import MediaType

if TYPE_CHECKING:
    from mexa_ray.config import AppConfig, ExpertSpec


class MediaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: MediaType
    #: a file under one of the server's media roots
    path: str | None = Field(default=None, min_length=1, max_length=4096)
    #: base64 of the file's bytes
    data: str | None = Field(default=None, min_length=1)
    #: http(s) address the ingress fetches, only from the hosts in `media.url_hosts`
    url: str | None = Field(default=None, min_length=1, max_length=4096, pattern=r"^https?://")
    #: file format (extension) such as "wav" or "ply"; guessed from the path or bytes if absent
    format: str | None = Field(default=None, max_length=16)
    name: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _one_source(self) -> MediaIn:
        if sum(x is not None for x in (self.path, self.data, self.url)) != 1:
            raise ValueError("give exactly one of 'path', 'data' or 'url'")
        return self


class ReasonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(max_length=100_000)
    options: list[str] = Field(default_factory=list, max_length=26)
    task: str | None = Field(default=None, max_length=1000)
    media: list[MediaIn] = Field(default_factory=list)
    experts: list[str] | None = None
    deadline_s: float | None = Field(default=None, gt=0, le=3600)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the question is empty")
        return v.strip()

    @field_validator("options")
    @classmethod
    def _options_not_blank(cls, v: list[str]) -> list[str]:
        if any(not o.strip() for o in v):
            raise ValueError("options must not be empty strings")
        return [o.strip() for o in v]


def parse_request(payload: Any) -> ReasonRequest:
    if not isinstance(payload, dict):
        raise InvalidRequest(f"the body must be a JSON object, got {type(payload).__name__}")
    return validated(ReasonRequest, payload, invalid_request)


def check_named_experts(
    experts: Mapping[str, ExpertSpec], names: list[str] | None, present: Iterable[str]
) -> None:
    """Every expert a request names exists and reads one of the request's media types."""
    present = sorted(set(present))
    for i, name in enumerate(names or []):
        spec = experts.get(name)
        if spec is None:
            raise UnknownExpert(
                f"unknown expert {name!r}; known: {', '.join(experts)}", field=f"experts.{i}"
            )
        if not set(spec.modalities) & set(present):
            raise InvalidRequest(
                f"expert {name!r} reads {spec.modalities}, and the request has no such media "
                f"(it has {present or 'none'})",
                field=f"experts.{i}",
            )


def check_request(req: ReasonRequest, config: AppConfig) -> None:
    """The request within the config's limits, naming only experts the config has."""
    limits = config.ingress
    if len(req.question) > limits.max_question_chars:
        raise InvalidRequest(
            f"the question has {len(req.question)} characters; the limit is "
            f"{limits.max_question_chars}",
            field="question",
        )
    if len(req.media) > config.media.max_items:
        raise InvalidRequest(
            f"{len(req.media)} media items; the limit is {config.media.max_items}", field="media"
        )
    check_named_experts(
        {s.name: s for s in config.experts}, req.experts, (m.type for m in req.media)
    )
