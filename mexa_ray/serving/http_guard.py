"""The HTTP edge of the ingress: the bearer-key check and body-size limit before any route reads
the body, and the mapping of every failure to the one error body
`{"error": {"type", "message", "field", "param"}}` with a 4xx status (5xx only for the service's
own faults), however malformed the body: bad JSON, JSON nested past the parser's or the
validator's recursion, unknown routes and wrong methods alike.
"""

# no `from __future__ import annotations` here: Starlette reads the real `Request` type
import hmac
import json
import logging
import math
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from mexa_ray.errors import MexaError, PayloadTooLarge, Unauthorized, Unavailable

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


#: the playground's files: static, no data in them; the API calls the page makes need the key
PLAYGROUND_FILES = {"playground.js": "text/javascript", "playground.css": "text/css"}


def _public(request: Request) -> bool:
    """Routes that need no key: health, and the playground page with its two static files
    (paths taken below the app's route prefix, which Serve passes as the root path)."""
    path = request.url.path
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    path = path.rstrip("/")
    return (
        path.endswith("/healthz")
        or path == ""
        or path.removeprefix("/playground/") in PLAYGROUND_FILES
    )


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


async def answered(request: Request, handler: Callable[[object], Awaitable[Response]]) -> Response:
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
        return error_response(
            MexaError("the body nests JSON arrays or objects too deeply", field="body")
        )
    try:
        return await handler(payload)
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
