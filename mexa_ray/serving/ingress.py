"""HTTP ingress (FastAPI): validates requests and media, then asks the orchestrator.

Every error a client can cause is answered 4xx with {"error": {"type", "message", "field"}}; the
same validation runs for handle calls (`answer`), which the demo and `mexa ask` use in-process.
"""

# no `from __future__ import annotations` here: FastAPI must see the real `Request` type
import asyncio
import dataclasses
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from ray import serve
from ray.exceptions import RayTaskError
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle
from starlette.exceptions import HTTPException

from mexa_ray.cards import expert_cards
from mexa_ray.config import AppConfig
from mexa_ray.errors import MexaError, Overloaded
from mexa_ray.media.admission import Store, decode_base64
from mexa_ray.media.spool import Spool
from mexa_ray.serving import hops
from mexa_ray.serving.http import guard as http_guard
from mexa_ray.serving.http.chat import chunk, completion, models, parse_chat
from mexa_ray.serving.http.guard import INTERNAL_ERROR, PLAYGROUND_FILES, answered
from mexa_ray.serving.http.rate_limit import RateLimiter
from mexa_ray.serving.http.schemas import MediaIn, ReasonRequest, check_request, parse_request
from mexa_ray.serving.observability import SpoolMetrics, adopt_library_logs, current_request_id
from mexa_ray.serving.placement import placements
from mexa_ray.serving.readiness import readiness
from mexa_ray.serving.transport import Handles, publish
from mexa_ray.types import Media, Query

log = logging.getLogger("ray.serve")
api = FastAPI(title="mexa-ray", description="MEXA multimodal reasoning with expert models")
http_guard.install(api)


def _playground_file(name: str) -> str:
    return resources.files("mexa_ray.playground").joinpath(name).read_text()


def relative_timeline(
    stages: list[dict], started: float, prepared: float, done: float
) -> list[dict]:
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


@serve.deployment
@serve.ingress(api)
class Ingress:
    def __init__(self, config: AppConfig, orchestrator: DeploymentHandle) -> None:
        adopt_library_logs()
        self.config = config
        self.orchestrator = Handles(orchestrator, config.serve.transport)
        self.admission = config.media_admission()
        self.cards = expert_cards(config)
        self.started = int(time.time())
        keys = os.environ.get(config.ingress.api_keys_env, "")
        api.state.api_keys = frozenset(k.strip() for k in keys.split(",") if k.strip())
        api.state.max_body_bytes = config.ingress.max_body_bytes
        limiter = RateLimiter(config.ingress.rate_limit)
        api.state.limiter = limiter if limiter.active else None
        if config.ingress.cors_origins:  # before the first request builds the app's stack
            api.add_middleware(
                CORSMiddleware,
                allow_origins=list(config.ingress.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-request-id"],
            )
        self.spool = Spool(config.spool, config.request_deadline_s)
        self.spool_metrics = SpoolMetrics()

    def check_health(self) -> None:
        """Serve calls this every few seconds: the spool forgets old files even when idle."""
        self.spool_metrics.record(self.spool.sweep())

    async def answer(self, payload: object, arrived: float | None = None) -> dict:
        """Validate a /v1/reason body and answer it; raises MexaError for bad input. `arrived`:
        when the HTTP request reached the replica (a handle call starts here)."""
        started = arrived or time.time()
        return await self._answer(await self._validated(payload), started)

    async def _validated(self, payload: object) -> Query:
        return await asyncio.to_thread(self._to_query, parse_request(payload))

    async def _answer(self, query: Query, started: float) -> dict:
        prepared = time.time()
        limit = self.config.request_deadline_s
        deadline_at = started + min(query.deadline_s or limit, limit)
        handle = self.orchestrator.for_query(query)
        try:
            # a call sent again after a lost replica carries the time left, not the whole budget
            answer = await hops.call(
                lambda left: handle.reason.remote(dataclasses.replace(query, deadline_s=left)),
                deadline_at,
                what="orchestrator",
                request_id=query.request_id,
                retry_after_s=self.config.router.deployment.retry_after_s,
            )
        except BackPressureError as exc:  # the orchestrators' queues are full
            raise Overloaded(
                f"the service is at capacity ({exc}); retry later",
                self.config.router.deployment.retry_after_s,
            ) from None
        except RayTaskError as exc:
            hops.raise_callers_error(exc)
            if isinstance(exc.cause, BackPressureError):  # the aggregators' queues are full
                raise Overloaded(
                    f"the service is at capacity ({exc.cause}); retry later",
                    self.config.aggregator.deployment.retry_after_s,
                ) from None
            raise
        finally:  # answered or not, the request's uploads leave the spool
            self.spool.release(self._spooled(query))
        out = answer.to_dict()
        done = time.time()
        out["timings"].update(ingress_s=prepared - started, total_s=done - started)
        out["timeline"] = relative_timeline(out["timeline"], started, prepared, done)
        return out

    def _to_query(self, req: ReasonRequest) -> Query:
        check_request(req, self.config)
        spooled: list[Path] = []

        def store(data: bytes, fmt: str) -> tuple[Path, str]:
            """The spool's file, held for this request until it is answered."""
            path, sha = self.spool.put(data, fmt)
            self.spool.hold([path])
            spooled.append(path)
            return path, sha

        try:
            media = [self._media(i, m, store) for i, m in enumerate(req.media)]
        except BaseException:  # refused: its files go now
            self.spool.release(spooled)
            raise
        query = Query(
            question=req.question,
            options=req.options,
            task=req.task,
            media=media,
            experts=req.experts,
            deadline_s=req.deadline_s,
        )
        # Serve's id (the client's x-request-id, or the proxy's): the one in every log line
        query.request_id = current_request_id() or query.request_id
        return query

    def _spooled(self, query: Query) -> list[Path]:
        return [self.spool.path(m.sha256, m.resolved_format()) for m in query.media if m.sha256]

    def _media(self, i: int, m: MediaIn, store: Store) -> Media:
        field = f"media.{i}"
        if m.path is not None:
            return self.admission.file(m.type, m.path, f"{field}.path", m.format, m.name)
        if m.url is not None:
            where = f"{field}.url"
            data = self.admission.fetch(m.url, where)
        else:
            assert m.data is not None  # MediaIn holds exactly one of path, url and data
            where = f"{field}.data"
            data = decode_base64(m.data, where)
        item = self.admission.upload(m.type, data, where, store, m.format, m.name)
        return publish(item, data)

    @api.post("/v1/reason")
    async def reason(self, request: Request) -> Response:
        return await answered(request, self._reason_response)

    async def _reason_response(self, payload: object, arrived: float) -> Response:
        return JSONResponse(await self.answer(payload, arrived))

    @api.post("/v1/chat/completions")
    async def chat_completions(self, request: Request) -> Response:
        """OpenAI-compatible: the answer is the assistant message; MEXA's whole answer (experts,
        reports, missing) is in the extra `mexa` field. `stream: true` sends SSE chunks."""
        return await answered(request, self._chat_response)

    async def _chat_response(self, payload: object, arrived: float) -> Response:
        started, created = arrived, int(arrived)
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
        return StreamingResponse(
            self._stream(query, started, chat.model, created), media_type="text/event-stream"
        )

    async def _stream(
        self, query: Query, started: float, model: str, created: int
    ) -> AsyncIterator[str]:
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
        return {
            "experts": [{**card, "replicas": where.get(card["name"], [])} for card in self.cards]
        }

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
        """Liveness: the ingress answers (its experts may still be loading; see /readyz)."""
        return {"status": "ok", "app": self.config.name, "experts": len(self.cards)}

    @api.get("/readyz")
    async def readyz(self) -> JSONResponse:
        """Readiness: 200 once every deployment of the app has a running replica (experts
        loaded and warmed), else 503 naming those still waiting and why."""
        state = await readiness(serve.get_replica_context().app_name)
        return JSONResponse(state, status_code=200 if state["ready"] else 503)
