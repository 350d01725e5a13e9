"""The expert interface: (query, media, skill) -> ExpertReport with a text report."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod

from mexa_ray.config import ExpertSpec
from mexa_ray.errors import InvalidRequest
from mexa_ray.types import ExpertReport, Media, Query, Skill

log = logging.getLogger(__name__)


class Expert(ABC):
    """An expert reads the query's media of its modalities and writes an interpretable report.

    Subclasses load their model (if any) in `__init__`, so that a Serve replica or a Ray Data
    actor pays the load once, and implement `describe` for one media item. Media arrive with a
    readable local `path` and a normalised `format`.
    """

    def __init__(self, spec: ExpertSpec, skills: dict[str, Skill]) -> None:
        self.spec = spec
        self.name = spec.name
        self.options = dict(spec.options)
        self.skills = {sid: skills[sid] for sid in spec.skills}

    def run(self, query: Query, skill_id: str) -> ExpertReport:
        skill = self.skills.get(skill_id)
        if skill is None:
            raise InvalidRequest(f"expert {self.name!r} has no skill {skill_id!r}", field="skill")
        readable = set(skill.modalities) & set(self.spec.modalities)
        items = query.media_of(tuple(readable))
        started = time.time()
        parts = [self._describe_item(item, query, skill, len(items) > 1) for item in items]
        text = "\n".join(parts) if parts else f"No {'/'.join(sorted(readable))} input was given."
        finished = time.time()
        log.info("expert %s skill %s request %s: %.3fs", self.name, skill_id, query.request_id,
                 finished - started)
        return ExpertReport(self.name, skill_id, text, finished - started, started, finished)

    def _describe_item(self, item: Media, query: Query, skill: Skill, label: bool) -> str:
        body = self.describe(item, query, skill)
        return f"[{item.type}: {item.describe()}]\n{body}" if label else body

    @abstractmethod
    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        """Write the report for one media item under one skill."""

    def check_health(self) -> None:
        """Raise if the expert cannot serve (model not loaded, device lost)."""
