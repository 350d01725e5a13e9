"""Yes/no questions as claims with a polarity, checked against report statements.

"Is there no red circle?", "Is the heart not blue?" and "Are there more than three objects?"
are one claim each (what must be stated: "red circle"), a polarity (negated: the answer is yes
when the claim does NOT hold) and, for counts and sizes, a number to compare a reported one with.
The check has four outcomes, and the answer says which one it rests on:

- stated: one statement of a report holds every term of the claim (for a comparison: a number
  reported next to the claim's words, or the count of statements naming them, meets it);
- stated as absent: a statement denies it ("no red circle");
- contradicted: a statement names part of the claim (the heart) without the rest (blue): the
  reports describe the thing and say otherwise;
- not mentioned: nothing in the reports bears on it. The answer then takes the claim as not
  holding (the experts describe what is there) with a low confidence, and says so.
"""

from __future__ import annotations

import math
import operator
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from mexa_ray.experts.text_utils import comparisons, term, terms

#: words that negate what a question asks ("Is there no ...", "Does it not ...")
NEGATION_WORDS = frozenset({"not", "no", "none", "never", "nothing", "neither", "nor", "without"})
#: how many terms before the claim's words a reported number may stand ("3 red circles")
NUMBER_REACH = 3

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
}

#: the check's outcomes
STATED = "stated"
ABSENT = "stated as absent"
CONTRADICTED = "contradicted"
NOT_MENTIONED = "not mentioned"
#: how many words before the claim's words a negation may stand ("no large red circle")
NEGATION_REACH = 3


class Statement(Protocol):
    """What a claim is checked on: one statement of a report (evidence.Unit)."""

    text: str
    expert: str
    skill: str
    terms: list[str | float]
    atomic: bool
    #: which line of its report it comes from
    line: int

    def has(self, term: str | float) -> bool: ...


@dataclass
class Claim:
    """What a yes/no question claims."""

    #: the terms one statement must hold (normalised, without the negation and comparison)
    terms: list[str | float]
    #: the question asks whether the claim does NOT hold
    negated: bool = False
    #: (operator, number, upper bound for "between"): a count or quantity compared with a number
    compare: tuple[str, float, float | None] | None = None

    def describe(self) -> str:
        said = " ".join(str(t) for t in self.terms if isinstance(t, str)) or "nothing"
        if self.compare:
            op, number, upper = self.compare
            said += f" {op} {number:g}" + (f" and {upper:g}" if upper is not None else "")
        return f"not ({said})" if self.negated else said

    def holds_for(self, value: float) -> bool:
        if self.compare is None:
            raise ValueError("the claim compares no number")
        op, number, upper = self.compare
        if op == "between":
            return number <= value <= (upper if upper is not None else number)
        return _OPS[op](value, number)


def parse_claim(question: str, drop: Callable[[list[str | float]], list[str | float]]) -> Claim:
    """The claim, polarity and comparison of a yes/no question; `drop` removes the question's
    words that say nothing about the claim (the medium, the kind of answer). "Are there three
    circles?" compares a count: a whole number right before a word of the claim is one."""
    text = question.lower()
    text = re.sub(r"\bcan't\b|\bcannot\b", "can not", text)
    text = re.sub(r"\bwon't\b", "will not", text)
    text = re.sub(r"n't\b", " not", text)
    compare: tuple[str, float, float | None] | None = None
    found = [c for c in comparisons(text) if not math.isnan(c[1])]
    if found:
        op, number, upper, phrase, start, end = found[0]
        compare = (op, number, upper)
        # "no more than 3" is one comparison: its "no" is not the question's negation
        text = f"{text[:start]} {text[end:]}"
    tokens = re.findall(r"[a-z]+|[^a-z]+", text)
    negations = sum(t in NEGATION_WORDS for t in tokens)
    kept = drop(terms("".join(t if t not in NEGATION_WORDS else " " for t in tokens)))
    if compare is None:
        for i, t in enumerate(kept[:-1]):
            if isinstance(t, float) and t.is_integer() and t >= 0 and isinstance(kept[i + 1], str):
                compare = ("==", t, None)
                kept = kept[:i] + kept[i + 1 :]
                break
    return Claim(kept, negated=negations % 2 == 1, compare=compare)


@dataclass
class ClaimCheck:
    """What the reports say about a claim."""

    outcome: str
    #: the claim (without its polarity) holds by the reports
    holds: bool
    #: how far the reports go in saying so, in [0, 1]
    confidence: float
    #: the statement the outcome rests on, if one does
    statement: Statement | None = None
    #: share of the claim's words that statement holds
    share: float = 0.0
    #: the number compared with (a reported number, or a count of statements)
    value: float | None = None
    #: the value is a count of statements, not a number a report states
    counted: bool = False

    def answer_yes(self, claim: Claim) -> bool:
        return self.holds != claim.negated


def _denies(statement: Statement, words: Sequence[str]) -> bool:
    """The statement negates these words: a negation stands just before one of them ("no red
    circle", "not blue"), not anywhere in it ("a red circle, not moving")."""
    tokens = re.findall(r"[a-z]+", statement.text.lower())
    wanted = set(words)
    return any(
        token in NEGATION_WORDS
        and any(term(t) in wanted for t in tokens[i + 1 : i + 1 + NEGATION_REACH])
        for i, token in enumerate(tokens)
    )


def _reported_number(claim_words: list[str], statement: Statement) -> float | None:
    """A count the statement gives for the claim's words: a whole number right before one of
    them ("3 red circles") or right after the last ("circles: 3"); not a share ("circle 45%")."""
    if "%" in statement.text:
        return None
    ts = statement.terms
    for i, t in enumerate(ts):
        if not isinstance(t, float) or t < 0:
            continue
        after = ts[i + 1 : i + 1 + NUMBER_REACH]
        if any(w in after for w in claim_words) or (
            claim_words and i > 0 and ts[i - 1] == claim_words[-1]
        ):
            return t
    return None


def check_claim(
    claim: Claim, statements: Sequence[Statement], threshold: float = 0.99
) -> ClaimCheck:
    """The outcome of a claim against report statements (only atomic ones say one thing)."""
    atomic = [s for s in statements if s.atomic]
    words = [t for t in claim.terms if isinstance(t, str)]
    if claim.compare is not None:
        return _check_quantity(claim, words, atomic)
    if not claim.terms:
        return ClaimCheck(NOT_MENTIONED, False, 0.0)
    best, best_share = None, 0.0
    for s in atomic:
        share = sum(s.has(t) for t in claim.terms) / len(claim.terms)
        if share > best_share:
            best, best_share = s, share
    full = [s for s in atomic if all(s.has(t) for t in claim.terms)]
    stated = [s for s in full if not _denies(s, words)]
    if stated:
        return ClaimCheck(STATED, True, 0.9, stated[0], 1.0)
    if full:
        return ClaimCheck(ABSENT, False, 0.85, full[0], 1.0)
    if best is not None and best_share >= 0.5 and len(claim.terms) > 1:
        # the thing is described, the rest of the claim is not said of it
        return ClaimCheck(CONTRADICTED, False, 0.5 + 0.3 * best_share, best, best_share)
    return ClaimCheck(NOT_MENTIONED, False, 0.3 - 0.2 * best_share, best, best_share)


def _check_quantity(claim: Claim, words: list[str], atomic: list[Statement]) -> ClaimCheck:
    """A count or size: a number stated for the claim's words, else how many statements of one
    line name them."""
    for s in atomic:
        value = _reported_number(words, s)
        if value is not None:
            holds = claim.holds_for(value)
            return ClaimCheck(STATED if holds else CONTRADICTED, holds, 0.85, s, 1.0, value)
    naming = [s for s in atomic if words and all(s.has(w) for w in words) and not _denies(s, words)]
    # the most one line of one report names: a list says each thing once, while a summary
    # line may name the main thing again, and two experts may see the same things
    per_line = Counter((s.expert, s.line) for s in naming)
    count = float(max(per_line.values(), default=0))
    holds = claim.holds_for(count)
    if not naming:
        return ClaimCheck(NOT_MENTIONED, holds, 0.3, None, 0.0, count, counted=True)
    return ClaimCheck(
        STATED if holds else CONTRADICTED, holds, 0.6, naming[0], 1.0, count, counted=True
    )
