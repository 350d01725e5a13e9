"""Turning expert reports into an answer.

The LRM aggregator is MEXA's: the reports enter the reasoning model's prompt through one template
per skill, the model reasons, and the option letter is extracted from its answer. The
evidence-ranking aggregator scores every option against the reports
(`mexa_ray.reasoning.evidence`) and says plainly that it is not an LRM. It is the embedded
default's aggregator (chosen on the quality suite: a 135M LLM followed option order, not its
reports), an LRM's verifier
(`cross_check`, `verify_confidence`) and the LRM's fallback when the model fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mexa_ray.config import AggregatorSpec, AppConfig
from mexa_ray.errors import summarise
from mexa_ray.models.embedding import Embedder
from mexa_ray.models.llm import Generation, Generator, build_generator, first_line
from mexa_ray.reasoning.claims import Claim, ClaimCheck, Statement
from mexa_ray.reasoning.evidence import OptionScorer, Unit, asked_terms, relevance, terms, units_of
from mexa_ray.reasoning.lexicon import lexicon
from mexa_ray.reasoning.prompts import LETTERS, aggregator_messages, answer_schema, extract_option
from mexa_ray.reasoning.reading import open_answer, read_answer
from mexa_ray.types import Answer, ExpertReport, MissingExpert, Query, Selection

#: one item to answer: the query, its experts' reports, and the experts that failed
AggregateCall = tuple[Query, list[ExpertReport], list[MissingExpert]]


@dataclass
class Verdict:
    answer: str
    option_index: int | None
    reasoning: str
    notes: list[str] = field(default_factory=list)
    #: how sure the evidence scorer is of a multiple-choice answer, in [0, 1]; None when no
    #: scorer looked (an LRM's own answer, an open question)
    confidence: float | None = None
    #: which aggregator decided ("evidence-ranking", "lrm:<model>"), and when (epoch seconds)
    aggregator: str = ""
    started: float = 0.0
    ended: float = 0.0


def _quote(unit: Unit | Statement) -> str:
    text = unit.text if len(unit.text) <= 160 else unit.text[:157] + "..."
    return f'{unit.expert} [{unit.skill}] reports "{text}"'


def _claim_reasoning(claim: Claim, check: ClaimCheck, label: str) -> str:
    """Why a yes/no answer: the claim, the outcome it rests on and the polarity."""
    said = claim.describe()
    where = ""
    if check.statement is not None:
        quote = _quote(check.statement)
        where = f" {quote[0].upper()}{quote[1:]}."
    if claim.compare is not None and check.value is not None:
        source = f"name it {check.value:g} times" if check.counted else f"state {check.value:g}"
        outcome = f"the reports {source}, so the comparison {'holds' if check.holds else 'fails'}"
    elif check.outcome == "stated":
        outcome = "a report states it, so it holds"
    elif check.outcome == "stated as absent":
        outcome = "a report states it is absent, so it does not hold"
    elif check.outcome == "contradicted":
        outcome = (
            f"a report describes it ({100 * check.share:.0f}% of the claim) and says otherwise, "
            "so it does not hold"
        )
    else:
        outcome = (
            "no report states or excludes it; the experts describe what they find, so it is "
            "taken as not holding, with low confidence"
        )
    flip = " The question asks whether it does NOT hold." if claim.negated else ""
    return f"The question claims: {said}; {outcome}.{where}{flip} The answer is {label}."


class EvidenceRankingAggregator:
    """Answers from the reports alone, by scoring every option against them
    (`mexa_ray.reasoning.evidence`); no option's position or order counts. It is the embedded
    default's aggregator, an LRM's verifier and the LRM's fallback."""

    name = "evidence-ranking"

    def __init__(self, spec: AggregatorSpec, embedder: Embedder) -> None:
        self.embedder = embedder
        self.scorer = OptionScorer(embedder.encode)
        self.scorer.semantic_weight = spec.semantic_weight
        self.unsure_below = spec.unsure_below
        lexicon()  # read once at load (about 0.5 s), not on the first request that needs it

    def answer(
        self, query: Query, reports: list[ExpertReport], missing: list[MissingExpert] | None = None
    ) -> Verdict:
        verdict = self._answer(query, reports)
        sure = verdict.confidence
        if sure is not None and sure < self.unsure_below and verdict.answer != "unknown":
            verdict.reasoning += (
                f" Unsure: the confidence {sure:.2f} is below {self.unsure_below:g}; the reports "
                "do not settle the question, so treat this answer as a guess."
            )
        return verdict

    def _answer(self, query: Query, reports: list[ExpertReport]) -> Verdict:
        units = units_of(reports)
        preface = (
            "Evidence ranking, not an LRM: each option was scored by how well the expert "
            "reports state it (words and numbers, normalised, weighted by relevance to the "
            f"question); embedding similarity ({self.embedder.model_id}) breaks ties."
        )
        if not units:
            return Verdict(
                "unknown",
                None,
                preface + " No expert report was available, so there "
                "is no evidence to answer from.",
                confidence=0.0,
            )
        if query.options:
            return self._choose_option(query, units, preface)
        composed = open_answer(query.question, units)
        if composed is not None:
            quote = f" {_quote(composed.evidence)}." if composed.evidence is not None else ""
            return Verdict(
                composed.answer,
                None,
                f"{preface} Composed from the reports' facts: {composed.why}.{quote}",
                confidence=composed.confidence,
            )
        q = self.embedder.encode([query.question])[0]
        vecs = self.embedder.encode([u.text for u in units])
        wanted = asked_terms(terms(query.question))
        scores = vecs @ q + np.array([relevance(wanted, u) for u in units])
        best = int(np.argmax(scores))
        u = units[best]
        return Verdict(
            u.text,
            None,
            f"{preface} The most relevant evidence (score {scores[best]:.2f}): {_quote(u)}.",
        )

    def answer_batch(self, calls: list[AggregateCall]) -> list[Verdict]:
        """Answers for many items. Embeddings are computed only for the items whose reports
        leave the options tied, so there is nothing worth batching up front."""
        return [self.answer(query, reports, missing) for query, reports, missing in calls]

    def check_health(self) -> None:
        """Its model is the embedder: a forward pass through it."""
        self.embedder.check_health()

    def _choose_option(self, query: Query, units: list[Unit], preface: str) -> Verdict:
        reading = read_answer(query.question, query.options, units)
        if reading is not None:
            chosen = reading.index
            label = f"({LETTERS[chosen]}) {query.options[chosen]}"
            quote = f" {_quote(reading.evidence)}." if reading.evidence is not None else ""
            why = f"Read from the reports' facts ({reading.kind}): {reading.why}."
            return Verdict(
                query.options[chosen],
                chosen,
                f"{preface} {why} For {label}:{quote}",
                confidence=reading.confidence,
            )
        scored = self.scorer.score(query.question, query.options, units)
        top = scored.ranked[0]
        chosen = top.index
        label = f"({LETTERS[chosen]}) {query.options[chosen]}"
        lines = [preface]
        if scored.claim is not None and scored.check is not None:
            lines.append(_claim_reasoning(scored.claim, scored.check, label))
        elif top.unit is not None and top.lexical > 0:
            lines.append(f"For {label}: {_quote(top.unit)}.")
        elif top.unit is not None:
            lines.append(
                f"No report names any option; {label} is the closest in meaning to "
                f"{_quote(top.unit)}."
            )
        for index, unit in scored.against[:2]:
            lines.append(
                f"Against it, ({LETTERS[index]}) {query.options[index]} is named where "
                f"{_quote(unit)}, which fits the question less."
            )
        if len(scored.ranked) > 1 and scored.claim is None:
            lines.append(
                f"Support {top.score:.2f} against {scored.ranked[1].score:.2f} for the "
                f"runner-up ({'clear' if scored.confidence >= 0.5 else 'narrow'} margin)."
            )
        return Verdict(
            query.options[chosen], chosen, " ".join(lines), confidence=round(scored.confidence, 3)
        )


class LRMAggregator:
    """MEXA's aggregation on a (large) reasoning model; evidence ranking if the model fails."""

    def __init__(
        self,
        generator: Generator,
        fallback: EvidenceRankingAggregator,
        cross_check: bool = False,
        constrained: bool = False,
        verify_confidence: float | None = None,
    ) -> None:
        self.generator = generator
        self.fallback = fallback
        self.verify_confidence = verify_confidence
        self.cross_check = cross_check or verify_confidence is not None
        self.constrained = constrained
        self.name = f"lrm:{generator.label}"

    def check_health(self) -> None:
        self.generator.check_health()

    def answer(
        self, query: Query, reports: list[ExpertReport], missing: list[MissingExpert] | None = None
    ) -> Verdict:
        return self.answer_batch([(query, reports, missing or [])])[0]

    def answer_batch(self, calls: list[AggregateCall]) -> list[Verdict]:
        """Answers for many items in one batched generation (how the bulk job feeds the LRM)."""
        conversations = [aggregator_messages(q, reports, missing) for q, reports, missing in calls]
        schemas = (
            [answer_schema(q.options) if q.options else None for q, _, _ in calls]
            if self.constrained
            else None
        )
        try:
            outs = self.generator.generate(conversations, schemas)
        except Exception as exc:  # noqa: BLE001 - the LRM is down: answer from the evidence, say so
            verdicts = self.fallback.answer_batch(calls)
            for verdict in verdicts:
                verdict.notes.append(
                    f"the LRM {self.generator.label} failed "
                    f"({summarise(exc)}); the "
                    "evidence-ranking fallback answered"
                )
            return verdicts
        verdicts = [self._verdict(query, out) for (query, _, _), out in zip(calls, outs)]
        if self.cross_check or self.constrained:
            self._cross_check(calls, verdicts, [not out.reasoning for out in outs])
        self._answer_cut_thinking(calls, outs, verdicts)
        return verdicts

    def _answer_cut_thinking(
        self, calls: list[AggregateCall], outs: list[Generation], verdicts: list[Verdict]
    ) -> None:
        """A reasoning model that ran out of tokens mid-thought gave no answer, whatever option
        its thinking was weighing when it stopped: the evidence ranking answers those items,
        and the LRM's partial thinking stays readable beside its reasoning."""
        cut = [i for i, out in enumerate(outs) if out.thinking_cut]
        if not cut:
            return
        for i, check in zip(cut, self.fallback.answer_batch([calls[i] for i in cut])):
            limit = getattr(getattr(self.generator, "spec", None), "max_new_tokens", None)
            check.notes.append(
                f"the LRM {self.generator.label} was still thinking when it stopped"
                + (f" at max_new_tokens={limit}" if limit else "")
                + "; no answer was taken from its unfinished thinking, the evidence ranking "
                "answered"
            )
            check.reasoning += "\nThe LRM's unfinished thinking: " + first_line(
                outs[i].reasoning, 600
            )
            verdicts[i] = check

    def _cross_check(
        self, calls: list[AggregateCall], verdicts: list[Verdict], unexplained: list[bool]
    ) -> None:
        """Score the evidence beside the LRM. Where it picks another option, the answer says so;
        with `verify_confidence` set, the evidence's pick replaces the LRM's when the scorer is
        at least that sure (a small LRM that goes against its own reports is overruled). A
        model that gave no reasoning of its own (a grammar-constrained reply is only the
        option) gets the evidence's account of the reports as its reasoning, never its JSON."""
        choice = [i for i, (query, _, _) in enumerate(calls) if query.options]
        if not choice:
            return
        checks = self.fallback.answer_batch([calls[i] for i in choice])
        for i, check in zip(choice, checks):
            lrm = verdicts[i]
            if unexplained[i]:
                said = (
                    f"({LETTERS[lrm.option_index]}) {calls[i][0].options[lrm.option_index]}"
                    if lrm.option_index is not None
                    else repr(first_line(lrm.answer, 80))
                )
                lrm.reasoning = (
                    f"The LRM {self.generator.label} answered {said} and gave no "
                    "reasoning of its own. What the reports say: " + check.reasoning
                )
            if (
                not self.cross_check
                or check.option_index is None
                or check.option_index == lrm.option_index
            ):
                continue
            options = calls[i][0].options
            picked = f"({LETTERS[check.option_index]}) {options[check.option_index]}"
            sure = check.confidence or 0.0
            if self.verify_confidence is not None and sure >= self.verify_confidence:
                verdicts[i] = Verdict(
                    check.answer,
                    check.option_index,
                    check.reasoning,
                    lrm.notes
                    + [
                        f"verifier: the evidence ranking picks "
                        f"{picked} with confidence {sure:.2f} and "
                        "overrules the LRM's "
                        f"{first_line(lrm.answer, 80)!r}"
                    ],
                    confidence=check.confidence,
                )
            else:
                lrm.notes.append(
                    f"cross-check: the evidence ranking picks {picked} instead "
                    f"(confidence {sure:.2f})"
                )

    @staticmethod
    def _verdict(query: Query, out: Generation) -> Verdict:
        notes = (
            []
            if out.finished
            else ["the LRM stopped at max_new_tokens; the answer may be cut short"]
        )
        # a model without a <think> part: its whole reply is the reasoning a user can read
        reasoning = out.reasoning or out.text.strip()
        if not query.options:
            return Verdict(out.text.strip(), None, reasoning, notes)
        index = extract_option(out.text, query.options)
        if index is None:
            notes.append(f"the LRM's answer names no option: {first_line(out.text) or 'empty'!r}")
            return Verdict(out.text.strip(), None, reasoning, notes)
        return Verdict(query.options[index], index, reasoning, notes)


def build_aggregator(
    config: AppConfig, embedder: Embedder
) -> LRMAggregator | EvidenceRankingAggregator:
    """The aggregator the config asks for; an LRM loads here, once per replica."""
    fallback = EvidenceRankingAggregator(config.aggregator, embedder)
    spec = config.aggregator
    if spec.kind == "lrm" and spec.llm is not None:
        return LRMAggregator(
            build_generator(spec.llm, "aggregator.llm"),
            fallback,
            spec.cross_check,
            spec.constrained,
            spec.verify_confidence,
        )
    return fallback


def build_answer(
    query: Query,
    selection: Selection,
    reports: list[ExpertReport],
    missing: list[MissingExpert],
    verdict: Verdict,
    timings: dict[str, float],
    timeline: list[dict] | None = None,
) -> Answer:
    """The one place an Answer is made: the orchestrator's, from its routing, fan-out and the
    aggregator's verdict (the bulk job writes the same fields as row columns)."""
    notes = selection.answer_notes() + verdict.notes
    return Answer(
        answer=verdict.answer,
        option_index=verdict.option_index,
        reasoning=verdict.reasoning,
        confidence=verdict.confidence,
        selected=selection.experts,
        reports=reports,
        missing=missing,
        timings=timings,
        timeline=timeline or [],
        request_id=query.request_id,
        aggregator=verdict.aggregator,
        router=selection.router,
        notes=notes,
    )
