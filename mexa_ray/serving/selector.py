"""The selector: picks experts, starts every expert call at once, awaits them with their
deadlines, and hands the reports (and what is missing) to the aggregator."""

from __future__ import annotations

import asyncio
import logging
import time

from ray import serve
from ray.exceptions import RayActorError, RayTaskError, TaskCancelledError
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle, DeploymentResponse

from mexa_ray.serving.observability import ExpertMetrics, adopt_library_logs
from mexa_ray.serving.transport import Handles, materialise
from mexa_ray.config import AppConfig
from mexa_ray.embedding import Embedder
from mexa_ray.selection import build_router
from mexa_ray.types import Answer, ExpertReport, MissingExpert, Query, SelectedExpert

log = logging.getLogger("ray.serve")

#: times a call is sent again after its replica died, within the expert's own deadline
REPLICA_RETRIES = 2


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, RayTaskError):
        cause = exc.cause if exc.cause is not None else exc
        return f"failed: {type(cause).__name__}: {str(cause).strip().splitlines()[-1][:300]}"
    if isinstance(exc, RayActorError):
        return "failed: the expert's replica died during the call"
    if isinstance(exc, TaskCancelledError):
        return "cancelled"
    return f"failed: {type(exc).__name__}: {exc}"


@serve.deployment
class Selector:
    def __init__(self, config: AppConfig, experts: dict[str, DeploymentHandle],
                 aggregator: DeploymentHandle) -> None:
        adopt_library_logs()
        self.metrics = ExpertMetrics()
        self.config = config
        transport = config.serve.transport
        self.experts = {name: Handles(h, transport) for name, h in experts.items()}
        self.aggregator = Handles(aggregator, transport)
        self.timeouts = {s.name: s.timeout_s for s in config.experts}
        # an LLM router loads its model here: the replica is ready only once it can route
        self.router = build_router(config, Embedder(config.embedding))

    async def reason(self, query: Query) -> Answer:
        started = time.time()
        budget = min(query.deadline_s or self.config.request_deadline_s,
                     self.config.request_deadline_s)
        # a VLM router looks at frames; experts still get the query with media by reference
        routed = await materialise(query) if self.router.needs_media else query
        selection = await asyncio.to_thread(self.router.select, routed)
        fanout_at = time.time()
        for s in selection.experts:
            self.metrics.selections.inc(tags={"expert": s.expert, "skill": s.skill})
        # start every expert call before awaiting anything: they run in parallel
        responses = [self.experts[s.expert].for_query(query).analyse.remote(query, s.skill)
                     for s in selection.experts]
        deadline_at = started + budget
        try:
            results = await asyncio.gather(*(self._await(query, s, r, fanout_at, deadline_at)
                                             for s, r in zip(selection.experts, responses)))
        finally:
            for r in responses:  # stops experts still running past the deadline; no-op if done
                r.cancel()
        results, ended = [r for r, _ in results], [t for _, t in results]
        reports = [r for r in results if isinstance(r, ExpertReport)]
        missing = [r for r in results if isinstance(r, MissingExpert)]
        # when each stage ran (epoch seconds; the ingress makes them relative to the request)
        timeline = [{"stage": "routing", "start": started, "end": fanout_at}]
        for s, result, end in zip(selection.experts, results, ended):
            if isinstance(result, ExpertReport):
                timeline.append({"stage": "expert", "expert": s.expert, "skill": s.skill,
                                 "sent": fanout_at, "start": result.started_at,
                                 "end": result.finished_at, "status": "reported"})
            else:
                timeline.append({"stage": "expert", "expert": s.expert, "skill": s.skill,
                                 "sent": fanout_at, "start": fanout_at, "end": end,
                                 "status": "missing"})
        for m in missing:
            log.warning("request %s: expert %s missing: %s", query.request_id, m.expert, m.reason)
        timings = {"select_s": fanout_at - started, "experts_s": time.time() - fanout_at}
        return await self.aggregator.for_query(query).aggregate.remote(
            query, selection, reports, missing, timings, timeline)

    def check_health(self) -> None:
        self.router.check_health()

    async def _await(self, query: Query, s: SelectedExpert, response: DeploymentResponse,
                     fanout_at: float, deadline_at: float
                     ) -> tuple[ExpertReport | MissingExpert, float]:
        """`_outcome`, and when it was known."""
        result = await self._outcome(query, s, response, fanout_at, deadline_at)
        return result, time.time()

    async def _outcome(self, query: Query, s: SelectedExpert, response: DeploymentResponse,
                       fanout_at: float, deadline_at: float) -> ExpertReport | MissingExpert:
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
                response.cancel()  # a resent call too (`reason` cancels the first ones)
                which = "expert timeout" if expert_deadline <= deadline_at else "request deadline"
                suffix = f" after {lost} lost replica(s)" if lost else ""
                return self._missing(s, "timeout", f"timed out after "
                                     f"{time.time() - fanout_at:.2f}s ({which}){suffix}")
            except RayActorError as exc:
                lost += 1
                if lost > REPLICA_RETRIES or wait < 0.5:
                    return self._missing(s, "failed", failure_reason(exc))
                log.warning("request %s: %s's replica was lost (%s); sending the call again",
                            query.request_id, s.expert, type(exc).__name__)
                response.cancel()
                response = self.experts[s.expert].for_query(query).analyse.remote(query, s.skill)
            except BackPressureError as exc:
                return self._missing(s, "unscheduled", f"could not be scheduled: {exc}")
            except TaskCancelledError as exc:
                return self._missing(s, "cancelled", failure_reason(exc))
            except Exception as exc:
                return self._missing(s, "failed", failure_reason(exc))

    def _missing(self, s: SelectedExpert, kind: str, reason: str) -> MissingExpert:
        self.metrics.failures.inc(tags={"expert": s.expert, "kind": kind})
        return MissingExpert(s.expert, reason)
