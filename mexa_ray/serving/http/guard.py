"""The HTTP edge of the ingress: the bearer-key check, the body-size limit and the rate limits
before any route reads the body, JSON routes that take JSON only, and the mapping of every
failure to the one error body `{"error": {"type", "message", "field", "param"}}` with a 4xx
status (5xx only for the service's own faults), however malformed the body: bad JSON, JSON
nested past the parser's or the validator's recursion, unknown routes and wrong methods alike.
"""

# no `from __future__ import annotations` here: Starlette reads the real `Request` type
import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from mexa_ray.errors import (
    MexaError,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UnsupportedContentType,
)
from mexa_ray.serving.http.rate_limit import RateLimiter

log = logging.getLogger("ray.serve")


INTERNAL_ERROR = {
    "error": {
        "type": "internal_error",
        "message": "the request failed inside the service; see the server log",
    }
}


def error_response(exc: MexaError) -> JSONResponse:
    body = exc.to_dict()
    body["error"]["param"] = exc.field  # the name OpenAI clients read the field from
    headers = {}
    if isinstance(exc, Unavailable) and exc.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return JSONResponse(body, status_code=exc.status, headers=headers)


def json_body(content_type: str) -> bool:
    """Whether a Content-Type declares JSON (`application/json`, with a charset or not, or a
    `+json` type)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


#: the playground's files: static, no data in them; the API calls the page makes need the key
PLAYGROUND_FILES = {"playground.js": "text/javascript", "playground.css": "text/css"}


def _public(request: Request) -> bool:
    """Routes that need no key: liveness and readiness (probes carry none), and the playground
    page with its two static files (paths taken below the app's route prefix, which Serve
    passes as the root path)."""
    path = request.url.path
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    path = path.rstrip("/")
    return (
        path.endswith(("/healthz", "/readyz"))
        or path == ""
        or path.removeprefix("/playground/") in PLAYGROUND_FILES
    )


def _client(request: Request) -> str:
    """Whom a rate limit counts: the API key sent (checked already, when keys are set), else
    the client's address."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "key:" + token.strip()
    return "addr:" + (request.client.host if request.client else "unknown")


class Guard:
    """Bearer-token check (every route but the probes and the playground page, when keys are
    configured) and the body-size limit, before any route reads the body. A plain ASGI
    middleware: Starlette's `@app.middleware("http")` would stream every response through an
    extra task."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refused = self._refusal(request)
        if refused is not None:
            await refused(scope, receive, send)
            return
        limiter: RateLimiter | None = getattr(request.app.state, "limiter", None)
        if limiter is None or _public(request):
            await self.app(scope, receive, send)
            return
        client = _client(request)
        try:
            limiter.acquire(client)
        except TooManyRequests as exc:
            # the key itself never goes to the log: a hash of it tells clients apart
            tag = hashlib.sha256(client.encode()).hexdigest()[:8]
            log.info("rate limited client %s: %s", tag, exc.message)
            await error_response(exc)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:  # a streamed answer too: the app returns once the stream is sent
            limiter.release(client)

    @staticmethod
    def _refusal(request: Request) -> Response | None:
        keys: frozenset[str] = getattr(request.app.state, "api_keys", frozenset())
        if keys and not _public(request):
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not any(
                hmac.compare_digest(token.strip(), k) for k in keys
            ):
                response = error_response(
                    Unauthorized(
                        "missing or wrong API key: send 'Authorization: Bearer <key>'",
                        field="authorization",
                    )
                )
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
        limit = getattr(request.app.state, "max_body_bytes", None)
        length = request.headers.get("content-length", "")
        if limit and length.isdigit() and int(length) > limit:
            return error_response(
                PayloadTooLarge(f"the body has {length} bytes; the limit is {limit}", field="body")
            )
        return None


async def answered(
    request: Request, handler: Callable[[object, float], Awaitable[Response]]
) -> Response:
    """Run a JSON route: bad JSON or bad input is a 4xx with the error body, a bug a 500 with
    the same shape; the service keeps serving either way. The handler gets the payload and when
    the request reached this replica (before its body was read and parsed: the answer's
    timeline then holds all of the server's time but the proxy's)."""
    arrived = time.time()
    if not json_body(request.headers.get("content-type", "")):
        return error_response(
            UnsupportedContentType(
                "send the body as JSON, with 'Content-Type: application/json' (got "
                f"{request.headers.get('content-type', 'none')[:100]!r})",
                field="content-type",
            )
        )
    body = await request.body()
    limit = request.app.state.max_body_bytes
    if len(body) > limit:  # a chunked upload that sent no Content-Length
        return error_response(PayloadTooLarge(f"the body is over {limit} bytes", field="body"))
    try:
        payload = json.loads(body)
    except ValueError as exc:
        return error_response(MexaError(f"the body is not valid JSON: {exc}"))
    except RecursionError:  # arrays or objects nested deeper than any request needs
        return error_response(
            MexaError("the body nests JSON arrays or objects too deeply", field="body")
        )
    try:
        return await handler(payload, arrived)
    except RecursionError:  # nested within the parser's limit, but past the validator's
        return error_response(
            MexaError("the body nests JSON arrays or objects too deeply", field="body")
        )
    except MexaError as exc:
        log.info("rejected request: %s (%s)", exc.message, exc.field)
        return error_response(exc)
    except Exception:  # a bug, not the client's fault: logged, answered with the error body
        log.exception("request failed")
        return JSONResponse(INTERNAL_ERROR, status_code=500)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Unknown routes and wrong methods get the same error body as everything else."""
    body = {"error": {"type": "http_error", "message": str(exc.detail)}}
    return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


def install(api: FastAPI) -> None:
    """Put the guard in front of every route of `api` and the error body on its HTTP errors."""
    api.add_middleware(Guard)
    # Starlette types every handler as taking any Exception; this one is registered (and called)
    # for HTTPException only
    api.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
