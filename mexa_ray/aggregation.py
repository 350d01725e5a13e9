"""Turning expert reports into an answer.

The LRM aggregator is MEXA's: the reports enter the reasoning model's prompt through one template
per skill, the model reasons, and the option letter is extracted from its answer. The
evidence-ranking aggregator is the fallback when no LRM is configured (the embedded default) or
the LRM fails: it scores each option, or for open questions each report line, against the
question by embedding similarity plus exact word and number overlap, and says plainly that it is
not an LRM.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mexa_ray.config import AggregatorSpec, AppConfig
from mexa_ray.embedding import Embedder
from mexa_ray.llm import Generation, Generator, build_generator, first_line
from mexa_ray.prompts import LETTERS, aggregator_messages, answer_schema, extract_option
from mexa_ray.text_utils import content_words, words
from mexa_ray.types import Answer, ExpertReport, MissingExpert, Query, Selection

#: one item to answer: the query, its experts' reports, and the experts that failed
AggregateCall = tuple[Query, list[ExpertReport], list[MissingExpert]]


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
    notes: list[str] = field(default_factory=list)


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

    def answer(self, query: Query, reports: list[ExpertReport],
               missing: list[MissingExpert] | None = None) -> Verdict:
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

    def answer_batch(self, calls: list[AggregateCall]) -> list[Verdict]:
        """Answers for many items; every text they need is embedded in one forward pass."""
        texts = []
        for query, reports, _ in calls:
            texts += [u.text for u in evidence_units(reports)]
            texts += ([f"{query.question} {opt}" for opt in query.options] if query.options
                      else [query.question])
        self.embedder.encode(texts)  # remembered: the answers below reuse the vectors
        return [self.answer(query, reports, missing) for query, reports, missing in calls]

    def check_health(self) -> None:
        """No model of its own beyond the embedder, which runs on CPU."""

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


class LRMAggregator:
    """MEXA's aggregation on a (large) reasoning model; evidence ranking if the model fails."""

    def __init__(self, generator: Generator, fallback: EvidenceRankingAggregator,
                 cross_check: bool = False, constrained: bool = False) -> None:
        self.generator = generator
        self.fallback = fallback
        self.cross_check = cross_check
        self.constrained = constrained
        self.name = f"lrm:{generator.label}"

    def check_health(self) -> None:
        self.generator.check_health()

    def answer(self, query: Query, reports: list[ExpertReport],
               missing: list[MissingExpert] | None = None) -> Verdict:
        return self.answer_batch([(query, reports, missing or [])])[0]

    def answer_batch(self, calls: list[AggregateCall]) -> list[Verdict]:
        """Answers for many items in one batched generation (how the bulk job feeds the LRM)."""
        conversations = [aggregator_messages(q, reports, missing) for q, reports, missing in calls]
        schemas = ([answer_schema(q.options) if q.options else None for q, _, _ in calls]
                   if self.constrained else None)
        try:
            outs = self.generator.generate(conversations, schemas)
        except Exception as exc:  # the LRM is down: answer from the evidence, and say so
            verdicts = self.fallback.answer_batch(calls)
            for verdict in verdicts:
                verdict.notes.append(f"the LRM {self.generator.label} failed "
                                     f"({type(exc).__name__}: {first_line(str(exc))}); the "
                                     "evidence-ranking fallback answered")
            return verdicts
        verdicts = [self._verdict(query, out) for (query, _, _), out in zip(calls, outs)]
        if self.cross_check:
            self._cross_check(calls, verdicts)
        return verdicts

    def _cross_check(self, calls: list[AggregateCall], verdicts: list[Verdict]) -> None:
        """Note where the evidence ranking picks another option than the LRM. The LRM's answer
        stands; the note lets a user see when a small model went against its own evidence."""
        choice = [i for i, (query, _, _) in enumerate(calls) if query.options]
        if not choice:
            return
        checks = self.fallback.answer_batch([calls[i] for i in choice])
        for i, check in zip(choice, checks):
            lrm = verdicts[i]
            if check.option_index is not None and check.option_index != lrm.option_index:
                lrm.notes.append(f"cross-check: the evidence ranking picks "
                                 f"({LETTERS[check.option_index]}) "
                                 f"{calls[i][0].options[check.option_index]} instead")

    @staticmethod
    def _verdict(query: Query, out: Generation) -> Verdict:
        notes = [] if out.finished else [
            "the LRM stopped at max_new_tokens; the answer may be cut short"]
        # a model without a <think> part: its whole reply is the reasoning a user can read
        reasoning = out.reasoning or out.text.strip()
        if not query.options:
            return Verdict(out.text.strip(), None, reasoning, notes)
        index = extract_option(out.text, query.options)
        if index is None:
            notes.append(f"the LRM's answer names no option: {first_line(out.text) or 'empty'!r}")
            return Verdict(out.text.strip(), None, reasoning, notes)
        return Verdict(query.options[index], index, reasoning, notes)


def build_aggregator(config: AppConfig,
                     embedder: Embedder) -> LRMAggregator | EvidenceRankingAggregator:
    """The aggregator the config asks for; an LRM loads here, once per replica."""
    fallback = EvidenceRankingAggregator(config.aggregator, embedder)
    spec = config.aggregator
    if spec.kind == "lrm" and spec.llm is not None:
        return LRMAggregator(build_generator(spec.llm, "aggregator.llm"), fallback,
                             spec.cross_check, spec.constrained)
    return fallback


def build_answer(query: Query, selection: Selection, reports: list[ExpertReport],
                 missing: list[MissingExpert], verdict: Verdict, aggregator: str,
                 timings: dict[str, float]) -> Answer:
    notes = [f"no configured expert reads {m} input" for m in selection.uncovered]
    notes += selection.notes + verdict.notes
    return Answer(answer=verdict.answer, option_index=verdict.option_index,
                  reasoning=verdict.reasoning, selected=selection.experts, reports=reports,
                  missing=missing, timings=timings, request_id=query.request_id,
                  aggregator=aggregator, router=selection.router, notes=notes)
