"""The OpenAI-compatible chat API: a `/v1/chat/completions` body becomes a `/v1/reason` body.

What MEXA needs maps onto OpenAI's message format like this:

- the question is the text of the last user message; system messages become the `task`;
- media are content parts of user messages: `image_url` (a `data:` URL, or an http(s) URL that
  the ingress fetches only from the hosts in `media.url_hosts`; none by default),
  `input_audio` (`{data, format}`, base64 wav/mp3), and the extension parts `video`,
  `points`, `table`, `volume` and `document` (text), each
  `{"type": T, T: {"data": base64, "format": ..} | {"path": ..}}`;
- MEXA's own settings go in an extra top-level field `mexa`: `options`, `experts`,
  `deadline_s` (OpenAI clients send it with `extra_body={"mexa": {...}}`).

OpenAI sampling fields (temperature, max_tokens, ...) are accepted and ignored: the models'
decoding is the app config's. Errors name the dotted field, e.g. `messages.0.content.1.image_url`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mexa_ray.errors import InvalidRequest, ModelNotFound, invalid_request, validated

#: extension part type -> the media type it carries
EXTENSION_PARTS = {
    "video": "video",
    "points": "points",
    "table": "table",
    "volume": "volume",
    "document": "text",
}
_DATA_URL = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[^,;]*)*;base64,(?P<data>.*)$", re.DOTALL
)
_MIME_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/webp": "webp",
    "image/tiff": "tiff",
}


class MexaOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    options: list[str] = Field(default_factory=list, max_length=26)
    experts: list[str] | None = None
    deadline_s: float | None = Field(default=None, gt=0, le=3600)


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")  # name, tool_calls, ...: not used here

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # temperature, max_tokens, ...: the config decides

    model: str = Field(min_length=1, max_length=256)
    messages: list[Message] = Field(min_length=1, max_length=64)
    stream: bool = False
    mexa: MexaOptions = Field(default_factory=MexaOptions)


def _image(part: dict[str, Any], field: str) -> dict[str, Any]:
    spec = part.get("image_url")
    url = spec.get("url") if isinstance(spec, dict) else spec
    if not isinstance(url, str) or not url:
        raise InvalidRequest("an image_url part needs image_url.url", field=f"{field}.image_url")
    if url.startswith(("http://", "https://")):  # the ingress checks the host and fetches it
        return {"type": "image", "url": url}
    m = _DATA_URL.match(url)
    if m is None:
        raise InvalidRequest(
            "image_url.url must be a base64 data: URL", field=f"{field}.image_url.url"
        )
    mime = (m.group("mime") or "").lower()
    if mime and not mime.startswith("image/"):
        raise InvalidRequest(
            f"an image_url part carries {mime}, not an image", field=f"{field}.image_url.url"
        )
    return {"type": "image", "data": m.group("data"), "format": _MIME_FORMATS.get(mime)}


def _audio(part: dict[str, Any], field: str) -> dict[str, Any]:
    spec = part.get("input_audio")
    if not isinstance(spec, dict) or not spec.get("data"):
        raise InvalidRequest(
            "an input_audio part needs input_audio.data (base64) and "
            "input_audio.format (wav or mp3)",
            field=f"{field}.input_audio",
        )
    fmt = spec.get("format")
    if fmt not in ("wav", "mp3"):
        raise InvalidRequest(
            f"input_audio.format must be 'wav' or 'mp3', got {fmt!r}",
            field=f"{field}.input_audio.format",
        )
    return {"type": "audio", "data": spec["data"], "format": fmt}


def _extension(part: dict[str, Any], kind: str, field: str) -> dict[str, Any]:
    spec = part.get(kind)
    keys = {"data", "path", "format", "name"}
    if not isinstance(spec, dict) or set(spec) - keys or ("data" in spec) == ("path" in spec):
        raise InvalidRequest(
            f"a {kind} part is {{'type': '{kind}', '{kind}': {{'data': base64 "
            "| 'path': file under a media root, 'format'?, 'name'?}}",
            field=f"{field}.{kind}",
        )
    return {"type": EXTENSION_PARTS[kind], **spec}


def _parts(
    content: str | list[dict[str, Any]] | None, field: str
) -> tuple[list[str], list[tuple[str, dict]]]:
    """(texts, [(part field, media item)]) of one message's content."""
    if content is None:
        return [], []
    if isinstance(content, str):
        return [content], []
    texts: list[str] = []
    media: list[tuple[str, dict]] = []
    for j, part in enumerate(content):
        where = f"{field}.{j}"
        kind = part.get("type")
        if not isinstance(kind, str):
            raise InvalidRequest("a content part needs a 'type' string", field=f"{where}.type")
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise InvalidRequest("a text part needs a 'text' string", field=f"{where}.text")
            texts.append(part["text"])
        elif kind == "image_url":
            media.append((f"{where}.image_url", _image(part, where)))
        elif kind == "input_audio":
            media.append((f"{where}.input_audio", _audio(part, where)))
        elif kind in EXTENSION_PARTS:
            media.append((f"{where}.{kind}", _extension(part, kind, where)))
        else:
            raise InvalidRequest(
                f"unknown content part type {kind!r}; known: text, image_url, "
                f"input_audio, {', '.join(EXTENSION_PARTS)}",
                field=f"{where}.type",
            )
    return texts, media


class ChatBody(BaseModel):
    """A chat request as MEXA sees it: the `/v1/reason` body, and where each of its media
    items came from (so a media error names the content part, not `media.N`)."""

    chat: ChatRequest
    reason: dict[str, Any]
    media_fields: list[str]

    def field_of(self, field: str | None) -> str | None:
        """The chat request's field for a `/v1/reason` field."""
        if field is None:
            return None
        head, _, rest = field.partition(".")
        if head == "media" and rest:
            index, _, tail = rest.partition(".")
            if index.isdigit() and int(index) < len(self.media_fields):
                part = self.media_fields[int(index)]
                if part.endswith(".image_url") and tail in ("data", "format", "url"):
                    tail = "url"  # an image's bytes, format and address are all its url
                return ".".join(p for p in (part, tail) if p)
        return {
            "question": "messages",
            "options": "mexa.options",
            "experts": "mexa.experts",
            "media": "messages",
        }.get(head, field)


def parse_chat(payload: Any, app_name: str) -> ChatBody:
    """The validated chat request and the equivalent `/v1/reason` body."""
    if not isinstance(payload, dict):
        raise InvalidRequest(f"the body must be a JSON object, got {type(payload).__name__}")
    chat = validated(ChatRequest, payload, invalid_request)
    if chat.model != app_name:
        raise ModelNotFound(
            f"the model {chat.model!r} does not exist; this service is "
            f"{app_name!r} (GET /v1/models)",
            field="model",
        )
    system: list[str] = []
    question: list[str] = []
    media: list[tuple[str, dict[str, Any]]] = []
    for i, message in enumerate(chat.messages):
        texts, items = _parts(message.content, f"messages.{i}.content")
        if message.role in ("system", "developer"):
            system += texts
        elif message.role == "user":
            question = texts or question
            media += items
        if items and message.role != "user":
            raise InvalidRequest("media go in user messages", field=f"messages.{i}.content")
    if not any(t.strip() for t in question):
        raise InvalidRequest(
            "no user message has text; the question is the text of the last "
            "user message that has some",
            field="messages",
        )
    body: dict[str, Any] = {
        "question": "\n".join(question),
        "media": [m for _, m in media],
        "options": chat.mexa.options,
    }
    if system:
        body["task"] = "\n".join(system)[:1000]
    if chat.mexa.experts is not None:
        body["experts"] = chat.mexa.experts
    if chat.mexa.deadline_s is not None:
        body["deadline_s"] = chat.mexa.deadline_s
    return ChatBody(chat=chat, reason=body, media_fields=[f for f, _ in media])


def completion(answer: dict[str, Any], model: str, created: int) -> dict[str, Any]:
    """An OpenAI `chat.completion` object; MEXA's whole answer rides in the `mexa` field."""
    return {
        "id": f"chatcmpl-{answer['request_id']}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": answer["answer"]},
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "mexa": answer,
    }


def chunk(
    request_id: str,
    model: str,
    created: int,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One `chat.completion.chunk` of a streamed answer."""
    body = {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }
    if extra is not None:
        body["mexa"] = extra
    return body


def models(app_name: str, created: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": app_name, "object": "model", "created": created, "owned_by": "mexa-ray"}],
    }


__all__ = ["ChatBody", "ChatRequest", "chunk", "completion", "models", "parse_chat"]
