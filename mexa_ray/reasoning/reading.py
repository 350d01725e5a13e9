"""Answers reasoned from what the reports state: typed facts against typed options.

The evidence ranking scores options by the words they share with report lines, which misses an
answer stated in other words: a height of 0.321 m is "less than 0.5 m", "longest side: along y"
answers "x, y or z?", a transcript "You." says the letter U, and a "Roaring cats (lions)" sound is
not a sea lion's. Each reading below applies when the options and the facts are of its type, and
says why in one sentence; when none applies, the ranking by words answers (`evidence`).

- computed: an expert computed the answer (a comparison of two groups of a table);
- ranges: the quantity the question asks about falls in one option's interval;
- trends: the option says how the named series moves, as a report states it;
- axes: the extreme the question asks about lies along one option's axis;
- spoken: an option sounds as the transcript does;
- kinds: an option names a recognised thing or a kind of it (the lexicon's hypernyms), weighted
  by how sure the recogniser was;
- extremes: an option is what a report names as the highest or lowest of what is asked;
- values: for a question that asks about how much, the option nearest the value stated for
  what it names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from mexa_ray.experts.text_utils import terms
from mexa_ray.reasoning.evidence import Unit, closeness, is_yes_no, option_quantities
from mexa_ray.reasoning.facts import Facts, Quantity, read_facts, shape_of
from mexa_ray.reasoning.lexicon import lexicon
from mexa_ray.reasoning.spoken import sounds_like
from mexa_ray.reasoning.typed_options import (
    Interval,
    asked_end,
    asked_measures,
    asked_noun,
    axis,
    interval,
    spoken_question,
    token,
)


@dataclass
class Reading:
    """An option chosen from facts, with how far each option is supported."""

    index: int
    support: list[float]
    confidence: float
    evidence: Unit | None
    #: which reading decided ("ranges", "kinds" ...)
    kind: str
    why: str


def _pick(
    kind: str, support: list[float], evidence: Unit | None, why: str, sure: float
) -> Reading | None:
    """The best supported option, when one leads; its confidence grows with its lead."""
    if not support:
        return None
    order = sorted(range(len(support)), key=lambda i: -support[i])
    best = support[order[0]]
    second = support[order[1]] if len(order) > 1 else 0.0
    if best <= 0 or best - second < 1e-6:
        return None
    lead = (best - second) / best
    confidence = round(sure * min(1.0, best) ** 0.5 * (0.5 + 0.5 * lead), 3)
    return Reading(order[0], support, confidence, evidence, kind, why)


def _computed(question: str, options: list[str], facts: Facts) -> Reading | None:
    for fact in facts.computed:
        value = fact.value.strip().lower().rstrip(".")
        lowered = [o.strip().lower().rstrip(".") for o in options]
        if value in lowered:
            support = [1.0 if o == value else 0.0 for o in lowered]
            why = f"{fact.unit_of.expert} computed the answer: {fact.value} ({fact.why})"
            return _pick("computed", support, fact.unit_of, why, 0.95)
    return None


def _relevance(q: Quantity, wanted: set[str | float]) -> int:
    return sum(1 for t in set(q.measure) if t in wanted)


def _ranges(question: str, options: list[str], facts: Facts) -> Reading | None:
    ranges = [interval(o, question) for o in options]
    if not facts.quantities or any(r is None for r in ranges):
        return None
    typed: list[Interval] = [r for r in ranges if r is not None]
    units = {r.unit for r in typed}
    wanted = asked_measures(question)
    candidates = [
        q
        for q in facts.quantities
        if (q.unit in units or (None in units and q.unit is None)) and not math.isnan(q.value)
    ]
    if not candidates:
        return None
    scored = [(_relevance(q, wanted), i, q) for i, q in enumerate(candidates)]
    top = max(s for s, _, _ in scored)
    if top == 0 and (None in units or len(candidates) > 1):
        return None  # nothing says which number the question asks about
    best = min((i, q) for s, i, q in scored if s == top)[1]
    inside = [r.contains(best.value) for r in typed]
    if not any(inside):
        return None
    # overlapping ranges: the narrowest that holds the value
    widths = [r.hi - r.lo if ok else math.inf for r, ok in zip(typed, inside)]
    narrow = min(widths)
    support = [1.0 if ok and w == narrow else 0.5 if ok else 0.0 for ok, w in zip(inside, widths)]
    why = f'the reports state "{best.said}", which lies in the option\'s range'
    rivals = sum(1 for s, _, q in scored if s == top and q is not best and q.value != best.value)
    return _pick("ranges", support, best.unit_of, why, 0.9 if not rivals else 0.7)


def _axes(question: str, options: list[str], facts: Facts) -> Reading | None:
    axes = [axis(o) for o in options]
    if any(a is None for a in axes) or len(set(axes)) < len(axes):
        return None
    asked = asked_end(question)
    if asked is None:
        return None
    end, word = asked
    wanted = asked_measures(question)
    # what each candidate says is extreme, and how much it is about what the question asks:
    # an extreme a report names ("longest side of the scene: along y"), or the largest (or
    # smallest) of the sizes one line states per axis ("Object 1: height 0.28 m (z), ...")
    found: list[tuple[int, int, str, Unit, str]] = []
    for fact in facts.extremes:
        if fact.end == end and fact.axis in axes:
            rel = sum(1 for t in set(fact.what) if t in wanted)
            said = f"the {fact.word} {' '.join(str(t) for t in fact.what)} is {fact.argument}"
            found.append((rel, 1, str(fact.axis), fact.unit_of, said))
    by_line: dict[int, list[Quantity]] = {}
    for q in facts.quantities:
        if q.axis is not None and q.unit is not None:
            by_line.setdefault(id(q.unit_of), []).append(q)
    for qs in by_line.values():
        if len({q.axis for q in qs}) < 2:
            continue
        pick = (max if end == "max" else min)(qs, key=lambda q: q.value)
        rel = max(_relevance(q, wanted) for q in qs)
        sizes = ", ".join(q.said for q in qs)
        said = f"of the sizes stated per axis ({sizes}), the {word} is along {pick.axis}"
        found.append((rel, 0, str(pick.axis), pick.unit_of, said))
    if not found:
        return None
    rel, _, chosen, unit, said = max(found, key=lambda f: (f[0], f[1]))
    support = [1.0 if a == chosen else 0.0 for a in axes]
    return _pick("axes", support, unit, said, 0.9 if rel else 0.75)


def _spoken(question: str, options: list[str], facts: Facts) -> Reading | None:
    if not facts.transcripts or not spoken_question(question):
        return None
    tokens = [token(o) for o in options]
    if any(t is None for t in tokens):
        return None
    said = [t for t in facts.transcripts if t.reliable] or facts.transcripts
    best: list[float] = [0.0] * len(options)
    evidence = said[0].unit_of
    for t in said:
        scores = sounds_like([str(x) for x in tokens], t.text)
        if max(scores) > max(best):
            evidence = t.unit_of
        best = [max(a, b) for a, b in zip(best, scores)]
    sure = 0.9 if said[0].reliable else 0.5
    why = f'the transcript "{said[0].text}" sounds as the option does'
    return _pick("spoken", best, evidence, why, sure)


_ARTICLE = re.compile(r"^(?:a|an|the)\s+", re.IGNORECASE)


def _thing(option: str) -> str:
    return _ARTICLE.sub("", option.strip().lower().rstrip("."))


def _kinds(question: str, options: list[str], facts: Facts) -> Reading | None:
    if not facts.recognised:
        return None
    lex = lexicon()
    things = [_thing(o) for o in options]
    known = [lex.knows(t) for t in things]
    noun = asked_noun(question)
    if noun is not None and lex.knows(noun):
        # a question that names what it asks for ("Which animal", "What colour") is about
        # things only where the options are of that kind: "white" and "triangle" have
        # physical senses (a chess side, an instrument), but not as a colour or a shape
        known = [k and lex.is_a(t, noun) for k, t in zip(known, things)]
    if sum(known) < max(2, math.ceil(len(options) / 2)):
        return None
    support = [0.0] * len(options)
    evidence: list[Unit | None] = [None] * len(options)
    via = [""] * len(options)
    for fact in facts.recognised:
        weights: list[tuple[float, str]] = []
        for i, thing in enumerate(things):
            best = (0.0, "")
            if known[i]:
                # the class's own names in any relation; its listed kinds only where the option
                # names that kind or a broader one ("bird" for a lark), since every animal
                # option is "narrower" than a listed "animal"
                named = [(n, False) for n in fact.names] + [(k, True) for k in fact.kinds]
                for name, listed_kind in named:
                    rel = lex.relation(thing, name)
                    if rel is None or (listed_kind and rel.kind not in ("same", "kind")):
                        continue
                    if rel.weight > best[0]:
                        best = (rel.weight, f"{rel.kind} via {rel.via}")
            weights.append(best)
        if len({w for w, _ in weights}) < 2:
            continue  # "Animal" fits every animal option alike: it tells them nothing apart
        for i, (weight, how) in enumerate(weights):
            if fact.score * weight > support[i]:
                support[i], evidence[i] = fact.score * weight, fact.unit_of
                via[i] = f"{fact.label} ({fact.score:.0%}): {how}"
    # a tie between a kind and a kind of it ("animal", "cat"): the more specific option
    ranked = sorted(range(len(options)), key=lambda i: -support[i])
    if len(ranked) > 1 and support[ranked[0]] == support[ranked[1]] > 0:
        a, b = ranked[:2]
        rel = lex.relation(things[a], things[b])
        if rel is not None and rel.kind in ("kind", "narrower"):
            support[b if rel.kind == "kind" else a] += 1e-3
    top = max(range(len(options)), key=lambda i: support[i])
    why = f"the recognised {via[top]}" if via[top] else ""
    return _pick("kinds", support, evidence[top], why, 0.9)


def _extremes(question: str, options: list[str], facts: Facts) -> Reading | None:
    asked = asked_end(question)
    if asked is None or not facts.extremes:
        return None
    end, word = asked
    wanted = asked_measures(question)
    lowered = [o.strip().lower() for o in options]
    # the extreme stated under the question's own conditions first ("Where species is
    # 'Adelie': the least common island ..."), then in report order
    ranked = sorted(
        enumerate(facts.extremes), key=lambda f: (-len(set(f[1].unit_of.terms) & wanted), f[0])
    )
    for _, fact in ranked:
        if fact.end != end or not (set(fact.what) & wanted):
            continue
        argument = terms(fact.argument)
        support = [
            1.0 if terms(o) and terms(o) == argument[: len(terms(o))] else 0.0 for o in lowered
        ]
        if sum(support) == 1:
            why = f"the reports name {fact.argument} as the {fact.word}"
            return _pick("extremes", support, fact.unit_of, why, 0.85)
    return None


def _number(option: str, question: str) -> tuple[float, str | None] | None:
    """An option that is one number, in base units ("77", "1.2 m", "34%")."""
    found = option_quantities(question, [option])
    if found:
        return found[0]
    m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*%\s*", option)
    return (float(m.group(1)), "%") if m else None


#: how a question asks for a value read off a scale rather than an exact one
_APPROXIMATE = re.compile(
    r"\b(?:about|approximately|roughly|around|nearly|close to|estimated?|how much)\b"
)


def _values(question: str, options: list[str], facts: Facts) -> Reading | None:
    """Options that are numbers: the one nearest the value stated for what the question names
    ("About what was the price in 2003?": the number after 2003 in the series' data)."""
    numbers = [_number(o, question) for o in options]
    if any(n is None for n in numbers) or not facts.quantities:
        return None
    if not _APPROXIMATE.search(question.lower()):
        return None  # a count or an exact value is the words' to match, not the nearest number
    wanted = asked_measures(question)
    scored = [(_relevance(q, wanted), i, q) for i, q in enumerate(facts.quantities)]
    top = max(s for s, _, _ in scored)
    if top == 0:
        return None
    best = [q for s, _, q in scored if s == top]
    value = best[0].value
    if any(abs(q.value - value) > 0.02 * max(abs(value), 1e-9) for q in best[1:]):
        return None  # as relevant, and different: the question does not say which
    support = [closeness(n[0], value) if n is not None else 0.0 for n in numbers]
    why = f'the reports state "{best[0].said}", nearest to the option'
    return _pick("values", support, best[0].unit_of, why, 0.85)


def _trends(question: str, options: list[str], facts: Facts) -> Reading | None:
    """Options that say how something moves ("it rises, then falls"): the trend stated for the
    series the question names (or the only one)."""
    shapes = [shape_of(o) for o in options]
    if not facts.trends or any(not s for s in shapes):
        return None
    asked = set(terms(question))
    named = [t for t in facts.trends if t.series and set(terms(t.series)) <= asked]
    chosen = named or (facts.trends if len(facts.trends) == 1 else [])
    if len(chosen) != 1:
        return None
    fact = chosen[0]
    support = [1.0 if s == fact.shape else 0.0 for s in shapes]
    why = f"the reports state the trend {' then '.join(fact.shape)}"
    return _pick("trends", support, fact.unit_of, why, 0.85)


READINGS: tuple[Callable[[str, list[str], Facts], Reading | None], ...] = (
    _computed,
    _ranges,
    _trends,
    _axes,
    _spoken,
    _kinds,
    _extremes,
    _values,
)


def read_answer(question: str, options: list[str], units: list[Unit]) -> Reading | None:
    """The option the facts decide, if a reading applies and one option leads."""
    if len(options) < 2:
        return None
    facts = read_facts(units)
    for reading in READINGS:
        if is_yes_no(options) and reading is not _computed:
            continue  # yes/no questions are claims (`claims`), unless an expert computed them
        found = reading(question, options, facts)
        if found is not None:
            return found
    return None


@dataclass
class OpenAnswer:
    """An answer composed from the facts of the kind an open question asks for."""

    answer: str
    why: str
    confidence: float
    evidence: Unit | None


#: what an open question asks, by its opening words (first match wins)
_OPEN_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("count", re.compile(r"\bhow many\b")),
    ("colour", re.compile(r"\bwhat colou?rs?\b|\bwhich colou?rs?\b")),
    (
        "said",
        re.compile(
            r"\bwhat (?:is|was|are|were) (?:being )?(?:said|spoken)\b|\bwhat (?:does|did|do) "
            r"(?:the )?(?:speaker|voice|person|man|woman|narrator|he|she|they|someone|people|"
            r"recording) (?:say|said)\b"
        ),
    ),
    (
        "written",
        re.compile(
            r"\bwhat (?:is |was )?written\b|\bwhat (?:does|did) (?:it|the \w+) (?:say|read)\b"
            r"|\bwhat text\b|\bread (?:the|this)\b"
        ),
    ),
    ("quantity", re.compile(r"\bhow (?:tall|long|wide|deep|high|heavy|big|large|old|far)\b")),
    (
        "thing",
        re.compile(
            r"\bwhat(?:'s| is| are| does)? (?:this|that|it|these|shown|in|the|visible|seen|"
            r"pictured|depicted)\b|\bwhat (?:object|animal|thing|kind|sort|type|building|"
            r"instrument|sound|creature|plant|item)s?\b|\bwhich (?:object|animal|thing)\b|"
            r"\bidentify\b|\bwhat do you see\b"
        ),
    ),
)


def asked_kind(question: str) -> str | None:
    lowered = question.lower()
    for kind, pattern in _OPEN_KINDS:
        if pattern.search(lowered):
            return kind
    return None


def _article(name: str) -> str:
    name = _ARTICLE.sub("", name.strip())
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _name(fact) -> str:
    """A recognised class's first name as a reader would write it: "bell tower" (a label's
    capitals kept only for proper names: "Egyptian Mau")."""
    name = fact.names[0] if fact.names else fact.label
    return name if any(w[:1].isupper() for w in name.split()[1:]) else name.lower()


def _things(facts: Facts) -> OpenAnswer | None:
    """What the recognisers name: the best class, with the runner-up when it is close, and
    the kind they share when they differ ("Probably a dog: a beagle (30%) or a basset (25%)")."""
    if not facts.recognised:
        return None
    ranked = sorted(facts.recognised, key=lambda r: -r.score)
    top = ranked[0]
    name = _name(top)
    if top.score >= 0.6 or len(ranked) == 1:
        kind = _nearest_kind(top, name)
        said = f"{_article(name)}, a kind of {kind}" if kind else _article(name)
        answer = f"{said[0].upper()}{said[1:]} ({top.score:.0%})."
    else:
        second = ranked[1]
        other = _name(second)
        shared = _shared_kind(top, second)
        lead = f"Probably {_article(shared)}: " if shared else "Probably "
        answer = (
            f"{lead}{_article(name)} or {_article(other)} ({top.score:.0%}, {second.score:.0%})."
        )
    why = f"the best recognised class is {top.label} ({top.score:.0%})"
    return OpenAnswer(answer, why, round(min(1.0, top.score), 3), top.unit_of)


def _nearest_kind(fact, name: str) -> str | None:
    """The nearest kind a recognised class is of, where its name does not say it already: a
    class name is often rarer than the word a person would use ("a wallaby, a kind of
    kangaroo"; "a ram, a kind of sheep"), but "a polar bear" needs no "kind of bear". Only a
    kind the lexicon holds the name to be of: a sound's listed parent ("Clapping": "Hands") is
    a category, not a kind."""
    head = name.lower().split()[-1] if name.split() else ""
    if not fact.kinds or any(k.lower().split()[-1] == head for k in fact.kinds if k.split()):
        return None
    kind = fact.kinds[0]
    return kind if lexicon().is_a(name, kind) else None


def _shared_kind(a, b) -> str | None:
    """The nearest kind two recognised classes share, by their listed kinds, then the lexicon."""
    for kind in a.kinds:
        if kind in b.kinds:
            return kind
    lex = lexicon()
    rel = lex.relation(a.names[0] if a.names else a.label, b.names[0] if b.names else b.label)
    return rel.via if rel is not None and rel.kind != "unrelated" else None


def open_answer(question: str, units: list[Unit]) -> OpenAnswer | None:
    """The answer to a question without options, from the facts of the kind it asks for; None
    when it asks for something else, or no report states a fact of that kind."""
    kind = asked_kind(question)
    if kind is None:
        return None
    facts = read_facts(units)
    if kind == "thing":
        return _things(facts)
    if kind == "written" and facts.written:
        texts = [w.text for w in sorted(facts.written, key=lambda w: -w.confidence)]
        best = max(facts.written, key=lambda w: w.confidence)
        return OpenAnswer(
            " / ".join(texts[:4]), "the text read in the picture", best.confidence, best.unit_of
        )
    if kind == "said" and facts.transcripts:
        said = " ".join(t.text for t in facts.transcripts)
        sure = 0.8 if facts.transcripts[0].reliable else 0.3
        return OpenAnswer(said, "the transcript", sure, facts.transcripts[0].unit_of)
    if kind in ("quantity", "count") and facts.quantities:
        wanted = asked_measures(question)
        scored = [(_relevance(q, wanted), -i, q) for i, q in enumerate(facts.quantities)]
        rel, _, stated = max(scored, key=lambda s: (s[0], s[1]))
        if rel == 0:
            return None
        value = f"{stated.value:g}" if kind == "count" else stated.said
        return OpenAnswer(value, f'the reports state "{stated.said}"', 0.7, stated.unit_of)
    return None
