"""Turning expert reports into an answer.

The default (no LLM configured) is the evidence-ranking fallback: it scores each option, or for
open questions each report line, against the question by embedding similarity plus exact word and
number overlap, and explains which report line decided. It says plainly that it is not an LRM;
the LRM aggregator with MEXA's prompt slots in behind the same `answer` method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mexa_ray.config import AggregatorSpec
from mexa_ray.embedding import Embedder
from mexa_ray.text_utils import content_words, words
from mexa_ray.types import Answer, ExpertReport, MissingExpert, Query, Selection

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class Evidence:
    expert: str
    skill: str
    text: str


@dataclass
class Verdict:
    answer: str
    option_index: int | None
    reasoning: str


def evidence_units(reports: list[ExpertReport]) -> list[Evidence]:
    """Report lines split into clauses; each clause keeps its line's head ("Column 'x' (text)")."""
    units = []
    for r in reports:
        for line in r.text.splitlines():
            line = line.strip().lstrip("-* ").strip()
            if not line or line.startswith("["):
                continue
            head, sep, body = line.partition(": ")
            clauses = body.split("; ") if sep else line.split("; ")
            for clause in clauses:
                clause = clause.strip().rstrip(".")
                if clause:
                    units.append(Evidence(r.expert, r.skill, f"{head}: {clause}" if sep else clause))
    return units


def _overlap(terms: set[str], text: str) -> float:
    if not terms:
        return 0.0
    return len(terms & set(words(text))) / len(terms)


class EvidenceRankingAggregator:
    name = "evidence-ranking"

    def __init__(self, spec: AggregatorSpec, embedder: Embedder) -> None:
        self.lexical_weight = spec.lexical_weight
        self.embedder = embedder

    def answer(self, query: Query, reports: list[ExpertReport]) -> Verdict:
        units = evidence_units(reports)
        preface = ("Evidence-ranking fallback, not an LRM: no reasoning model is configured, so "
                   "the answer is the one best supported by the expert reports, scored by "
                   f"embedding similarity ({self.embedder.model_id}) plus word and number overlap.")
        if not units:
            return Verdict("unknown", None, preface + " No expert report was available, so there "
                           "is no evidence to answer from.")
        unit_vecs = self.embedder.encode([u.text for u in units])
        if query.options:
            return self._choose_option(query, units, unit_vecs, preface)
        q = self.embedder.encode([query.question])[0]
        terms = content_words(query.question)
        scores = unit_vecs @ q + self.lexical_weight * np.array(
            [_overlap(terms, u.text) for u in units])
        best = int(np.argmax(scores))
        u = units[best]
        return Verdict(u.text, None, f"{preface} The most relevant evidence (score "
                       f"{scores[best]:.2f}) is from {u.expert} [{u.skill}]: \"{u.text}\".")

    def _choose_option(self, query: Query, units: list[Evidence], unit_vecs: np.ndarray,
                       preface: str) -> Verdict:
        hyps = self.embedder.encode([f"{query.question} {opt}" for opt in query.options])
        sem = hyps @ unit_vecs.T  # (options, units)
        lex = np.array([[_overlap(content_words(opt), u.text) for u in units]
                        for opt in query.options])
        scores = sem + self.lexical_weight * lex
        best_unit = scores.argmax(axis=1)
        option_scores = scores.max(axis=1)
        order = np.argsort(-option_scores)
        chosen = int(order[0])
        lines = [preface]
        for rank, i in enumerate(order[:3]):
            u = units[int(best_unit[i])]
            label = "Chosen" if rank == 0 else "Runner-up" if rank == 1 else "Then"
            lines.append(f"{label}: ({LETTERS[i]}) {query.options[i]} scored "
                         f"{option_scores[i]:.2f}, best supported by {u.expert} [{u.skill}]: "
                         f"\"{u.text}\".")
        if len(order) > 1:
            gap = float(option_scores[order[0]] - option_scores[order[1]])
            lines.append(f"Margin over the runner-up: {gap:.2f} "
                         f"({'clear' if gap > 0.15 else 'narrow'}).")
        return Verdict(query.options[chosen], chosen, " ".join(lines))


def build_answer(query: Query, selection: Selection, reports: list[ExpertReport],
                 missing: list[MissingExpert], verdict: Verdict, aggregator: str,
                 timings: dict[str, float]) -> Answer:
    notes = [f"no configured expert reads {m} input" for m in selection.uncovered]
    return Answer(answer=verdict.answer, option_index=verdict.option_index,
                  reasoning=verdict.reasoning, selected=selection.experts, reports=reports,
                  missing=missing, timings=timings, request_id=query.request_id,
                  aggregator=aggregator, router=selection.router, notes=notes)
