"""Report lines read as typed facts: what an answer can be reasoned from, not only matched by words.

Experts write readable reports (as MEXA's are) in a few regular forms, and this one parser reads
them:

- a quantity: `<what it measures> <number> [<unit>] [(<axis>)]`, as in "height 0.321 m (z)",
  "duration 3.2 s", "mean body mass 4201.75": the measure is the words just before the number;
- an extreme: `<superlative> <what>: <argument>` or `the <superlative> [<what>] is <argument>`, as
  in "longest side: along y (depth)", "the highest is Gentoo";
- recognised classes: a line whose head names classes or sound events, items `<label> <score>
  [(<kinds>)]` separated by "; ", as in "Closest ImageNet classes (...): bell tower 36% (tower,
  structure); monastery 28%";
- a transcript: the timed lines under a "Subtitles" head, and whether the report calls it
  unreliable;
- written text: `"<text>" (<place>, confidence <c>)`, a line an OCR reader found;
- a trend: `Trend of '<series>': rising, then falling`;
- a computed answer: `Computed answer: <yes|no|value> (<why>)`, which an expert that computed
  what the question asks (the table expert's comparison of two groups) states.

Each fact keeps the report unit it was read from, so the answer can quote it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from mexa_ray.experts.text_utils import STOPWORDS, UNITS, term, terms
from mexa_ray.reasoning.evidence import Unit, split_outside

#: adjectives of size, amount, time and degree by the end of the scale their superlative asks
#: for; their superlatives are formed by English spelling rules below ("thin" -> "thinnest")
_MAX_ADJECTIVES = (
    "long tall high large big great wide broad deep thick heavy old late fast strong loud "
    "hot warm bright dark rich full"
)
_MIN_ADJECTIVES = (
    "short low small little tiny narrow thin slim slender shallow light young early near close "
    "slow weak quiet cold cool dim poor empty few"
)


def _superlative(adjective: str) -> str:
    """The "-est" form English spelling gives an adjective (large -> largest, thin -> thinnest,
    heavy -> heaviest)."""
    if adjective.endswith("e"):
        return adjective + "st"
    if adjective.endswith("y") and adjective[-2] not in "aeiou":
        return adjective[:-1] + "iest"
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgmnpt]", adjective):
        return adjective + adjective[-1] + "est"  # one short vowel before one consonant
    return adjective + "est"


#: superlatives and the end each one asks for
SUPERLATIVE_ENDS: dict[str, str] = {
    **{_superlative(a): "max" for a in _MAX_ADJECTIVES.split()},
    **dict.fromkeys("most maximum max peak top farthest furthest".split(), "max"),
    **{_superlative(a): "min" for a in _MIN_ADJECTIVES.split()},
    **dict.fromkeys("least fewest minimum min bottom".split(), "min"),
}
#: what a superlative measures when the word says it ("tallest": a height)
SUPERLATIVE_MEASURES: dict[str, str] = {
    "tallest": "height", "shortest": "length", "longest": "length", "widest": "width",
    "narrowest": "width", "deepest": "depth", "shallowest": "depth", "heaviest": "weight",
    "lightest": "weight", "oldest": "age", "youngest": "age", "thickest": "thickness",
    "thinnest": "thickness", "broadest": "width", "slimmest": "width",
}  # fmt: skip
_AXIS = re.compile(
    r"\(\s*(?:its\s+)?(?:[a-z]+\s+)?\(?([xyz])\)?\s*\)|\balong\s+([xyz])\b|\b([xyz])[- ]axis\b"
)
_QUANTITY = re.compile(
    r"(?<![\w.])(?P<value>-?\d+(?:,\d{3})*(?:\.\d+)?(?:e[+-]?\d+)?)\s*(?P<unit>%|[a-zA-Zµ]+\b)?"
)
_SCORE_ITEM = re.compile(
    r"^(?P<label>.+?)\s+(?P<score>\d{1,3}(?:\.\d+)?%|[01]\.\d+)(?:\s+\((?P<kinds>[^()]*)\))?$"
)
_EXTREME_IS = re.compile(
    r"\bthe\s+(?P<sup>[a-z]+)(?P<what>(?:\s+[a-z]+){0,3}?)\s+(?:is|are|was|lies)\s+(?P<arg>.+)$"
)
_EXTREME_HEAD = re.compile(r"^(?P<sup>[a-z]+)(?P<what>(?:\s+[a-z']+){0,5})\s*:\s*(?P<arg>.+)$")
_WRITTEN = re.compile(
    r'^(?:\[[\d.]+s\]\s*)?"(?P<text>.+)"\s*\([^()]*confidence (?P<conf>[\d.]+)\)$'
)
_COMPUTED = re.compile(r"^computed answer:\s*(?P<value>[^()]+?)\s*(?:\((?P<why>.*)\))?\.?$", re.I)
_TREND = re.compile(r"^trend(?: of '(?P<series>[^']*)'| \w+)?:\s*(.+?)\.?$", re.I)
#: line heads that introduce recognised classes
_CLASS_HEADS = ("classes", "sound events", "recognised", "recognized")


@dataclass
class Quantity:
    value: float
    #: the base unit ("m", "s", "kg", "%"), or None for a bare number
    unit: str | None
    #: the terms of what it measures ("height", "mean body mass"), with the line's head terms
    measure: list[str | float]
    axis: str | None
    unit_of: Unit
    #: the words that state it ("height 0.283 m")
    said: str = ""


@dataclass
class Extreme:
    #: "max" or "min"
    end: str
    word: str
    #: what is extreme ("side", "mean body mass by species")
    what: list[str | float]
    argument: str
    axis: str | None
    unit_of: Unit


@dataclass
class Recognised:
    label: str
    #: the label's separate names ("Roaring cats (lions, tigers)": roaring cats, lions, tigers)
    names: list[str]
    score: float
    kinds: list[str]
    unit_of: Unit


@dataclass
class Transcript:
    text: str
    reliable: bool
    unit_of: Unit


@dataclass
class Written:
    """A line of text read in an image or a frame, with the reader's confidence."""

    text: str
    confidence: float
    unit_of: Unit


@dataclass
class Computed:
    value: str
    why: str
    unit_of: Unit


@dataclass
class Trend:
    """How a series moves: "rising", "falling", "rising, then falling" ..."""

    series: str
    shape: tuple[str, ...]
    unit_of: Unit


#: words of movement, as directions
DIRECTIONS = {
    **dict.fromkeys(
        "rise rises rising rose risen increase increases increasing increased grow grows "
        "growing grew climb climbs climbing climbed up upward upwards".split(),
        "up",
    ),
    **dict.fromkeys(
        "fall falls falling fell fallen decrease decreases decreasing decreased decline "
        "declines declining declined drop drops dropping dropped down downward downwards "
        "shrink shrinks shrinking".split(),
        "down",
    ),
    **dict.fromkeys(
        "flat stable steady unchanged constant level".split(),
        "flat",
    ),
}


def shape_of(text: str) -> tuple[str, ...]:
    """The directions a text says, in order ("rises, then falls" -> ("up", "down"))."""
    found = [DIRECTIONS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in DIRECTIONS]
    return tuple(d for i, d in enumerate(found) if i == 0 or d != found[i - 1])


@dataclass
class Facts:
    quantities: list[Quantity] = field(default_factory=list)
    extremes: list[Extreme] = field(default_factory=list)
    recognised: list[Recognised] = field(default_factory=list)
    transcripts: list[Transcript] = field(default_factory=list)
    written: list[Written] = field(default_factory=list)
    computed: list[Computed] = field(default_factory=list)
    trends: list[Trend] = field(default_factory=list)


def axis_of(text: str) -> str | None:
    m = _AXIS.search(text.lower())
    return next((g for g in m.groups() if g), None) if m else None


def _measure_before(clause: str, start: int) -> list[str | float]:
    """The terms of the (up to three) words that say what a number measures: those just before
    it in its clause ("mean body mass 4201"), without stop words; a number there labels it
    ("2003 78": the value in 2003)."""
    before = re.findall(r"[a-z][a-z']*|\d+(?:\.\d+)?", clause[:start].lower())
    kept = [w for w in before if w not in STOPWORDS][-3:]
    return [term(w) for w in kept]


def _quantities(unit: Unit, head_terms: list[str | float]) -> list[Quantity]:
    out = []
    body = unit.text.split(": ", 1)[1] if ": " in unit.text and head_terms else unit.text
    clauses = [c for part in split_outside(body, "; ") for c in split_outside(part, ", ")]
    for clause in clauses:
        for m in _QUANTITY.finditer(clause):
            raw_unit = (m.group("unit") or "").lower()
            if raw_unit == "%":
                base: str | None = "%"
                value = float(m.group("value").replace(",", ""))
            elif raw_unit in UNITS:
                base, factor = UNITS[raw_unit]
                value = float(m.group("value").replace(",", "")) * factor
            else:
                base, value = None, float(m.group("value").replace(",", ""))
            measure = _measure_before(clause, m.start())
            if base is None and not measure:
                continue  # a bare number with nothing saying what it is
            tail = clause[m.end() : m.end() + 12]
            axis = axis_of(tail) if re.match(r"\s*\(", tail) else None
            said = clause[: m.end()].strip()
            out.append(Quantity(value, base, measure + head_terms, axis, unit, said))
    return out


def _extreme(unit: Unit, clause: str) -> Extreme | None:
    lowered = clause.lower().strip().rstrip(".")
    found = [m for m in (_EXTREME_HEAD.match(lowered), _EXTREME_IS.search(lowered)) if m]
    found = [m for m in found if m.group("sup") in SUPERLATIVE_ENDS]
    if not found:
        return None
    m = found[0]
    argument = m.group("arg").strip()
    what = [term(w) for w in m.group("what").split() if w not in STOPWORDS]
    return Extreme(
        SUPERLATIVE_ENDS[m.group("sup")], m.group("sup"), what, argument, axis_of(argument), unit
    )


def _recognised(unit: Unit, body: str) -> list[Recognised]:
    out = []
    for item in split_outside(body.rstrip("."), "; "):
        m = _SCORE_ITEM.match(item.strip())
        if m is None:
            continue
        score_text = m.group("score")
        score = float(score_text.rstrip("%")) / (100 if score_text.endswith("%") else 1)
        label = m.group("label").strip()
        names = [n.strip() for n in re.split(r"[(),]", label) if n.strip()]
        kinds = [k.strip() for k in re.split(r"[;,]", m.group("kinds") or "") if k.strip()]
        out.append(Recognised(label, names, score, kinds, unit))
    return out


def read_facts(units: list[Unit]) -> Facts:
    """The facts the report lines state (each line once, from its own unit)."""
    facts = Facts()
    # each report line once, as a whole (units_of gives a line's unit before its pieces)
    first: dict[tuple[int, int], Unit] = {}
    for u in units:
        if not u.whole and u.line >= 0:
            first.setdefault((u.report, u.line), u)
    lines = list(first.values())
    unreliable = {u.report for u in lines if "unreliable" in u.text.lower()}
    subtitled: set[int] = set()
    for u in lines:
        head, sep, body = u.text.partition(": ")
        head_l = head.lower() if sep and len(head) <= 80 else ""
        if u.text.lower().startswith("subtitles"):
            subtitled.add(u.report)
        moving = _TREND.match(u.text.strip())
        if moving:
            facts.trends.append(Trend(moving.group("series") or "", shape_of(moving.group(2)), u))
            continue
        computed = _COMPUTED.match(u.text.strip())
        if computed:
            facts.computed.append(
                Computed(computed.group("value").strip(), computed.group("why") or "", u)
            )
            continue
        if head_l and any(h in head_l for h in _CLASS_HEADS):
            facts.recognised += _recognised(u, body)
            continue
        head_terms = terms(head) if head_l else []
        facts.quantities += _quantities(u, head_terms)
        clauses = split_outside(u.text, "; ")
        head_match = _EXTREME_HEAD.match(u.text.lower())
        if head_l and not (head_match and head_match.group("sup") in SUPERLATIVE_ENDS):
            clauses = split_outside(body, "; ")
        for clause in clauses:
            found = _extreme(u, clause)
            if found is not None:
                found.what = found.what or head_terms
                facts.extremes.append(found)
    for u in lines:
        text = u.text.strip()
        written = _WRITTEN.match(text)
        if written:
            facts.written.append(Written(written.group("text"), float(written.group("conf")), u))
            continue
        timed = re.match(r"^\[[\d.\s:s>-]+s?\]\s*(?P<said>.+)$", text)
        if timed and u.report in subtitled:
            facts.transcripts.append(Transcript(timed.group("said"), u.report not in unreliable, u))
    return facts


@lru_cache(maxsize=4096)
def question_terms(question: str) -> tuple[str | float, ...]:
    return tuple(terms(question))
