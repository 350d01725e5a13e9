"""The selector: picks experts, starts every expert call, hands the pending calls on."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle, DeploymentResponse

from deployments.observability import ExpertMetrics, adopt_library_logs
from deployments.transport import materialise
from mexa_ray.config import AppConfig
from mexa_ray.embedding import Embedder
from mexa_ray.selection import build_router
from mexa_ray.types import Answer, Query, SelectedExpert

log = logging.getLogger("ray.serve")


@dataclass
class PendingReport:
    """An expert call in flight: its ObjectRef, or why it never started."""

    expert: str
    skill: str
    timeout_s: float
    ref: Any = None
    error: str | None = None


@serve.deployment
class Selector:
    def __init__(self, config: AppConfig, experts: dict[str, DeploymentHandle],
                 aggregator: DeploymentHandle) -> None:
        adopt_library_logs()
        self.metrics = ExpertMetrics()
        self.config = config
        self.experts = experts
        self.aggregator = aggregator
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
        selected_at = time.time()
        for s in selection.experts:
            self.metrics.selections.inc(tags={"expert": s.expert, "skill": s.skill})
        # start every expert call before awaiting anything: they run in parallel
        responses = [self.experts[s.expert].analyse.remote(query, s.skill)
                     for s in selection.experts]
        deadline_at = started + budget
        pending = await asyncio.gather(*(self._pending(s, r, deadline_at)
                                         for s, r in zip(selection.experts, responses)))
        timings = {"select_s": selected_at - started}
        try:
            return await self.aggregator.aggregate.remote(query, selection, list(pending),
                                                          selected_at, deadline_at, timings)
        finally:
            for r in responses:  # stops experts still running past the deadline; no-op if done
                r.cancel()

    def check_health(self) -> None:
        self.router.check_health()

    async def _pending(self, s: SelectedExpert, response: DeploymentResponse,
                       deadline_at: float) -> PendingReport:
        """The call's ObjectRef (nested refs reach the aggregator unresolved, so it can wait with
        a deadline), or the reason it could not be scheduled."""
        timeout = self.timeouts[s.expert]
        try:
            ref = await asyncio.wait_for(response._to_object_ref(),
                                         max(0.0, deadline_at - time.time()))
            return PendingReport(s.expert, s.skill, timeout, ref=ref)
        except asyncio.TimeoutError:
            return PendingReport(s.expert, s.skill, timeout,
                                 error="no replica accepted the call before the deadline")
        except Exception as exc:  # backpressure, replica gone: recorded, not fatal
            return PendingReport(s.expert, s.skill, timeout,
                                 error=f"could not be scheduled: {type(exc).__name__}: {exc}")
