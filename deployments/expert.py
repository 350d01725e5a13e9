"""One generic expert deployment, bound once per expert in the config."""

from __future__ import annotations

import asyncio
import logging

from ray import serve

from deployments.transport import materialise
from mexa_ray.config import ExpertSpec
from mexa_ray.experts import build_expert
from mexa_ray.types import ExpertReport, Query, Skill

log = logging.getLogger("ray.serve")


@serve.deployment
class ExpertDeployment:
    def __init__(self, spec: ExpertSpec, skills: dict[str, Skill]) -> None:
        # loading happens here, so the replica is reported ready only once the expert can serve
        self.expert = build_expert(spec, skills)

    async def analyse(self, query: Query, skill: str) -> ExpertReport:
        local = await materialise(query)
        # the analysis is blocking CPU/GPU work: keep the replica's event loop free
        return await asyncio.to_thread(self.expert.run, local, skill)

    def check_health(self) -> None:
        self.expert.check_health()
