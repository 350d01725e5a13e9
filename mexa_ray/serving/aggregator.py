"""The aggregator: hosts the LRM, which reads the experts' reports and answers."""

from __future__ import annotations

import asyncio
import logging
import time

from ray import serve

from mexa_ray.config import AppConfig
from mexa_ray.models.embedding import Embedder
from mexa_ray.reasoning.aggregation import Verdict, build_aggregator
from mexa_ray.serving.observability import adopt_library_logs
from mexa_ray.serving.placement import forget_replica, record_replica
from mexa_ray.types import ExpertReport, MissingExpert, Query

log = logging.getLogger("ray.serve")


@serve.deployment
class Aggregator:
    def __init__(self, config: AppConfig) -> None:
        adopt_library_logs()
        # the LRM loads here, so the replica is ready only once it can answer
        self.aggregator = build_aggregator(config, Embedder(config.embedding))
        self.replica = record_replica("aggregator", role="aggregator")

    def __del__(self) -> None:
        forget_replica(getattr(self, "replica", None))

    async def aggregate(
        self, query: Query, reports: list[ExpertReport], missing: list[MissingExpert]
    ) -> Verdict:
        """The verdict on the reports, stamped with this aggregator and its time: the
        orchestrator builds the answer around it."""
        started = time.time()
        # generation is blocking CPU/GPU work: keep the replica's event loop free
        verdict = await asyncio.to_thread(self.aggregator.answer, query, reports, missing)
        verdict.aggregator, verdict.started, verdict.ended = (
            self.aggregator.name,
            started,
            time.time(),
        )
        log.info(
            "request %s: answered %r from %d reports (%d missing) in %.3fs",
            query.request_id,
            verdict.answer[:80],
            len(reports),
            len(missing),
            verdict.ended - started,
        )
        return verdict

    def check_health(self) -> None:
        self.aggregator.check_health()
