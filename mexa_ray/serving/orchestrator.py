"""The orchestrator: the deployment each request passes through once. It routes (the router's
model lives here, so the replica is ready only once it can route), fans the query out to the
chosen experts (`fanout.FanOut`) and hands the reports, and what is missing, to the aggregator."""

from __future__ import annotations

import asyncio
import time

from ray import serve
from ray.serve.handle import DeploymentHandle

from mexa_ray.config import AppConfig
from mexa_ray.media.spool import Spool
from mexa_ray.models.embedding import Embedder
from mexa_ray.reasoning.aggregation import Verdict, build_answer
from mexa_ray.reasoning.routing import build_router
from mexa_ray.serving import hops
from mexa_ray.serving.fanout import FanOut
from mexa_ray.serving.observability import ExpertMetrics, adopt_library_logs
from mexa_ray.serving.transport import Handles, materialise
from mexa_ray.types import Answer, Query


@serve.deployment
class Orchestrator:
    def __init__(
        self, config: AppConfig, experts: dict[str, DeploymentHandle], aggregator: DeploymentHandle
    ) -> None:
        adopt_library_logs()
        self.metrics = ExpertMetrics()
        self.config = config
        transport = config.serve.transport
        # a group's experts share one deployment: one handle (and one Serve router) for it
        shared: dict[str, Handles] = {}
        for handle in experts.values():
            shared.setdefault(handle.deployment_name, Handles(handle, transport))
        self.fanout = FanOut(
            {name: shared[h.deployment_name] for name, h in experts.items()},
            {s.name: s.timeout_s for s in config.experts},
            self.metrics,
        )
        self.aggregator = Handles(aggregator, transport)
        self.router = build_router(config, Embedder(config.embedding))
        self.spool = Spool(config.spool, config.request_deadline_s)

    async def reason(self, query: Query) -> Answer:
        """Route, fan out and aggregate within the query's deadline (`deadline_s`: the seconds
        the ingress had left when it sent the call). The experts report by the deadline less
        the aggregator's reserve; the aggregator's call is sent again if its replica dies."""
        started = time.time()
        budget = min(
            query.deadline_s or self.config.request_deadline_s, self.config.request_deadline_s
        )
        deadline_at = started + budget
        reserve = min(self.config.aggregator.reserve_s, budget / 2)
        # a VLM router looks at frames; experts still get the query with media by reference
        routed = await materialise(query, self.spool) if self.router.needs_media else query
        selection = await asyncio.to_thread(self.router.select, routed)
        fanout_at = time.time()
        for s in selection.experts:
            self.metrics.selections.inc(tags={"expert": s.expert, "skill": s.skill})
        gathered = await self.fanout.gather(query, selection.experts, deadline_at - reserve)
        timeline = [{"stage": "routing", "start": started, "end": fanout_at}, *gathered.timeline]
        timings = {"select_s": fanout_at - started, "experts_s": time.time() - fanout_at}
        handle = self.aggregator.for_query(query)
        verdict: Verdict = await hops.call(
            lambda _left: handle.aggregate.remote(query, gathered.reports, gathered.missing),
            deadline_at,
            what="aggregator",
            request_id=query.request_id,
            retry_after_s=self.config.aggregator.deployment.retry_after_s,
            grace_s=hops.GRACE_S / 2,
        )
        timings["aggregate_s"] = verdict.ended - verdict.started
        timeline.append({"stage": "aggregation", "start": verdict.started, "end": verdict.ended})
        return build_answer(
            query, selection, gathered.reports, gathered.missing, verdict, timings, timeline
        )

    def check_health(self) -> None:
        self.router.check_health()
        self.spool.sweep()
