"""One generic expert deployment, bound once per expert in the config, or once per expert group
(`expert_groups`: several experts in each replica, each call naming the expert it is for)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from ray import serve

from mexa_ray.config import ExpertSpec, SpoolSpec
from mexa_ray.errors import ExpertOutOfMemory
from mexa_ray.experts import build_expert
from mexa_ray.experts.base import Expert
from mexa_ray.media.spool import Spool
from mexa_ray.models.gpu_share import is_out_of_memory, memory_report, release_after_oom
from mexa_ray.models.memory_plan import GiB
from mexa_ray.serving.observability import ExpertMetrics, adopt_library_logs
from mexa_ray.serving.placement import forget_replica, record_replica, update_replica
from mexa_ray.serving.transport import materialise
from mexa_ray.types import ExpertReport, Query, Skill

log = logging.getLogger("ray.serve")


@serve.deployment
class ExpertDeployment:
    def __init__(
        self, specs: list[ExpertSpec], skills: dict[str, Skill], spool: SpoolSpec, hold_s: float
    ) -> None:
        adopt_library_logs()
        self.spool = Spool(spool, hold_s)
        self.metrics = ExpertMetrics()
        # the models load (and warm) here, so the replica is reported ready only once every
        # expert it holds can serve
        # one after another: loading them from threads at once gained nothing on 2 cores and
        # would import big libraries from several threads at once
        with tempfile.TemporaryDirectory(prefix="mexa-warm-up-") as folder:
            built = [self._ready(spec, skills, Path(folder)) for spec in specs]
        self.experts = {expert.name: expert for expert in built}
        # batch concurrent calls when the backend generates in batches and the config asks (the
        # config keeps batching experts out of groups, so a batching replica holds one expert)
        spec = specs[0] if len(specs) == 1 else None
        batching = spec.batching if spec and self.experts[spec.name].batches else None
        self.batched = batching is not None
        if batching is not None:
            self._analyse_batch.set_max_batch_size(batching.max_batch_size)
            self._analyse_batch.set_batch_wait_timeout_s(batching.batch_wait_timeout_s)
        self.replicas = {name: record_replica(name) for name in self.experts}
        self.memory: dict[str, Any] = {}
        self._report_memory()

    @staticmethod
    def _ready(spec: ExpertSpec, skills: dict[str, Skill], folder: Path) -> Expert:
        """The expert built (its model loaded) and warmed up on small made-up media."""
        started = time.perf_counter()
        expert = build_expert(spec, skills)
        loaded = time.perf_counter()
        own = folder / spec.name  # its own files: experts warming up at once never share one
        own.mkdir()
        expert.warm_up(own)
        log.info(
            "expert %s loaded in %.2fs, warmed up in %.2fs",
            spec.name,
            loaded - started,
            time.perf_counter() - loaded,
        )
        return expert

    def __del__(self) -> None:
        for replica in getattr(self, "replicas", {}).values():
            forget_replica(replica)

    async def analyse(self, query: Query, skill: str, expert: str | None = None) -> ExpertReport:
        """`expert`: which of the replica's experts answers (a group's callers name it; None
        is the only one, as callers from before groups send it)."""
        held = self.experts[expert] if expert else next(iter(self.experts.values()))
        tags = {"expert": held.name}
        self.metrics.requests.inc(tags=tags)
        started = time.perf_counter()
        try:
            return await self._analyse(query, skill, held)
        finally:  # failures too: a slow failure is as slow for the request
            self.metrics.latency.observe(time.perf_counter() - started, tags=tags)

    async def _analyse(self, query: Query, skill: str, expert: Expert) -> ExpertReport:
        local = await materialise(query, self.spool)
        try:
            if self.batched:
                result = await self._analyse_batch(local, skill)
                if isinstance(result, Exception):  # that call's own failure, not the batch's
                    raise result
                return result
            # the analysis is blocking CPU/GPU work: keep the replica's event loop free
            return await asyncio.to_thread(expert.run, local, skill)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            release_after_oom()
            memory = memory_report()
            cap = memory.get("cap_bytes")
            raise ExpertOutOfMemory(
                f"{expert.name} ran out of GPU memory"
                + (f" within its share ({cap / GiB:.1f} GiB)" if cap else "")
                + ": raise its num_gpus, or lower its batch size or media size"
            ) from exc

    # Serve's hints know batched methods of one list argument only, and not the wrapper's
    # set_max_batch_size/set_batch_wait_timeout_s: this one batches two, so it goes untyped
    @cast(Any, serve.batch(max_batch_size=8, batch_wait_timeout_s=0.02))
    async def _analyse_batch(
        self, queries: list[Query], skills: list[str]
    ) -> list[ExpertReport | Exception]:
        (expert,) = self.experts.values()
        return await asyncio.to_thread(expert.run_batch, list(zip(queries, skills)))

    def check_health(self) -> None:
        for expert in self.experts.values():
            expert.check_health()
        self.spool.sweep()  # Serve calls this every few seconds: old copies go, even when idle
        self._report_memory()

    def _report_memory(self) -> None:
        """The peak memory (the process's: shared by a group's experts), as a gauge and in
        `/v1/experts` (written when it grows)."""
        memory = memory_report()
        for name in self.replicas:
            tags = {"expert": name, "device": memory["device"]}
            self.metrics.memory_peak.set(memory["peak_bytes"], tags=tags)
        if memory["peak_bytes"] != self.memory.get("peak_bytes"):
            self.memory = memory
            for replica in self.replicas.values():
                update_replica(replica, memory=memory)
