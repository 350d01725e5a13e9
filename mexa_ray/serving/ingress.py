"""HTTP ingress (FastAPI): validates requests and media, then asks the selector.

Every error a client can cause is answered 4xx with {"error": {"type", "message", "field"}}; the
same validation runs for handle calls (`answer`), which the demo and `mexa ask` use in-process.
"""

# no `from __future__ import annotations` here: FastAPI must see the real `Request` type
import asyncio
import base64
import binascii
import hmac
import json
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from ray import serve
from ray.exceptions import RayTaskError
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle
from starlette.exceptions import HTTPException

from mexa_ray.serving.observability import adopt_library_logs, current_request_id
from mexa_ray.serving.placement import placements
from mexa_ray.serving.transport import Handles, publish, spool
from mexa_ray import media as media_io
from mexa_ray.api import MediaIn, ReasonRequest, parse_request
from mexa_ray.cards import expert_cards
from mexa_ray.chat_api import chunk, completion, models, parse_chat
from mexa_ray.config import AppConfig
from mexa_ray.errors import (
    InvalidRequest,
    MediaError,
    MexaError,
    Overloaded,
    PayloadTooLarge,
)
from mexa_ray.media import remote
from mexa_ray.types import Media, Query

log = logging.getLogger("ray.serve")
api = FastAPI(title="mexa-ray", description="MEXA multimodal reasoning with expert models")


INTERNAL_ERROR = {"error": {"type": "internal_error",
                            "message": "the request failed inside the service; see the server log"}}


def error_response(exc: MexaError) -> JSONResponse:
    body = exc.to_dict()
    body["error"]["param"] = exc.field  # the name OpenAI clients read the field from
    headers = {}
    if isinstance(exc, Overloaded) and exc.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return JSONResponse(body, status_code=exc.status, headers=headers)


class Unauthorized(MexaError):
    type = "unauthorized"
    status = 401


#: the playground's files: static, no data in them; the API calls the page makes need the key
PLAYGROUND_FILES = {"playground.js": "text/javascript", "playground.css": "text/css"}


def _public(request: Request) -> bool:
    """Routes that need no key: health, and the playground page with its two static files
    (paths taken below the app's route prefix, which Serve passes as the root path)."""
    path = request.url.path
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    path = path.rstrip("/")
    return (path.endswith("/healthz") or path == ""
            or path.removeprefix("/playground/") in PLAYGROUND_FILES)


def _playground_file(name: str) -> str:
    return resources.files("mexa_ray.playground").joinpath(name).read_text()


class Guard:
    """Bearer-token check (every route but /healthz, when keys are configured) and the body-size
    limit, before any route reads the body. A plain ASGI middleware: Starlette's
    `@app.middleware("http")` would stream every response through an extra task."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            refused = self._refusal(Request(scope))
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(request: Request) -> Response | None:
        keys: frozenset[str] = getattr(request.app.state, "api_keys", frozenset())
        if keys and not _public(request):
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not any(hmac.compare_digest(token.strip(), k)
                                                     for k in keys):
                response = error_response(Unauthorized(
                    "missing or wrong API key: send 'Authorization: Bearer <key>'",
                    field="authorization"))
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
        limit = getattr(request.app.state, "max_body_bytes", None)
        length = request.headers.get("content-length", "")
        if limit and length.isdigit() and int(length) > limit:
            return error_response(PayloadTooLarge(f"the body has {length} bytes; the limit is "
                                                  f"{limit}", field="body"))
        return None


api.add_middleware(Guard)


async def answered(request: Request,
                   handler: Callable[[object], Awaitable[Response]]) -> Response:
    """Run a JSON route: bad JSON or bad input is a 4xx with the error body, a bug a 500 with
    the same shape; the service keeps serving either way."""
    body = await request.body()
    limit = request.app.state.max_body_bytes
    if len(body) > limit:  # a chunked upload that sent no Content-Length
        return error_response(PayloadTooLarge(f"the body is over {limit} bytes", field="body"))
    try:
        payload = json.loads(body)
    except ValueError as exc:
        return error_response(MexaError(f"the body is not valid JSON: {exc}"))
    except RecursionError:  # arrays or objects nested deeper than any request needs
        return error_response(MexaError("the body nests JSON arrays or objects too deeply",
                                        field="body"))
    try:
        return await handler(payload)
    except RecursionError:  # nested within the parser's limit, but past the validator's
        return error_response(MexaError("the body nests JSON arrays or objects too deeply",
                                        field="body"))
    except MexaError as exc:
        log.info("rejected request: %s (%s)", exc.message, exc.field)
        return error_response(exc)
    except Exception:  # a bug, not the client's fault: logged, answered with the error body
        log.exception("request failed")
        return JSONResponse(INTERNAL_ERROR, status_code=500)


def relative_timeline(stages: list[dict], started: float, prepared: float,
                      done: float) -> list[dict]:
    """The stages' epoch times as seconds since the request arrived, with the ingress's own
    admission first and the whole request last (clocks of other nodes may differ slightly)."""
    rows = [{"stage": "ingress", "start_s": 0.0, "end_s": round(prepared - started, 4)}]
    for stage in stages:
        row = {k: v for k, v in stage.items() if k not in ("start", "end", "sent")}
        for key in ("sent", "start", "end"):
            if key in stage:
                row[f"{key}_s"] = round(stage[key] - started, 4)
        rows.append(row)
    rows.append({"stage": "total", "start_s": 0.0, "end_s": round(done - started, 4)})
    return rows


@api.exception_handler(HTTPException)
async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Unknown routes and wrong methods get the same error body as everything else."""
    body = {"error": {"type": "http_error", "message": str(exc.detail)}}
    return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


@serve.deployment
@serve.ingress(api)
class Ingress:
    def __init__(self, config: AppConfig, selector: DeploymentHandle) -> None:
        adopt_library_logs()
        self.config = config
        self.selector = Handles(selector, config.serve.transport)
        self.roots = config.media_roots()
        self.cards = expert_cards(config)
        self.started = int(time.time())
        keys = os.environ.get(config.ingress.api_keys_env, "")
        api.state.api_keys = frozenset(k.strip() for k in keys.split(",") if k.strip())
        api.state.max_body_bytes = config.ingress.max_body_bytes

    async def answer(self, payload: object) -> dict:
        """Validate a /v1/reason body and answer it; raises MexaError for bad input."""
        started = time.time()
        return await self._answer(await self._validated(payload), started)

    async def _validated(self, payload: object) -> Query:
        return await asyncio.to_thread(self._to_query, parse_request(payload))

    async def _answer(self, query: Query, started: float) -> dict:
        prepared = time.time()
        try:
            answer = await self.selector.for_query(query).reason.remote(query)
        except BackPressureError as exc:  # the selectors' queues are full
            raise Overloaded(f"the service is at capacity ({exc}); retry later",
                             self.config.router.deployment.retry_after_s) from None
        except RayTaskError as exc:  # a MexaError raised downstream (e.g. unknown expert)
            if isinstance(exc.cause, MexaError):
                raise exc.cause from None
            if isinstance(exc.cause, BackPressureError):  # the aggregators' queues are full
                raise Overloaded(f"the service is at capacity ({exc.cause}); retry later",
                                 self.config.aggregator.deployment.retry_after_s) from None
            raise
        out = answer.to_dict()
        done = time.time()
        out["timings"].update(ingress_s=prepared - started, total_s=done - started)
        out["timeline"] = relative_timeline(out["timeline"], started, prepared, done)
        return out

    def _to_query(self, req: ReasonRequest) -> Query:
        limits = self.config.ingress
        if len(req.question) > limits.max_question_chars:
            raise InvalidRequest(f"the question has {len(req.question)} characters; the limit is "
                                 f"{limits.max_question_chars}", field="question")
        if len(req.media) > limits.max_media:
            raise InvalidRequest(f"{len(req.media)} media items; the limit is {limits.max_media}",
                                 field="media")
        media = [self._media(i, m) for i, m in enumerate(req.media)]
        query = Query(question=req.question, options=req.options, task=req.task, media=media,
                      experts=req.experts, deadline_s=req.deadline_s)
        # Serve's id (the client's x-request-id, or the proxy's): the one in every log line
        query.request_id = current_request_id() or query.request_id
        return query

    def _media(self, i: int, m: MediaIn) -> Media:
        field = f"media.{i}"
        if m.path is not None:
            path = media_io.check_under_roots(m.path, self.roots, f"{field}.path")
            item = Media(type=m.type, path=str(path), format=m.format, name=m.name or path.name)
            item.format = media_io.resolve_format(item, f"{field}.format")
            if path.stat().st_size > self.config.ingress.max_media_bytes:
                raise PayloadTooLarge(f"the file is over {self.config.ingress.max_media_bytes} "
                                      "bytes", field=f"{field}.path")
            self._probe(item, path, f"{field}.path")
            return item
        if m.url is not None:
            limits = self.config.ingress
            data = remote.fetch(m.url, limits.url_hosts, limits.max_media_bytes,
                                limits.url_timeout_s, f"{field}.url")
            where = f"{field}.url"
        else:
            try:
                data = base64.b64decode(m.data, validate=True)
            except (binascii.Error, ValueError):
                raise MediaError("'data' is not valid base64", field=f"{field}.data") from None
            where = f"{field}.data"
        if len(data) > self.config.ingress.max_media_bytes:
            raise PayloadTooLarge(f"the item has {len(data)} bytes; the limit is "
                                  f"{self.config.ingress.max_media_bytes}", field=where)
        if not data:
            raise MediaError("the item is empty", field=where)
        item = Media(type=m.type, format=m.format, name=m.name)
        item.format = media_io.resolve_format(item, f"{field}.format", head=data[:64])
        path, item.sha256 = spool(data, item.format)
        self._probe(item, path, where)
        return publish(item, data)

    def _probe(self, item: Media, path: Path, field: str) -> None:
        """Open the file with its modality's reader (corrupt input is refused here, not in an
        expert) and hold audio and video to the duration limit."""
        info = media_io.probe(item.type, path, item.format, field)
        limit = self.config.ingress.max_media_seconds
        seconds = info.get("duration_s")
        if seconds is not None and seconds > limit:
            raise PayloadTooLarge(f"the {item.type} lasts {seconds:.1f} s; the limit is "
                                  f"{limit:g} s", field=field)

    @api.post("/v1/reason")
    async def reason(self, request: Request) -> Response:
        return await answered(request, self._reason_response)

    async def _reason_response(self, payload: object) -> Response:
        return JSONResponse(await self.answer(payload))

    @api.post("/v1/chat/completions")
    async def chat_completions(self, request: Request) -> Response:
        """OpenAI-compatible: the answer is the assistant message; MEXA's whole answer (experts,
        reports, missing) is in the extra `mexa` field. `stream: true` sends SSE chunks."""
        return await answered(request, self._chat_response)

    async def _chat_response(self, payload: object) -> Response:
        started, created = time.time(), int(time.time())
        parsed = parse_chat(payload, self.config.name)
        chat = parsed.chat
        try:  # bad input is a 4xx before any stream starts, naming the chat request's field
            query = await self._validated(parsed.reason)
        except MexaError as exc:
            exc.field = parsed.field_of(exc.field)
            raise
        if not chat.stream:
            answer = await self._answer(query, started)
            return JSONResponse(completion(answer, chat.model, created))
        return StreamingResponse(self._stream(query, started, chat.model, created),
                                 media_type="text/event-stream")

    async def _stream(self, query: Query, started: float, model: str,
                      created: int) -> AsyncIterator[str]:
        def event(body: dict) -> str:
            return f"data: {json.dumps(body)}\n\n"

        rid = query.request_id
        yield event(chunk(rid, model, created, {"role": "assistant", "content": ""}))
        try:
            answer = await self._answer(query, started)
        except Exception as exc:  # the status line is sent: report the failure in the stream
            log.exception("request %s: streamed request failed", rid)
            body = exc.to_dict() if isinstance(exc, MexaError) else INTERNAL_ERROR
            yield event(body)
        else:
            yield event(chunk(rid, model, created, {"content": answer["answer"]}))
            yield event(chunk(rid, model, created, {}, "stop", extra=answer))
        yield "data: [DONE]\n\n"

    @api.get("/v1/models")
    async def list_models(self) -> dict:
        return models(self.config.name, self.started)

    @api.get("/v1/experts")
    async def experts(self) -> dict:
        """The expert cards, each with its replicas: node, GPU ids, state."""
        where = await placements(serve.get_replica_context().app_name)
        return {"experts": [{**card, "replicas": where.get(card["name"], [])}
                            for card in self.cards]}

    @api.get("/", response_class=HTMLResponse)
    async def playground(self) -> HTMLResponse:
        """The playground page (mexa_ray/playground): plain HTML, CSS and JavaScript."""
        return HTMLResponse(_playground_file("index.html"))

    @api.get("/playground/{name}")
    async def playground_file(self, name: str) -> Response:
        if name not in PLAYGROUND_FILES:
            raise HTTPException(status_code=404, detail=f"no playground file {name!r}")
        return Response(_playground_file(name), media_type=PLAYGROUND_FILES[name])

    @api.get("/healthz")
    async def healthz(self) -> dict:
        return {"status": "ok", "app": self.config.name, "experts": len(self.cards)}
