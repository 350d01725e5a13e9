"""HTTP ingress (FastAPI): validates requests and media, then asks the selector.

Every error a client can cause is answered 4xx with {"error": {"type", "message", "field"}}; the
same validation runs for handle calls (`answer`), which the demo and `mexa ask` use in-process.
"""

# no `from __future__ import annotations` here: FastAPI must see the real `Request` type
import asyncio
import base64
import binascii
import logging
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ray import serve
from ray.exceptions import RayTaskError
from ray.serve.handle import DeploymentHandle
from starlette.exceptions import HTTPException

from deployments.transport import publish, spool
from mexa_ray import media as media_io
from mexa_ray.api import MediaIn, ReasonRequest, parse_request
from mexa_ray.cards import expert_cards
from mexa_ray.config import AppConfig
from mexa_ray.errors import InvalidRequest, MediaError, MexaError, PayloadTooLarge
from mexa_ray.types import Media, Query

log = logging.getLogger("ray.serve")
api = FastAPI(title="mexa-ray", description="MEXA multimodal reasoning with expert models")


def error_response(exc: MexaError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status)


@api.exception_handler(HTTPException)
async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Unknown routes and wrong methods get the same error body as everything else."""
    body = {"error": {"type": "http_error", "message": str(exc.detail)}}
    return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


@serve.deployment
@serve.ingress(api)
class Ingress:
    def __init__(self, config: AppConfig, selector: DeploymentHandle) -> None:
        self.config = config
        self.selector = selector
        self.roots = config.media_roots()
        self.cards = expert_cards(config)

    async def answer(self, payload: object) -> dict:
        """Validate a /v1/reason body and answer it; raises MexaError for bad input."""
        started = time.time()
        request = parse_request(payload)
        query = await asyncio.to_thread(self._to_query, request)
        prepared = time.time()
        try:
            answer = await self.selector.reason.remote(query)
        except RayTaskError as exc:  # a MexaError raised downstream (e.g. unknown expert)
            if isinstance(exc.cause, MexaError):
                raise exc.cause from None
            raise
        out = answer.to_dict()
        out["timings"].update(ingress_s=prepared - started, total_s=time.time() - started)
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
        return Query(question=req.question, options=req.options, task=req.task, media=media,
                     experts=req.experts, deadline_s=req.deadline_s)

    def _media(self, i: int, m: MediaIn) -> Media:
        field = f"media.{i}"
        if m.path is not None:
            path = media_io.check_under_roots(m.path, self.roots, f"{field}.path")
            item = Media(type=m.type, path=str(path), format=m.format, name=m.name or path.name)
            item.format = media_io.resolve_format(item, f"{field}.format")
            if path.stat().st_size > self.config.ingress.max_media_bytes:
                raise PayloadTooLarge(f"the file is over {self.config.ingress.max_media_bytes} "
                                      "bytes", field=f"{field}.path")
            media_io.probe(item.type, path, item.format, f"{field}.path")
            return item
        try:
            data = base64.b64decode(m.data, validate=True)
        except (binascii.Error, ValueError):
            raise MediaError("'data' is not valid base64", field=f"{field}.data") from None
        if len(data) > self.config.ingress.max_media_bytes:
            raise PayloadTooLarge(f"the item has {len(data)} bytes; the limit is "
                                  f"{self.config.ingress.max_media_bytes}", field=f"{field}.data")
        if not data:
            raise MediaError("'data' is empty", field=f"{field}.data")
        item = Media(type=m.type, format=m.format, name=m.name)
        item.format = media_io.resolve_format(item, f"{field}.format", head=data[:64])
        path, item.sha256 = spool(data, item.format)
        media_io.probe(item.type, path, item.format, f"{field}.data")
        return publish(item, data)

    @api.post("/v1/reason")
    async def reason(self, request: Request) -> JSONResponse:
        try:
            payload = await request.json()
        except ValueError as exc:
            return error_response(MexaError(f"the body is not valid JSON: {exc}"))
        try:
            return JSONResponse(await self.answer(payload))
        except MexaError as exc:
            log.info("rejected request: %s (%s)", exc.message, exc.field)
            return error_response(exc)
        except Exception:  # a bug, not the client's fault: logged, answered with the error body
            log.exception("request failed")
            return JSONResponse({"error": {"type": "internal_error",
                                           "message": "the request failed inside the service; "
                                                      "see the server log"}}, status_code=500)

    @api.get("/v1/experts")
    async def experts(self) -> dict:
        return {"experts": self.cards}

    @api.get("/healthz")
    async def healthz(self) -> dict:
        return {"status": "ok", "app": self.config.name, "experts": len(self.cards)}
