"""An expert with controlled latency and failure, for fan-out tests and overhead benchmarks.

It is a real backend (it goes through the same registry, deployment and deadlines as every other
expert) whose work is a sleep, so timings of the orchestration can be measured exactly.
"""

from __future__ import annotations

import time

from mexa_ray.config import ExpertSpec
from mexa_ray.errors import SyntheticExpertError
from mexa_ray.experts.base import Expert
from mexa_ray.experts.settings import SyntheticSettings
from mexa_ray.types import ExpertReport, Media, Query, Skill


class SyntheticExpert(Expert):
    """Sleeps `delay_s`, then reports `text` (or fails, with `fail`); see SyntheticSettings."""

    settings: SyntheticSettings
    reads_question = True
    warms_up = False  # its delay and failures are the tests' to time

    def __init__(self, spec: ExpertSpec, skills: dict[str, Skill]) -> None:
        super().__init__(spec, skills)
        time.sleep(self.settings.load_s)  # where a real expert loads its model

    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        raise NotImplementedError  # run() is overridden: it needs no media

    def run(self, query: Query, skill_id: str) -> ExpertReport:
        started = time.time()
        time.sleep(self.settings.delay_s)
        if self.settings.fail == "out_of_memory":
            import torch

            raise torch.cuda.OutOfMemoryError(
                f"CUDA out of memory. Tried to allocate 2.00 GiB ({self.name}, on purpose)"
            )
        if self.settings.fail:
            raise SyntheticExpertError(f"expert {self.name} failed on purpose")
        text = self.settings.text
        if text is None:
            text = f"{self.name} saw the question: {query.question}"
        if self.settings.with_node:
            import ray

            text += f" (node {ray.get_runtime_context().get_node_id()})"
        finished = time.time()
        return ExpertReport(self.name, skill_id, text, finished - started, started, finished)
