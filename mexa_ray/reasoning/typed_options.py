"""Answer options read as what they are: a range of a quantity, an axis, a spoken token, a thing.

"less than 0.5 m", "0.5 to 1 m", "between 3 and 5", "2 m or more" are intervals (in base units,
so "50 cm" and "0.5 m" are one bound); "x", "the y axis", "height (z)" are axes; a letter, a digit
or a short word is a token that a transcript may say in other letters ("You." says U); a name
the lexicon knows is a thing ("sea lion"). The question says which reading counts: its measure
("How tall": a height), its superlative ("longest"), whether it asks what is said.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mexa_ray.experts.text_utils import (
    COMPARISON_SUFFIXES,
    COMPARISON_WORDS,
    NUMBER_WORDS,
    UNITS,
    comparisons,
    term,
    terms,
)
from mexa_ray.reasoning.facts import SUPERLATIVE_ENDS, SUPERLATIVE_MEASURES, axis_of

_NUM = r"-?\d+(?:,\d{3})*(?:\.\d+)?"
_UNIT_WORD = r"(?:\s*(?P<{name}>%|[a-zA-Z]+))?"
_SPAN = re.compile(
    rf"^\s*(?:from\s+|between\s+)?(?P<a>{_NUM}){_UNIT_WORD.format(name='ua')}\s*"
    rf"(?:to|-|–|and|through)\s*(?P<b>{_NUM}){_UNIT_WORD.format(name='ub')}\s*$"
)
#: how a question asks for a measure ("How tall": height), for the quantity facts to meet
HOW_MEASURES: dict[str, tuple[str, ...]] = {
    "tall": ("height",), "high": ("height",), "height": ("height",),
    "wide": ("width",), "width": ("width",), "deep": ("depth",), "depth": ("depth",),
    "long": ("length", "duration"), "length": ("length", "duration"),
    "duration": ("duration",), "last": ("duration",), "lasts": ("duration",),
    "heavy": ("weight",), "weight": ("weight",), "old": ("age",), "age": ("age",),
    "big": ("size", "volume"), "large": ("size", "volume"), "far": ("distance",),
}  # fmt: skip
#: words that ask what is said aloud
SPOKEN_WORDS = frozenset(
    "say says said saying speak speaks spoke spoken speaker speaking pronounce pronounced "
    "pronounces hear heard utter uttered voice call called announce announced read aloud".split()
)


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float
    lo_closed: bool = True
    hi_closed: bool = True
    #: the base unit ("m", "s", "kg") both bounds are in, or None for bare numbers
    unit: str | None = None

    def contains(self, x: float) -> bool:
        above = x >= self.lo if self.lo_closed else x > self.lo
        below = x <= self.hi if self.hi_closed else x < self.hi
        return above and below

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if math.isinf(self.lo):
            return f"{'at most' if self.hi_closed else 'below'} {self.hi:g}{unit}"
        if math.isinf(self.hi):
            return f"{'at least' if self.lo_closed else 'above'} {self.lo:g}{unit}"
        return f"{self.lo:g} to {self.hi:g}{unit}"


def _number(text: str) -> float:
    text = text.replace(",", "")
    return float(NUMBER_WORDS[text]) if text in NUMBER_WORDS else float(text)


def _base(value: float, unit: str | None) -> tuple[float, str | None] | None:
    """A value in its unit's base unit; None for a word that is not a unit."""
    if unit is None:
        return value, None
    unit = unit.lower()
    if unit == "%":
        return value, "%"
    if unit in UNITS:
        base, factor = UNITS[unit]
        return value * factor, base
    return None


def asked_unit(question: str) -> tuple[str, float] | None:
    """The unit a question asks in ("in centimetres"), as (base unit, factor)."""
    for word in re.findall(r"[a-z]+", question.lower()):
        if len(word) > 2 and word in UNITS:
            return UNITS[word]
    return None


def interval(option: str, question: str = "") -> Interval | None:
    """The range an option states, in base units; None when it is not a range."""
    text = option.strip().lower().rstrip(".")
    default = asked_unit(question)

    def scaled(value: float, unit: str | None) -> tuple[float, str | None] | None:
        if unit is None and default is not None:
            return value * default[1], default[0]
        return _base(value, unit)

    span = _SPAN.match(text)
    if span:
        unit = span.group("ub") or span.group("ua")
        a = scaled(_number(span.group("a")), span.group("ua") or unit)
        b = scaled(_number(span.group("b")), unit)
        if a is None or b is None or a[1] != b[1]:
            return None
        lo, hi = sorted((a[0], b[0]))
        # "0.5 to 1 m" beside "less than 0.5 m" and "1 to 2 m": the lower bound belongs here,
        # the upper one to the next range up; "between 3 and 5" holds both
        return Interval(lo, hi, True, text.startswith("between"), b[1])
    found = comparisons(text)
    if len(found) != 1:
        return None
    op, number, upper, phrase, start, end = found[0]
    if math.isnan(number):
        return None
    rest = text[end:].strip()
    unit_match = re.match(r"([a-z%]+)", rest)
    written_unit = unit_match.group(1) if unit_match and unit_match.group(1) in UNITS else None
    if written_unit is None:  # "2 m or more": the unit stands between number and suffix
        inside = re.search(rf"{_NUM}\s*([a-z%]+)\s+(?:or|and|plus)", text)
        if inside and inside.group(1) in UNITS:
            written_unit = inside.group(1)
    if text[:start].strip() or (rest and written_unit is None and rest not in ("%",)):
        # words around the comparison other than a unit: a sentence, not a range
        if not (rest.startswith(("or ", "and ", "plus")) or rest in ("%",)):
            return None
    lo_b = scaled(number, written_unit)
    if lo_b is None:
        return None
    value, unit = lo_b
    if op == "between" and upper is not None:
        hi_b = scaled(upper, written_unit)
        return Interval(value, hi_b[0] if hi_b else upper, True, True, unit)
    return {
        "<": Interval(-math.inf, value, True, False, unit),
        "<=": Interval(-math.inf, value, True, True, unit),
        ">": Interval(value, math.inf, False, True, unit),
        ">=": Interval(value, math.inf, True, True, unit),
        "==": Interval(value, value, True, True, unit),
    }.get(op)


def axis(option: str) -> str | None:
    """The axis an option names: "x", "the y axis", "height (z)", "along z"."""
    text = option.strip().lower().rstrip(".")
    bare = re.fullmatch(r"(?:the\s+)?(?:along\s+)?([xyz])(?:[- ]?axis)?", text)
    if bare:
        return bare.group(1)
    return axis_of(text)


def spoken_question(question: str) -> bool:
    return bool(SPOKEN_WORDS & set(re.findall(r"[a-z]+", question.lower())))


def token(option: str) -> str | None:
    """A short spoken form: a letter, a number, or one or two words."""
    text = option.strip().strip(".!?\"'").strip()
    if not text or len(text.split()) > 2 or len(text) > 24:
        return None
    return text


def asked_end(question: str) -> tuple[str, str] | None:
    """The superlative a question asks ("Along which axis is it longest?" -> (max, longest))."""
    for word in re.findall(r"[a-z]+", question.lower()):
        if word in SUPERLATIVE_ENDS and word not in ("most", "least", "top", "bottom"):
            return SUPERLATIVE_ENDS[word], word
    for word in re.findall(r"[a-z]+", question.lower()):
        if word in ("most", "least"):
            return SUPERLATIVE_ENDS[word], word
    return None


_ASKED_NOUN = re.compile(
    r"\bwhat\s+(?:is|are|was|were)\s+the\s+([a-z]+)\s+of\b|"
    r"\b(?:what|which)\s+(?:(?:kinds?|sorts?|types?)\s+of\s+|of\s+(?:these|the|those)\s+)?"
    r"([a-z]+)"
)
#: words after "what" or "which" that are not what the question asks for
_NOT_ASKED = frozenset(
    "is are was were does do did can could would will should has have of one ones the this "
    "that these those it its kind kinds sort sorts type types name".split()
)


def asked_noun(question: str) -> str | None:
    """The noun a question asks for by name ("Which animal ...", "What kind of bird ...",
    "What is the colour of ..."), or None where it names none ("What is shown?")."""
    for m in _ASKED_NOUN.finditer(question.lower()):
        word = m.group(1) or m.group(2)
        if word and word not in _NOT_ASKED:
            return word
    return None


def asked_measures(question: str) -> set[str | float]:
    """The measures a question asks for, as terms: its own words ("height", "mean body mass")
    and the measures its "how" and superlative words name ("How tall" -> height)."""
    words = re.findall(r"[a-z]+", question.lower())
    out: set[str | float] = set(terms(question))
    for w in words:
        for m in HOW_MEASURES.get(w, ()):
            out.add(term(m))
        if w in SUPERLATIVE_MEASURES:
            out.add(term(SUPERLATIVE_MEASURES[w]))
    return out


#: comparison phrases an option may be made of, so a range is not read as a thing
RANGE_WORDS = frozenset(
    w for p in [*COMPARISON_WORDS, *COMPARISON_SUFFIXES] for w in re.findall("[a-z]+", p)
)
