"""The aggregator: awaits the experts' pending reports with deadlines, then answers."""

from __future__ import annotations

import asyncio
import logging
import time

from ray import serve
from ray.exceptions import RayActorError, RayTaskError, TaskCancelledError

from deployments.observability import ExpertMetrics, adopt_library_logs
from deployments.selector import PendingReport
from mexa_ray.aggregation import build_aggregator, build_answer
from mexa_ray.config import AppConfig
from mexa_ray.embedding import Embedder
from mexa_ray.types import Answer, ExpertReport, MissingExpert, Query, Selection

log = logging.getLogger("ray.serve")


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
class Aggregator:
    def __init__(self, config: AppConfig) -> None:
        adopt_library_logs()
        self.metrics = ExpertMetrics()
        # the LRM loads here, so the replica is ready only once it can answer
        self.aggregator = build_aggregator(config, Embedder(config.embedding))

    async def aggregate(self, query: Query, selection: Selection, pending: list[PendingReport],
                        fanout_at: float, deadline_at: float,
                        timings: dict[str, float]) -> Answer:
        results = await asyncio.gather(*(self._await(p, fanout_at, deadline_at) for p in pending))
        reports = [r for r in results if isinstance(r, ExpertReport)]
        missing = [r for r in results if isinstance(r, MissingExpert)]
        experts_done = time.time()
        verdict = await asyncio.to_thread(self.aggregator.answer, query, reports, missing)
        done = time.time()
        timings = dict(timings, experts_s=experts_done - fanout_at,
                       aggregate_s=done - experts_done)
        for m in missing:
            log.warning("request %s: expert %s missing: %s", query.request_id, m.expert, m.reason)
        return build_answer(query, selection, reports, missing, verdict, self.aggregator.name,
                            timings)

    def check_health(self) -> None:
        self.aggregator.check_health()

    async def _await(self, p: PendingReport, fanout_at: float,
                     deadline_at: float) -> ExpertReport | MissingExpert:
        if p.error is not None:
            return self._missing(p, "unscheduled", p.error)
        expert_deadline = fanout_at + p.timeout_s
        wait = max(0.0, min(expert_deadline, deadline_at) - time.time())
        try:
            return await asyncio.wait_for(asyncio.wrap_future(p.ref.future()), wait)
        except asyncio.TimeoutError:  # the selector cancels the call itself
            which = "expert timeout" if expert_deadline <= deadline_at else "request deadline"
            return self._missing(p, "timeout", f"timed out after {time.time() - fanout_at:.2f}s "
                                               f"({which})")
        except TaskCancelledError as exc:
            return self._missing(p, "cancelled", failure_reason(exc))
        except Exception as exc:
            return self._missing(p, "failed", failure_reason(exc))

    def _missing(self, p: PendingReport, kind: str, reason: str) -> MissingExpert:
        self.metrics.failures.inc(tags={"expert": p.expert, "kind": kind})
        return MissingExpert(p.expert, reason)
