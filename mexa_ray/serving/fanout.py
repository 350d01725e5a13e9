"""The fan-out: every selected expert's call starts at once, and each is awaited with its own
deadline, so one slow, failed or lost expert costs only its own report."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import cast

from ray.exceptions import RayActorError, TaskCancelledError
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentResponse

from mexa_ray.errors import failure_reason
from mexa_ray.serving import hops
from mexa_ray.serving.observability import ExpertMetrics
from mexa_ray.serving.transport import Handles
from mexa_ray.types import ExpertReport, MissingExpert, Query, SelectedExpert

log = logging.getLogger("ray.serve")


@dataclass
class Gathered:
    """What the fan-out brings back: the reports, what is missing and why, and when each call
    ran (epoch seconds; the ingress makes them relative to the request)."""

    reports: list[ExpertReport] = field(default_factory=list)
    missing: list[MissingExpert] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)


class FanOut:
    """Calls experts through their deployment handles."""

    def __init__(
        self, experts: dict[str, Handles], timeouts: dict[str, float], metrics: ExpertMetrics
    ) -> None:
        self.experts = experts
        self.timeouts = timeouts
        self.metrics = metrics

    async def gather(
        self, query: Query, selected: list[SelectedExpert], deadline_at: float
    ) -> Gathered:
        fanout_at = time.time()
        # start every expert call before awaiting anything: they run in parallel
        responses = [self._call(query, s) for s in selected]
        try:
            results = await asyncio.gather(
                *(
                    self._await(query, s, r, fanout_at, deadline_at)
                    for s, r in zip(selected, responses)
                )
            )
        finally:
            for r in responses:  # stops experts still running past the deadline; no-op if done
                r.cancel()
        out = Gathered()
        for s, (result, end) in zip(selected, results):
            if isinstance(result, ExpertReport):
                out.reports.append(result)
                out.timeline.append(
                    {
                        "stage": "expert",
                        "expert": s.expert,
                        "skill": s.skill,
                        "sent": fanout_at,
                        "start": result.started_at,
                        "end": result.finished_at,
                        "status": "reported",
                    }
                )
            else:
                out.missing.append(result)
                log.warning(
                    "request %s: expert %s missing: %s",
                    query.request_id,
                    result.expert,
                    result.reason,
                )
                out.timeline.append(
                    {
                        "stage": "expert",
                        "expert": s.expert,
                        "skill": s.skill,
                        "sent": fanout_at,
                        "start": fanout_at,
                        "end": end,
                        "status": "missing",
                    }
                )
        return out

    def _call(self, query: Query, s: SelectedExpert) -> DeploymentResponse:
        # a handle answers with a generator only when called with stream=True: these never are
        handle = self.experts[s.expert].for_query(query)
        response = handle.analyse.remote(query, s.skill, s.expert)
        return cast(DeploymentResponse, response)

    async def _await(
        self,
        query: Query,
        s: SelectedExpert,
        response: DeploymentResponse,
        fanout_at: float,
        deadline_at: float,
    ) -> tuple[ExpertReport | MissingExpert, float]:
        """`_outcome`, and when it was known."""
        result = await self._outcome(query, s, response, fanout_at, deadline_at)
        return result, time.time()

    async def _outcome(
        self,
        query: Query,
        s: SelectedExpert,
        response: DeploymentResponse,
        fanout_at: float,
        deadline_at: float,
    ) -> ExpertReport | MissingExpert:
        """The expert's report, or why it is missing: failed, unscheduled (its queue is full), or
        past its own timeout or the request's deadline, whichever comes first (waiting for a
        replica to take the call counts). A call whose replica died (its node was lost) is sent
        again while time is left: Serve routes it to a replica that is still there."""
        expert_deadline = fanout_at + self.timeouts[s.expert]
        lost = 0
        while True:
            wait = max(0.0, min(expert_deadline, deadline_at) - time.time())
            try:
                return await asyncio.wait_for(response, wait)
            except asyncio.TimeoutError:
                response.cancel()  # a resent call too (`gather` cancels the first ones)
                which = "expert timeout" if expert_deadline <= deadline_at else "request deadline"
                suffix = f" after {lost} lost replica(s)" if lost else ""
                return self._missing(
                    s,
                    "timeout",
                    f"timed out after {time.time() - fanout_at:.2f}s ({which}){suffix}",
                )
            except RayActorError as exc:
                lost += 1
                if lost > hops.REPLICA_RETRIES or wait < hops.MIN_RETRY_S:
                    return self._missing(s, "failed", failure_reason(exc))
                log.warning(
                    "request %s: %s's replica was lost (%s); sending the call again",
                    query.request_id,
                    s.expert,
                    type(exc).__name__,
                )
                response.cancel()
                response = self._call(query, s)
            except BackPressureError as exc:
                return self._missing(s, "unscheduled", f"could not be scheduled: {exc}")
            except TaskCancelledError as exc:
                return self._missing(s, "cancelled", failure_reason(exc))
            except Exception as exc:  # noqa: BLE001 - the expert's own failure: it is missing
                return self._missing(s, "failed", failure_reason(exc))

    def _missing(self, s: SelectedExpert, kind: str, reason: str) -> MissingExpert:
        self.metrics.failures.inc(tags={"expert": s.expert, "kind": kind})
        return MissingExpert(s.expert, reason)
