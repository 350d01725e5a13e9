"""The router: which experts, with which skill, does a query need given its modalities?

Two routers share one `select`: MEXA's LLM router (the skill-selection prompt on an LLM, skills
mapped to the experts that offer them for the present inputs) and the embedding router, which
ranks every (expert, skill) card whose modality is present by similarity to the question. The
embedding router is also the LLM router's fallback when the LLM names no usable skill or fails.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from mexa_ray.config import AppConfig, ExpertSpec
from mexa_ray.errors import InvalidRequest, summarise
from mexa_ray.models.embedding import Embedder
from mexa_ray.models.llm import Generation, Generator, build_generator, first_line
from mexa_ray.reasoning.evidence import claim_terms, terms
from mexa_ray.reasoning.prompts import (
    parse_skill_ids,
    router_card,
    router_catalogue,
    router_messages,
    router_schema,
)
from mexa_ray.serving.http.schemas import check_named_experts
from mexa_ray.types import Query, SelectedExpert, Selection, Skill

log = logging.getLogger(__name__)


def card_text(spec: ExpertSpec, skill: Skill) -> str:
    """What the embedding router compares the question with: the skill, then the expert's
    description. Not its `limitations`: similarity would match a question on what the expert
    cannot do."""
    return f"{skill.name}: {skill.description} {spec.description}"


def llm_cards(offered: dict[str, list[ExpertSpec]]) -> list[str]:
    """The cards of the experts that would apply the offered skills, as the LLM router reads
    them: each expert once, with the offered skill ids it applies, in config order."""
    skills: dict[str, list[str]] = {}
    experts: dict[str, ExpertSpec] = {}
    for sid, specs in offered.items():
        for e in specs:
            experts.setdefault(e.name, e)
            skills.setdefault(e.name, []).append(sid)
    return [
        router_card(e.name, skills[e.name], e.description, e.limitations) for e in experts.values()
    ]


def router_view(config: AppConfig) -> str:
    """Exactly what each router of `config` reads about the experts (`mexa experts
    --router-view`): the LLM router's catalogue, as its prompt shows it when every modality is
    present (a query shows only the skills its inputs allow), and the embedding router's texts,
    one per expert and skill (it is the LLM router's fallback, so every config has one)."""
    catalogue = config.skill_catalogue()
    offered: dict[str, list[ExpertSpec]] = {}
    for expert in config.experts:
        for sid in expert.skills:
            offered.setdefault(sid, []).append(expert)
    kind = config.router.llm.kind if config.router.llm is not None else None
    lines = [f"router.kind: {config.router.kind}" + (f" ({kind})" if kind else ""), ""]
    lines += [
        "LLM router: the skills part of its prompt (all modalities present)"
        + ("" if config.router.kind == "llm" else "; not used by this config"),
        router_catalogue([catalogue[s] for s in offered], llm_cards(offered)),
        "",
    ]
    lines.append(
        "Embedding router"
        + (" (the LLM router's fallback)" if config.router.kind == "llm" else "")
        + ": one text per expert and skill, compared with the question"
    )
    for expert in config.experts:
        for sid in expert.skills:
            lines.append(f"  {expert.name} / {sid}: {card_text(expert, catalogue[sid])}")
    return "\n".join(lines)


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
    needs_media = False

    def __init__(self, config: AppConfig, embedder: Embedder) -> None:
        catalogue = config.skill_catalogue()
        self.max_experts = config.router.max_experts
        self.margin = config.router.margin
        self.embedder = embedder
        self.specs = {s.name: s for s in config.experts}
        self.cards: list[tuple[ExpertSpec, Skill]] = [
            (spec, catalogue[sid]) for spec in config.experts for sid in spec.skills
        ]
        texts = [card_text(s, k) for s, k in self.cards]
        self.card_vectors = embedder.encode(texts)
        self.card_terms = [set(terms(t)) for t in texts]
        self.lexical_weight = config.router.lexical_weight

    def _scores(self, query: Query, present: set[str]) -> dict[str, tuple[float, Skill]]:
        """Best (score, skill) for every expert that can read some present modality."""
        candidates = [i for i, (s, k) in enumerate(self.cards) if readable(s, k, present)]
        if not candidates:
            return {}
        q = self.embedder.encode([query_text(query)])[0]
        sims = self.card_vectors[candidates] @ q
        wanted = claim_terms(terms(query.question))
        if wanted and self.lexical_weight:  # the question's own words named on the card
            sims = sims + self.lexical_weight * np.array(
                [len(self.card_terms[i].intersection(wanted)) / len(wanted) for i in candidates]
            )
        best: dict[str, tuple[float, Skill]] = {}
        for i, score in zip(candidates, sims.tolist()):
            spec, skill = self.cards[i]
            if spec.name not in best or score > best[spec.name][0]:
                best[spec.name] = (score, skill)
        return best

    def uncovered(self, present: set[str]) -> list[str]:
        """Present modalities that no configured expert reads."""
        return sorted(present - {m for s, k in self.cards for m in readable(s, k, present)})

    def check_health(self) -> None:
        """Its model is the embedder: a forward pass through it."""
        self.embedder.check_health()

    def select_batch(self, queries: list[Query]) -> list[Selection]:
        """Selections for many queries; their texts are embedded in one forward pass."""
        self.embedder.encode([query_text(q) for q in queries])  # remembered for select()
        return [self.select(q) for q in queries]

    def select(self, query: Query) -> Selection:
        present = set(query.modalities)
        uncovered = self.uncovered(present)
        if query.experts is not None:
            return self._forced(query, present, uncovered)
        best = self._scores(query, present)
        if not best:
            return Selection([], self.name, uncovered)
        chosen: dict[str, str] = {}
        for modality in sorted(present - set(uncovered)):
            able = [
                e for e, (_, k) in best.items() if modality in readable(self.specs[e], k, present)
            ]
            if able:
                top = max(able, key=lambda e: best[e][0])
                chosen.setdefault(top, f"best match for the {modality} input")
        top_score = max(score for score, _ in best.values())
        for expert, (score, _) in best.items():
            if expert not in chosen and score >= top_score - self.margin:
                chosen[expert] = f"within {self.margin:g} of the best match"
        ranked = sorted(chosen, key=lambda e: -best[e][0])[: self.max_experts]
        selected = [
            SelectedExpert(
                e,
                best[e][1].id,
                f"{best[e][1].id} {best[e][1].name}: similarity "
                f"{best[e][0]:.2f} to the question; {chosen[e]}",
                round(best[e][0], 4),
            )
            for e in ranked
        ]
        log.info("request %s: selected %s", query.request_id, [s.expert for s in selected])
        return Selection(selected, self.name, uncovered)

    def _forced(self, query: Query, present: set[str], uncovered: list[str]) -> Selection:
        check_named_experts(self.specs, query.experts, present)
        best = self._scores(query, present)
        selected = []
        for i, name in enumerate(dict.fromkeys(query.experts or [])):
            if name not in best:  # it reads the media, but none of its skills does
                raise InvalidRequest(
                    f"no skill of expert {name!r} reads the request's media "
                    f"({sorted(present) or 'none'})",
                    field=f"experts.{i}",
                )
            score, skill = best[name]
            selected.append(
                SelectedExpert(
                    name,
                    skill.id,
                    f"{skill.id} {skill.name}: named in the request; similarity {score:.2f}",
                    round(score, 4),
                )
            )
        return Selection(selected, "forced", uncovered)


class Router(Protocol):
    name: str
    #: whether `select` reads media pixels (a VLM router), so callers must make them local first
    needs_media: bool

    def select(self, query: Query) -> Selection: ...

    def select_batch(self, queries: list[Query]) -> list[Selection]: ...

    def check_health(self) -> None:
        """Raise if the router's model can no longer serve."""


def router_frames(query: Query, limit: int) -> list:
    """Up to `limit` PIL images from the query's images and videos (frames spread evenly)."""
    from PIL import Image

    from mexa_ray.media.image import read_image
    from mexa_ray.media.video import read_frames

    images: list = []
    for m in query.media_of(("image", "video")):
        if len(images) >= limit:
            break
        if m.type == "image":
            images.append(Image.fromarray(read_image(m.local_path())[..., :3]))
        else:
            frames = read_frames(
                m.local_path(), max_frames=max(1, limit - len(images)), max_side=448
            )
            images += [Image.fromarray(f) for f in frames.frames]
    return images[:limit]


class LLMRouter:
    """MEXA's router: the LLM reads the question and the skill catalogue, with the cards of the
    experts under each skill, and names skill ids.

    Only skills that some expert offers for the present modalities are shown, so every id the
    model can name maps to an expert. Config order is preference: when two experts offer a
    skill, the first listed gets it.
    """

    def __init__(self, config: AppConfig, generator: Generator, fallback: EmbeddingRouter) -> None:
        self.generator = generator
        self.fallback = fallback
        self.name = f"llm:{generator.label}"
        spec = config.router.llm
        self.frames = config.router.frames if spec is not None and spec.kind == "vision" else 0
        self.needs_media = self.frames > 0
        self.max_experts = config.router.max_experts
        self.constrained = config.router.constrained
        self.catalogue = config.skill_catalogue()
        self.experts = list(config.experts)

    def _offered(self, present: set[str]) -> dict[str, list[ExpertSpec]]:
        """skill id -> experts that can apply it to the present inputs, in the order the config
        lists its experts and their skills (the order the prompt shows them in)."""
        offered: dict[str, list[ExpertSpec]] = {}
        for expert in self.experts:
            for sid in expert.skills:
                if readable(expert, self.catalogue[sid], present):
                    offered.setdefault(sid, []).append(expert)
        return offered

    def select(self, query: Query) -> Selection:
        return self.select_batch([query])[0]

    def select_batch(self, queries: list[Query]) -> list[Selection]:
        """Selections for many queries, their prompts generated in one batch (how the bulk job
        feeds the router model)."""
        results: list[Selection | None] = [None] * len(queries)
        prompts: dict[int, tuple[list, dict[str, list[ExpertSpec]]]] = {}
        for i, query in enumerate(queries):
            offered = self._offered(set(query.modalities))
            if query.experts is not None or not offered:
                # named experts, or nothing to choose from: the fallback says what is uncovered
                results[i] = self.fallback.select(query)
                continue
            try:
                images = router_frames(query, self.frames) if self.frames else None
                prompts[i] = (
                    router_messages(
                        query,
                        [self.catalogue[s] for s in offered],
                        query.modalities,
                        images,
                        llm_cards(offered),
                    ),
                    offered,
                )
            except Exception as exc:  # noqa: BLE001 - unreadable frames: this query falls back alone
                results[i] = self._failed(query, exc)
        order = list(prompts)
        schemas: list[dict | None] | None = (
            [router_schema(list(prompts[i][1]), self.max_experts) for i in order]
            if self.constrained
            else None
        )
        outs: Sequence[Generation | Exception]
        try:
            outs = self.generator.generate([prompts[i][0] for i in order], schemas) if order else []
        except Exception as exc:  # noqa: BLE001 - a broken router model must not take requests down
            outs = [exc] * len(order)
        for i, out in zip(order, outs):
            query, offered = queries[i], prompts[i][1]
            results[i] = (
                self._failed(query, out)
                if isinstance(out, Exception)
                else self._interpret(query, out, offered)
            )
        return results  # type: ignore[return-value]

    def _failed(self, query: Query, exc: Exception) -> Selection:
        log.error("request %s: LLM router failed: %s", query.request_id, exc)
        return self._fall_back(query, f"the LLM router failed ({summarise(exc)})")

    def _interpret(
        self, query: Query, out: Generation, offered: dict[str, list[ExpertSpec]]
    ) -> Selection:
        ids, unknown = parse_skill_ids(out.text, list(offered))
        notes = []
        if unknown:
            log.info("request %s: router named unusable skill ids %s", query.request_id, unknown)
            notes.append(
                f"the LLM router also named {', '.join(unknown)}, which no expert "
                "offers for these inputs; dropped"
            )
        if not ids:
            said = first_line(out.text or out.raw) or "nothing"
            return self._fall_back(
                query, f"the LLM router named no usable skill (it said: {said!r})", notes
            )
        selected = []
        for sid in ids[: self.max_experts]:
            expert = offered[sid][0]
            skill = self.catalogue[sid]
            selected.append(
                SelectedExpert(expert.name, sid, f"{sid} {skill.name}: chosen by {self.name}", 1.0)
            )
        if len(ids) > self.max_experts:
            notes.append(
                f"the LLM router named {len(ids)} skills; kept the first "
                f"{self.max_experts} (router.max_experts)"
            )
        log.info("request %s: LLM router chose %s", query.request_id, ids)
        return Selection(selected, self.name, self.fallback.uncovered(set(query.modalities)), notes)

    def check_health(self) -> None:
        self.generator.check_health()

    def _fall_back(self, query: Query, reason: str, notes: list[str] | None = None) -> Selection:
        selection = self.fallback.select(query)
        selection.notes = list(notes or []) + [f"{reason}; the embedding router chose instead"]
        return selection


def build_router(config: AppConfig, embedder: Embedder) -> Router:
    """The router the config asks for; an LLM router loads its model here, once per replica."""
    fallback = EmbeddingRouter(config, embedder)
    if config.router.kind == "llm" and config.router.llm is not None:
        return LLMRouter(config, build_generator(config.router.llm, "router.llm"), fallback)
    return fallback
