"""One exception hierarchy for the whole library, and the one way to summarise a failure.

Every error a caller can cause is a `MexaError` (a `ValueError`), carrying the request field it is
about, so that the HTTP ingress can map it to a 4xx body without knowing where it was raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def first_validation_error(errors: Sequence[Mapping[str, Any]]) -> tuple[str | None, str]:
    """(dotted field, message) of a pydantic validation error list's first entry; a rule that
    spans fields (a ConfigFieldError raised by a model's own validator) names its sub-field."""
    if not errors:
        return None, "invalid input"
    err = errors[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or None
    own = (err.get("ctx") or {}).get("error")
    if isinstance(own, ConfigFieldError):
        return (f"{field}.{own.field}" if field else own.field), own.message
    return field, str(err.get("msg", "invalid")).removeprefix("Value error, ")


def validated(model: type[M], data: Any, error: Callable[[str | None, str], Exception]) -> M:
    """`model.model_validate(data)`, a failure raised as `error(dotted field, message)`: the one
    way a pydantic error becomes one of ours (a 4xx body, a config error naming the field)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(*first_validation_error(exc.errors())) from None


def invalid_request(field: str | None, message: str) -> InvalidRequest:
    """A request body's validation failure (HTTP 400), naming the field."""
    return InvalidRequest(f"{field}: {message}" if field else message, field=field)


def failure_reason(exc: BaseException) -> str:
    """Why an expert's call failed, as an answer's `missing` (Serve) or a row's (the bulk job)
    says it: the expert's own exception, not Ray's wrapper around it, and without the server's
    file paths (a reader's error names the spooled copy it opened); the log has the traceback."""
    from ray.exceptions import RayActorError, RayTaskError, TaskCancelledError

    if isinstance(exc, RayTaskError):
        return f"failed: {redact_paths(summarise(exc.cause if exc.cause is not None else exc))}"
    if isinstance(exc, RayActorError):
        return "failed: the expert's replica died during the call"
    if isinstance(exc, TaskCancelledError):
        return "cancelled"
    if isinstance(exc, TimeoutError):  # the bulk job's own per-call timeout says what it was
        return str(exc)
    return f"failed: {redact_paths(summarise(exc))}"


def summarise(exc: BaseException, limit: int = 300) -> str:
    """`Type: last line of the message`, for answers' `missing` reasons, notes and row statuses:
    one line a person can read (a traceback's last line is the one that says what broke)."""
    lines = str(exc).strip().splitlines()
    text = lines[-1].strip() if lines else ""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


#: an absolute file path inside a message (not a URL's path: no word, dot, colon or slash before)
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:[\w.@+-]+/)+[\w.@+-]*")


def redact_paths(text: str, known: dict[str, str] | None = None) -> str:
    """A message fit for a client: each known path replaced by what the client calls it (their
    own path, "the uploaded file"), any other absolute path by "a server file". Readers'
    exceptions name the files they opened, and those are the server's (the media spool's)."""
    for path, shown in (known or {}).items():
        text = text.replace(path, shown)
    return _ABSOLUTE_PATH.sub("a server file", text)


class MexaError(ValueError):
    """Base of all errors caused by bad input or bad configuration."""

    #: machine-readable error type, used as `error.type` in HTTP bodies
    type: str = "invalid_request"
    #: HTTP status the ingress answers with
    status: int = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict:
        body: dict = {"type": self.type, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return {"error": body}


class InvalidRequest(MexaError):
    """The request is well-formed JSON but asks for something impossible or is missing a part."""

    type = "invalid_request"
    status = 422


class UnsupportedMedia(MexaError):
    """A media item has a type or format that no loader understands."""

    type = "unsupported_media"
    status = 415


class MediaError(MexaError):
    """A media item could not be read: missing file, outside the media roots, or corrupt."""

    type = "invalid_media"
    status = 422


class PayloadTooLarge(MexaError):
    """A request or one of its media items is over a configured size limit."""

    type = "payload_too_large"
    status = 413


class MediaAccessDenied(MediaError):
    """A media path points outside every configured media root."""

    type = "media_access_denied"
    status = 403


class UnknownExpert(InvalidRequest):
    type = "unknown_expert"


class Unavailable(MexaError):
    """The service cannot answer now, but the same request sent again can succeed (a replica was
    lost and no other took the call in time): a 503 with `Retry-After`."""

    type = "unavailable"
    status = 503

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Overloaded(Unavailable):
    """Every replica that could take the request is busy and its queue is full: retry later."""

    type = "overloaded"


class TooManyRequests(Unavailable):
    """The client is over its rate limit: a 429 with `Retry-After`."""

    type = "rate_limited"
    status = 429


class UnsupportedContentType(MexaError):
    """A JSON route got a body that is not declared `application/json`: a 415. Browsers send
    `text/plain` POSTs cross-origin without asking first; JSON ones they do not."""

    type = "unsupported_content_type"
    status = 415


class DeadlineExceeded(MexaError):
    """The request's deadline passed before it was answered: a 504, never a request left
    waiting in the proxy."""

    type = "deadline_exceeded"
    status = 504


class ConfigError(MexaError):
    """The app config (YAML) is invalid; `field` is the dotted path of the bad entry."""

    type = "config_error"
    status = 500


class ExpertOutOfMemory(RuntimeError):
    """An expert's model ran out of the GPU memory its share gives it: that call fails (the
    answer lists the expert as missing, with this reason), the replica frees the failed
    batch's memory and serves on."""


class SyntheticExpertError(RuntimeError):
    """The synthetic expert's failure on purpose (`fail: true`): an expert crashing, not bad
    input, so not a MexaError; the answer lists the expert under `missing`."""


class ConfigFieldError(ValueError):
    """Raised by the config models' own validators for a rule that spans fields: `field` is the
    entry it is about, relative to the model that raises it (`parse_config` prefixes the model's
    location), so the error names the dotted field without reading it out of the message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Unauthorized(MexaError):
    """No API key, or a wrong one, where the service asks for one."""

    type = "unauthorized"
    status = 401


class ModelNotFound(MexaError):
    """A chat request names a model this service does not serve."""

    type = "model_not_found"
    status = 404


class BenchmarkError(MexaError):
    """An annotation file cannot be read as the benchmark it was given as."""

    type = "benchmark_error"
