"""The router: which experts, with which skill, does a query need given its modalities?

The default is an embedding router: it ranks every (expert, skill) card whose modality is present
by semantic similarity to the question, keeps the best expert for each input modality and any
other expert close to the best score. MEXA's LLM router prompt slots in behind the same `select`.
"""

from __future__ import annotations

import logging


from mexa_ray.config import AppConfig, ExpertSpec
from mexa_ray.embedding import Embedder
from mexa_ray.errors import InvalidRequest, UnknownExpert
from mexa_ray.types import Query, SelectedExpert, Selection, Skill

log = logging.getLogger(__name__)


def card_text(spec: ExpertSpec, skill: Skill) -> str:
    """What the router compares the question with: the skill, then the expert's own card."""
    return f"{skill.name}: {skill.description} {spec.description}"


def query_text(query: Query) -> str:
    parts = [query.task or "", query.question]
    if query.options:
        parts.append("Options: " + "; ".join(query.options))
    return " ".join(p for p in parts if p).strip()


def readable(spec: ExpertSpec, skill: Skill, present: set[str]) -> set[str]:
    """The present modalities this expert can read under this skill."""
    return set(skill.modalities) & set(spec.modalities) & present


class EmbeddingRouter:
    name = "embedding"

    def __init__(self, config: AppConfig, embedder: Embedder) -> None:
        catalogue = config.skill_catalogue()
        self.max_experts = config.router.max_experts
        self.margin = config.router.margin
        self.embedder = embedder
        self.specs = {s.name: s for s in config.experts}
        self.cards: list[tuple[ExpertSpec, Skill]] = [
            (spec, catalogue[sid]) for spec in config.experts for sid in spec.skills]
        self.card_vectors = embedder.encode([card_text(s, k) for s, k in self.cards])

    def _scores(self, query: Query, present: set[str]) -> dict[str, tuple[float, Skill]]:
        """Best (score, skill) for every expert that can read some present modality."""
        candidates = [i for i, (s, k) in enumerate(self.cards) if readable(s, k, present)]
        if not candidates:
            return {}
        q = self.embedder.encode([query_text(query)])[0]
        sims = self.card_vectors[candidates] @ q
        best: dict[str, tuple[float, Skill]] = {}
        for i, score in zip(candidates, sims.tolist()):
            spec, skill = self.cards[i]
            if spec.name not in best or score > best[spec.name][0]:
                best[spec.name] = (score, skill)
        return best

    def select(self, query: Query) -> Selection:
        present = set(query.modalities)
        covered = {m for s, k in self.cards for m in readable(s, k, present)}
        uncovered = sorted(present - covered)
        if query.experts is not None:
            return self._forced(query, present, uncovered)
        best = self._scores(query, present)
        if not best:
            return Selection([], self.name, uncovered)
        chosen: dict[str, str] = {}
        for modality in sorted(covered):
            able = [e for e, (_, k) in best.items() if modality in readable(self.specs[e], k, present)]
            if able:
                top = max(able, key=lambda e: best[e][0])
                chosen.setdefault(top, f"best match for the {modality} input")
        top_score = max(score for score, _ in best.values())
        for expert, (score, _) in best.items():
            if expert not in chosen and score >= top_score - self.margin:
                chosen[expert] = f"within {self.margin:g} of the best match"
        ranked = sorted(chosen, key=lambda e: -best[e][0])[: self.max_experts]
        selected = [
            SelectedExpert(e, best[e][1].id,
                           f"{best[e][1].id} {best[e][1].name}: similarity "
                           f"{best[e][0]:.2f} to the question; {chosen[e]}", round(best[e][0], 4))
            for e in ranked]
        log.info("request %s: selected %s", query.request_id, [s.expert for s in selected])
        return Selection(selected, self.name, uncovered)

    def _forced(self, query: Query, present: set[str], uncovered: list[str]) -> Selection:
        for i, name in enumerate(query.experts or []):
            if name not in self.specs:
                raise UnknownExpert(f"unknown expert {name!r}; known: {', '.join(self.specs)}",
                                    field=f"experts.{i}")
        best = self._scores(query, present)
        selected = []
        for i, name in enumerate(dict.fromkeys(query.experts or [])):
            if name not in best:
                raise InvalidRequest(
                    f"expert {name!r} reads {self.specs[name].modalities}, and the request has no "
                    f"such media (it has {sorted(present) or 'none'})", field=f"experts.{i}")
            score, skill = best[name]
            selected.append(SelectedExpert(name, skill.id,
                                           f"{skill.id} {skill.name}: named in the request; "
                                           f"similarity {score:.2f}", round(score, 4)))
        return Selection(selected, "forced", uncovered)
