"""An expert with controlled latency and failure, for fan-out tests and overhead benchmarks.

It is a real backend (it goes through the same registry, deployment and deadlines as every other
expert) whose work is a sleep, so timings of the orchestration can be measured exactly.
"""

from __future__ import annotations

import time

from mexa_ray.experts.base import Expert
from mexa_ray.types import ExpertReport, Media, Query, Skill


class SyntheticExpertError(RuntimeError):
    pass


class SyntheticExpert(Expert):
    """options: delay_s (sleep per call), fail (raise instead of answering), text (report),
    with_node (end the report with the Ray node it ran on: where a bulk job's actors ran)."""

    reads_question = True

    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        raise NotImplementedError  # run() is overridden: it needs no media

    def run(self, query: Query, skill_id: str) -> ExpertReport:
        started = time.time()
        time.sleep(float(self.options.get("delay_s", 0.0)))
        if self.options.get("fail"):
            raise SyntheticExpertError(f"expert {self.name} failed on purpose")
        text = str(self.options.get("text", f"{self.name} saw the question: {query.question}"))
        if self.options.get("with_node"):
            import ray

            text += f" (node {ray.get_runtime_context().get_node_id()})"
        finished = time.time()
        return ExpertReport(self.name, skill_id, text, finished - started, started, finished)
