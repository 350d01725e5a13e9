"""Scoring answer options against expert reports, the same whatever the options' order.

A small LLM asked to pick an option follows option position more than its reports (measured on
the quality suite: the constrained 135M aggregator wrote "(B)" for most items). This scorer reads
the reports instead. Each report is cut into units at several sizes (the whole report, each line,
each clause, each "key value" pair with its line's head), and every option is scored by the best
unit that supports it:

    support(option, unit) = coverage(option's discriminative terms in the unit)
                            * (base + relevance(unit to the question))

Terms are normalised first (case, stems, British and American spelling, number words and
numerals, "maximum"/"highest"/"max"), numbers match within the precision a report prints them at,
and a term every option shares carries no weight, so "red circle" and "blue circle" are told
apart by colour alone. Embedding similarity adds a small term that decides when no option is
named by any unit. Yes/no questions are claims with a polarity (`claims`): stated, stated as
absent, contradicted or not mentioned. Nothing depends on option order or position.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import cast

import numpy as np

from mexa_ray.experts.text_utils import UNITS, is_yes_no_question, term, terms
from mexa_ray.reasoning.claims import (
    Claim,
    ClaimCheck,
    check_claim,
    parse_claim,
)
from mexa_ray.reasoning.lexicon import compounds
from mexa_ray.types import ExpertReport

#: words that name the medium, not what is asked ("... in the picture?"): no relevance
MEDIUM = frozenset(
    """
picture image video clip recording audio file input frame see visible appear appears contain
contains containing depict depicts depicted present shown
""".split()
)
#: words that name a kind of answer ("what shape", "which object"): they point at the report line
#: about that kind, but a yes/no claim is not about them ("Is the shape red?" claims red)
CATEGORY = frozenset(
    """
shape object thing item kind type color column data dataset option options answer statement
sentence question questions value
""".split()
)

YES, NO = "yes", "no"
BASE_UNITS = frozenset(base for base, _ in UNITS.values())


def _digits(x: float) -> int:
    """Significant digits a printed number carries ("3.142" -> 4)."""
    text = f"{x:.10g}".lstrip("-").replace(".", "").lstrip("0")
    return max(1, len(text))


def numbers_match(a: float, b: float) -> bool:
    """Equal as printed: 3.14159 in an option meets 3.142 in a report (4 significant digits)."""
    if a == b:
        return True
    if a == 0 or b == 0 or (a > 0) != (b > 0):
        return False
    digits = min(_digits(a), _digits(b), 6)
    scale = 10 ** (math.floor(math.log10(max(abs(a), abs(b)))) - digits + 1)
    return abs(a - b) <= 0.51 * scale


@dataclass
class Unit:
    """A piece of one report that can support an option on its own."""

    expert: str
    skill: str
    text: str
    terms: list[str | float] = field(default_factory=list)
    numbers: list[float] = field(default_factory=list)
    words: set[str] = field(default_factory=set)
    bigrams: set[tuple] = field(default_factory=set)
    #: terms of the line's head ("Column 'age' (number)"), which say what the unit is about
    head_terms: list[str | float] = field(default_factory=list)
    #: a whole report joined into one unit: it has no head of its own
    whole: bool = False
    #: states one thing (a clause, or a line of one clause): what a yes/no claim is checked on,
    #: so that "a red triangle; a blue square" does not state "a blue triangle"
    atomic: bool = True
    #: place in a list ("white 60%, red 30%" -> 0, 1): reports list the most salient first
    rank: int = 0
    #: terms said only in parentheses: explanations and legends ("0 pure tone, 1 white
    #: noise"), not what the line asserts
    aside: set = field(default_factory=set)
    #: which line of its report it comes from (-1: the whole report)
    line: int = -1
    #: which report it comes from (its place in the list the units were made of)
    report: int = 0
    #: its numbers with the base unit each carries ("height 0.92 m" -> (0.92, "m"))
    quantities: list[tuple[float, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        head, sep, _ = self.text.partition(": ")
        self.head_terms = terms(head) if sep and len(head) <= 80 and not self.whole else []
        self.terms = terms(self.text)
        plain = terms(re.sub(r"\([^)]*\)", " ", self.text))
        self.aside = set(self.terms) - set(plain)
        self.numbers = [t for t in self.terms if isinstance(t, float)]
        self.quantities = quantities_of(self.terms)
        self.words = {t for t in self.terms if isinstance(t, str)}
        self.bigrams = set(zip(self.terms, self.terms[1:]))

    def has(self, term: str | float) -> bool:
        if isinstance(term, float):
            return any(numbers_match(term, n) for n in self.numbers)
        if " " in term:  # a compound ("sea lion"): one thing, named whole or not at all
            return term in compounds(self.text)
        return term in self.words


def option_terms(option: str) -> list[str | float]:
    """An option's terms, with each compound the lexicon knows kept whole ("sea lion" is one
    term, so it is not met by a report of lions), the rest as `terms` reads them."""
    found = compounds(option)
    if not found:
        return terms(option) or [option.lower()]
    rest = option.lower()
    for name in found:
        rest = re.sub(r"\b" + r"\s+".join(map(re.escape, name.split())) + r"\w*", " ", rest)
    return [*found, *terms(rest)]


def quantities_of(ts: list[str | float]) -> list[tuple[float, str | None]]:
    """Each number of a term list with the base unit that follows it, if one does."""
    return [
        (t, nxt if isinstance(nxt, str) and nxt in BASE_UNITS else None)
        for t, nxt in zip(ts, [*ts[1:], None])
        if isinstance(t, float)
    ]


def option_quantities(question: str, options: list[str]) -> list[tuple[float, str | None]] | None:
    """The options as quantities when every one is a number, with a unit or without; bare
    numbers take the unit the question asks in ("in centimetres": 120 is 1.2 m)."""
    asked = [UNITS[w] for w in re.findall(r"[a-z]+", question.lower()) if len(w) > 2 and w in UNITS]
    out: list[tuple[float, str | None]] = []
    for option in options:
        ts = terms(option)
        if len(ts) == 1 and isinstance(ts[0], float):
            value = ts[0]
            out.append((value * asked[0][1], asked[0][0]) if asked else (value, None))
        elif len(ts) == 2 and isinstance(ts[0], float) and ts[1] in BASE_UNITS:
            out.append((ts[0], str(ts[1])))
        else:
            return None
    return out


def closeness(a: float, b: float) -> float:
    """1 for equal quantities, falling to 0 at a factor of two apart (or opposite signs)."""
    if a == b:
        return 1.0
    if a <= 0 or b <= 0:
        return 0.0
    return max(0.0, 1.0 - abs(math.log(a / b)) / math.log(2.0))


def split_outside(text: str, sep: str) -> list[str]:
    """`text` split at `sep`, except inside parentheses ("0 (0 pure tone, 1 noise), 2")."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        depth += ch == "("
        depth -= ch == ")" and depth > 0
        if depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i = i + len(sep)
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _clauses(line: str) -> tuple[str, list[str]]:
    """(head, clauses) of one report line: "Column 'x' (number): min 1, max 9" has the head
    "Column 'x' (number)" and the clauses "min 1" and "max 9"."""
    head, sep, body = line.partition(": ")
    if not sep or len(head) > 80:
        head, body = "", line
    parts = [p.strip().rstrip(".") for p in split_outside(body, "; ")]
    return head, [p for p in parts if p]


def units_of(reports: list[ExpertReport]) -> list[Unit]:
    """Every report as units: whole (for sentence options such as transcripts), lines, clauses,
    and comma-separated items, each keeping its line's head. Only the smallest pieces (an item,
    or a clause or line that is not split further) are atomic: evidence of one statement."""
    units: list[Unit] = []
    for index, r in enumerate(reports):
        lines = [ln.strip().lstrip("-* ").strip() for ln in r.text.splitlines()]
        lines = [ln for ln in lines if ln]
        if len(lines) > 1:
            units.append(
                Unit(r.expert, r.skill, " ".join(lines), whole=True, atomic=False, report=index)
            )
        for number, line in enumerate(lines):
            head, clauses = _clauses(line)
            leaves: list[tuple[str, int]] = []
            split: list[str] = []
            for clause in clauses:
                items = [p.strip() for p in split_outside(clause, ", ")]
                if len(items) > 1 and all(len(p.split()) <= 12 for p in items):
                    split.append(clause)
                    leaves += [(p, rank) for rank, p in enumerate(items)]
                else:
                    leaves.append((clause, 0))
            whole_line = len(leaves) == 1
            units.append(
                Unit(r.expert, r.skill, line, atomic=whole_line, line=number, report=index)
            )
            if whole_line:
                continue
            pieces = [(c, 0, False) for c in split if len(clauses) > 1]
            pieces += [(text, rank, True) for text, rank in leaves]
            for text, rank, atomic in dict.fromkeys(pieces):
                units.append(
                    Unit(
                        r.expert,
                        r.skill,
                        f"{head}: {text}" if head else text,
                        atomic=atomic,
                        rank=rank,
                        line=number,
                        report=index,
                    )
                )
    return units


def _weights(option_terms: list[list[str | float]]) -> list[dict[str | float, float]]:
    """Per option, each term's weight: 1 minus the share of the other options that have it too,
    so a term that every option shares decides nothing."""
    n = len(option_terms)
    sets = [set(t) for t in option_terms]
    out = []
    for own in sets:
        w = {}
        for t in own:
            shared = sum(t in other for other in sets if other is not own)
            w[t] = 1.0 - shared / max(1, n - 1)
        if not any(w.values()):  # identical to another option: fall back to plain coverage
            w = {t: 1.0 for t in own}
        out.append(w)
    return out


def coverage(weights: dict[str | float, float], option: list[str | float], unit: Unit) -> float:
    """Weighted share of the option's terms that the unit states; for long options (sentences)
    the share of their word pairs too, so word order and phrasing count."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    # a number the option gives in a unit ("85 cm") is met only by a number in that unit,
    # not by any number of the same size ("Object 1")
    units_of_option = {t: u for t, u in quantities_of(option) if u is not None}
    covered = (
        sum(
            w * (0.5 if t in unit.aside else 1.0)
            for t, w in weights.items()
            if (
                any(numbers_match(t, n) for n, nu in unit.quantities if nu == units_of_option[t])
                if t in units_of_option
                else unit.has(t)
            )
        )
        / total
    )
    pairs = set(zip(option, option[1:]))
    if len(option) >= 4 and pairs:
        covered = 0.5 * covered + 0.5 * len(pairs & unit.bigrams) / len(pairs)
    return covered


@lru_cache(maxsize=2)
def _term_set(words: frozenset[str]) -> frozenset[str | float]:
    return frozenset(term(w) for w in words)


def asked_terms(question: list[str | float]) -> list[str | float]:
    """The question's terms that say what is asked, without the words naming the medium."""
    medium = _term_set(MEDIUM)
    return list(dict.fromkeys(t for t in question if t not in medium))


def claim_terms(question: list[str | float]) -> list[str | float]:
    """What a yes/no question claims: its terms without medium and answer-kind words."""
    drop = _term_set(MEDIUM) | _term_set(CATEGORY)
    return list(dict.fromkeys(t for t in question if t not in drop))


#: how much each word of a unit's head that the question does not ask about counts against it
#: ("Background colour: white" fits "What colour is the envelope?" less than "Object colours")
HEAD_PENALTY = 0.5


def relevance(wanted: list[str | float], unit: Unit) -> float:
    """How much the unit is about what the question asks (`wanted`: its `asked_terms`): the
    share of those terms the unit states, discounted by the words its head adds that the
    question does not mention."""
    if not wanted:
        return 0.0
    neutral = _term_set(MEDIUM) | _term_set(CATEGORY)
    extra = [
        t for t in unit.head_terms if t not in wanted and t not in neutral and isinstance(t, str)
    ]
    return sum(unit.has(t) for t in wanted) / (len(wanted) + HEAD_PENALTY * len(set(extra)))


@dataclass
class OptionScore:
    index: int
    score: float
    unit: Unit | None
    lexical: float
    semantic: float


@dataclass
class Scored:
    """The scorer's view of one multiple-choice item."""

    ranked: list[OptionScore]
    #: the best option's lead over the runner-up, in [0, 1]
    margin: float
    #: how sure the scorer is, in [0, 1]: high when a unit names the option and little else does
    confidence: float
    #: units that state a term of a losing option, for the reasoning's "against" part
    against: list[tuple[int, Unit]]
    #: a yes/no question's claim and what the reports say of it
    claim: Claim | None = None
    check: ClaimCheck | None = None


def is_yes_no(options: list[str]) -> bool:
    return sorted(o.strip().lower().rstrip(".") for o in options) == [NO, YES]


class OptionScorer:
    """Scores options against report units; `embed` (texts -> unit vectors) is optional."""

    #: a unit that names the option but not the question still counts this much
    base = 0.5
    #: weight of embedding similarity next to the lexical support
    semantic_weight = 0.25
    #: how much less the n-th item of a list counts: 1 / (1 + discount * n)
    rank_discount = 0.1
    #: lexical support this close between the two best options is a tie for embeddings to break
    #: (or, for options that are quantities, the nearest stated quantity)
    tie = 0.05
    #: a nearest quantity's support next to an exact match's
    near_weight = 0.8

    def __init__(self, embed=None) -> None:
        self.embed = embed

    def score(self, question: str, options: list[str], units: list[Unit]) -> Scored:
        if is_yes_no(options) and is_yes_no_question(question):
            return self._claim(question, options, units)
        q_terms = terms(question)
        opt_terms = [option_terms(o) for o in options]
        weights = _weights(opt_terms)
        # a unit that holds many statements (a whole report, a line of several clauses) can
        # support a long option such as a sentence, but is not evidence that it is relevant
        wanted = asked_terms(q_terms)
        rel = np.array([relevance(wanted, u) if u.atomic else 0.0 for u in units])
        salience = np.array([1.0 / (1.0 + self.rank_discount * u.rank) for u in units])
        lex = np.array(
            [[coverage(weights[i], opt_terms[i], u) for u in units] for i in range(len(options))]
        )
        support = lex * ((self.base + rel) * salience)[None, :]
        # a unit of several statements is there for sentence-long options (a transcript split
        # over lines); a short option must be stated by one statement to count in full
        short = np.array([len(t) < 4 for t in opt_terms])
        several = np.array([not u.atomic for u in units], dtype=bool)
        support[np.ix_(short, several)] *= 0.5
        best = np.sort(support.max(axis=1))[::-1] if units else np.zeros(1)
        # embeddings only where the reports' words leave the leaders tied (nearly always no
        # option is named at all); embedding every unit was 99% of the time and changed nothing
        tied = len(best) < 2 or best[0] - best[1] < self.tie
        quantities = option_quantities(question, options) if tied else None
        if quantities is not None and units:
            # no option's number is stated: the nearest stated quantity decides ("1.18 m" is
            # nearer "1.2 m" than "2 m"), weighed by how much its unit is about the question
            near = self._nearest(quantities, units, rel)
            if near.max() > 0:
                support = self.near_weight * near
                lex = near
                tied = False
        sem = (
            self._semantic(question, options, units)
            if tied
            else np.zeros((len(options), len(units)))
        )
        ranked = []
        for i in range(len(options)):
            j = int(np.argmax(support[i] + 1e-6 * sem[i])) if units else -1
            s_best = float(sem[i].max()) if units else 0.0
            ranked.append(
                OptionScore(
                    i,
                    float(support[i, j]) + self.semantic_weight * s_best,
                    units[j]
                    if j >= 0 and support[i, j] > 0
                    else (units[int(np.argmax(sem[i]))] if units else None),
                    float(lex[i, j]) if j >= 0 else 0.0,
                    s_best,
                )
            )
        ranked.sort(key=lambda s: (-s.score, options[s.index].lower()))
        top = ranked[0]
        second = ranked[1].score if len(ranked) > 1 else 0.0
        margin = max(0.0, top.score - second)
        confidence = float(min(1.0, top.lexical) * (1 - math.exp(-4 * margin)))
        against = [(s.index, s.unit) for s in ranked[1:] if s.unit is not None and s.lexical > 0]
        return Scored(ranked, margin, confidence, against)

    def _nearest(
        self, quantities: list[tuple[float, str | None]], units: list[Unit], rel: np.ndarray
    ) -> np.ndarray:
        """(options, units): how near each unit's closest number in the option's unit comes
        to the option, weighted by the unit's relevance to the question."""
        near = np.zeros((len(quantities), len(units)))
        for j, u in enumerate(units):
            if not u.atomic:
                continue
            for i, (value, unit) in enumerate(quantities):
                c = max(
                    (closeness(value, n) for n, nu in u.quantities if unit is None or nu == unit),
                    default=0.0,
                )
                near[i, j] = c * (self.base + rel[j])
        return near

    def _semantic(self, question: str, options: list[str], units: list[Unit]) -> np.ndarray:
        """(options, units) cosine similarity of "question option" to each unit, minus the
        option's mean similarity over the units (its prior: a generic option that resembles
        every line gains nothing)."""
        if self.embed is None or not units:
            return np.zeros((len(options), len(units)))
        hyp = self.embed([f"{question} {o}" for o in options])
        sims = hyp @ self.embed([u.text for u in units]).T
        return sims - sims.mean(axis=1, keepdims=True)

    def _claim(self, question: str, options: list[str], units: list[Unit]) -> Scored:
        """Yes/no: what the reports say of the question's claim, and its polarity."""
        claim = parse_claim(question, claim_terms)
        check = check_claim(claim, units)
        lowered = [o.strip().lower().rstrip(".") for o in options]
        chosen = lowered.index(YES if check.answer_yes(claim) else NO)
        lead = check.confidence / 2
        ranked = [
            # the statement is one of `units`
            OptionScore(chosen, 0.5 + lead, cast(Unit | None, check.statement), check.share, 0.0),
            OptionScore(1 - chosen, 0.5 - lead, None, 0.0, 0.0),
        ]
        return Scored(ranked, 2 * lead, check.confidence, [], claim, check)
