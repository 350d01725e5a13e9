"""One call from a deployment to the next (ingress → orchestrator → aggregator) that survives the
loss of the replica taking it, and never outlives the request's deadline.

A replica dies with its node. Serve's router stops sending new calls to it once it learns of the
death, but a call already in flight fails with `RayActorError` (`ActorDiedError`, or
`ActorUnavailableError` over the gRPC transport). Such a call is sent again, within the same
deadline, and Serve routes it to a replica that is still there. Only the last call's result is
awaited (the earlier ones are cancelled), so a retried request is answered once. The expert calls
of the fan-out follow the same rules (`fanout.FanOut`), but end in a `missing` entry instead of
an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, cast

from ray.exceptions import RayActorError, RayTaskError
from ray.serve.handle import DeploymentResponse

from mexa_ray.errors import DeadlineExceeded, MexaError, Unavailable

log = logging.getLogger("ray.serve")

#: times a call is sent again after its replica died
REPLICA_RETRIES = 2
#: a call is not sent again with less time left than this: it could not be answered anyway
MIN_RETRY_S = 0.5
#: the time left a call is sent with when the deadline has just passed: its callee answers with
#: what it has (the experts' reports by then) within the grace
MIN_LEFT_S = 0.001
#: how long the ingress waits past the deadline for the orchestrator's own deadline error (the
#: orchestrator waits half of it for the aggregator's); past it the ingress answers 504 itself
GRACE_S = 1.0


def raise_callers_error(exc: RayTaskError) -> None:
    """Raise the MexaError a downstream replica raised (an unknown expert, bad media) as itself,
    not wrapped in Ray's RayTaskError, so the caller answers it as the 4xx it is."""
    if isinstance(exc.cause, MexaError):
        raise exc.cause from None


def replica_lost(exc: BaseException) -> bool:
    """Whether a call failed because the replica taking it died (or cannot be reached)."""
    return isinstance(exc, RayActorError)


async def call(
    send: Callable[[float], Any],
    deadline_at: float,
    *,
    what: str,
    request_id: str,
    retry_after_s: float,
    grace_s: float = GRACE_S,
) -> Any:
    """Await `send(seconds_left)`'s result by `deadline_at` (epoch seconds) plus `grace_s`,
    sending the call again when its replica died. `send` gets the seconds left, so that the
    callee's own deadline counts from the request's start however late the retry. The grace
    is for the last step after the deadline: the aggregator answers from the reports that came
    in by then.

    Raises `DeadlineExceeded` (504) when the deadline passes, `Unavailable` (503, with
    `retry_after_s`) when the replicas died faster than the retries could go round; any other
    failure is the callee's and propagates as is."""
    lost = 0
    while True:
        left = deadline_at - time.time()
        suffix = f" (after {lost} lost {what} replica(s))" if lost else ""
        past = DeadlineExceeded(
            f"the request was not answered within its deadline{suffix}", field="deadline_s"
        )
        if left + grace_s <= 0:  # spent before the call (admitting large media, say)
            raise past
        response = cast(DeploymentResponse, send(max(left, MIN_LEFT_S)))
        try:
            return await asyncio.wait_for(response, left + grace_s)
        except asyncio.TimeoutError:
            response.cancel()
            raise past from None
        except Exception as exc:
            if not replica_lost(exc):
                raise
            response.cancel()
            lost += 1
            if lost > REPLICA_RETRIES or deadline_at - time.time() < MIN_RETRY_S:
                raise Unavailable(
                    f"the {what} replica taking the request was lost ({type(exc).__name__}) and "
                    "no other could answer in time; send it again",
                    retry_after_s,
                ) from None
            log.warning(
                "request %s: the %s replica was lost (%s); sending the call again",
                request_id,
                what,
                type(exc).__name__,
            )
