"""Text helpers shared by experts, the router and the aggregator, and the one text normaliser.

`terms` is how every part of mexa-ray compares words: a question with a column name or a cell
(the table expert), options with report lines (the evidence ranking), questions with skills (the
router). Stop words, canonical forms ("largest" -> "max", "colour" -> "color"), stems and number
words are defined once here, so what one component reads as the same word the others do too.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?")


def words(text: str) -> list[str]:
    """Lower-case words and numbers, in order."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    """The text's normalised terms that are words (stems, canonical forms), without stop words:
    what a question and a column name or a cell share."""
    return {t for t in terms(text) if isinstance(t, str)}


def fmt_num(x: float) -> str:
    """A number short enough for a report line, without losing its magnitude."""
    if x is None:
        return "n/a"
    if float(x).is_integer() and abs(x) < 1e9:
        return str(int(x))
    ax = abs(x)
    if ax >= 1000 or ax < 0.01:
        return f"{x:.3g}"
    return f"{x:.3g}" if ax < 1 else f"{x:.4g}"


_TOKEN = re.compile(r"-?\d+(?:[.,]\d+)*%?|[a-z]+(?:'[a-z]+)?")

#: number words a report or an option may spell out
NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
NUMBER_WORDS.update(
    {
        "thirty": 30,
        "forty": 40,
        "fifty": 50,
        "sixty": 60,
        "seventy": 70,
        "eighty": 80,
        "ninety": 90,
        "hundred": 100,
        "thousand": 1000,
        "once": 1,
        "twice": 2,
        "single": 1,
        "pair": 2,
        "dozen": 12,
    }
)

#: words that mean the same thing in questions, options and reports, mapped to one form
CANONICAL = {
    "colour": "color",
    "colours": "color",
    "colored": "color",
    "coloured": "color",
    "gray": "grey",
    "centre": "center",
    "central": "center",
    "middle": "center",
    "maximum": "max",
    "highest": "max",
    "largest": "max",
    "biggest": "max",
    "greatest": "max",
    "most": "max",
    "top": "max",
    "more": "max",
    "higher": "max",
    "larger": "max",
    "bigger": "max",
    "greater": "max",
    "taller": "max",
    "longer": "max",
    "heavier": "max",
    "lower": "min",
    "smaller": "min",
    "fewer": "min",
    "less": "min",
    "shorter": "min",
    "tallest": "max",
    "longest": "max",
    "heaviest": "max",
    "minimum": "min",
    "lowest": "min",
    "smallest": "min",
    "least": "min",
    "fewest": "min",
    "shortest": "min",
    "tall": "height",
    "wide": "width",
    "deep": "depth",
    "heavy": "weight",
    "average": "mean",
    "avg": "mean",
    "typical": "mean",
    "common": "frequent",
    "frequently": "frequent",
    "often": "frequent",
    "popular": "frequent",
    "rows": "row",
    "records": "row",
    "entries": "row",
    "lines": "line",
    "said": "say",
    "says": "say",
    "spoken": "speak",
    "speaker": "speak",
    "speaking": "speak",
    "words": "word",
    "written": "write",
    "writes": "write",
    "text": "write",
    "pictured": "picture",
    "photo": "picture",
    "photograph": "picture",
    "image": "picture",
    "sound": "sound",
    "sounds": "sound",
    "noisy": "noise",
    "musical": "music",
    # colour and shape words people use for the names reports give
    "violet": "purple",
    "lilac": "purple",
    "teal": "cyan",
    "turquoise": "cyan",
    "aqua": "cyan",
    "lime": "green",
    "gold": "yellow",
    "golden": "yellow",
    "silver": "grey",
    "crimson": "red",
    "scarlet": "red",
    "maroon": "red",
    "tan": "beige",
    "rhombus": "diamond",
    "lozenge": "diamond",
    "ellipse": "oval",
    "elliptical": "oval",
    "disc": "circle",
    "disk": "circle",
    "round": "circle",
    "circular": "circle",
    "triangular": "triangle",
    "rectangular": "rectangle",
    # statistics
    "total": "sum",
    "deviation": "std",
    "stdev": "std",
    "mode": "frequent",
    "left": "left",
    "right": "right",
    "upward": "up",
    "upwards": "up",
    "downward": "down",
    "downwards": "down",
    "rightward": "rightwards",
    "leftward": "leftwards",
}

STOPWORDS = frozenset(
    """
a an and are as at be by can could do does did for from has have how in is it its of on or
the this that these those to was were what when where which who whom why will with would there
their them they than then into over under about any all each your you i we our us he she his her
if so such only also just shown show shows given according value values one
""".split()
) - set(NUMBER_WORDS)


#: Snowball's stemmer keeps the word it works on in the instance: two threads stemming at once
#: (a replica answers requests from a thread pool) corrupt each other's (IndexError)
_STEM_LOCK = threading.Lock()


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Plural and verb endings off, so "circles" meets "circle" (Snowball's English stemmer)."""
    with _STEM_LOCK:
        return _stemmer().stemWord(word)


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def term(token: str) -> str | float:
    """One token as a comparable term: a float for numbers, else a canonical stem."""
    if token[0].isdigit() or (token[0] == "-" and len(token) > 1):
        text = token.rstrip("%").replace(",", "")
        try:
            return float(text)
        except ValueError:
            return token
    if token in NUMBER_WORDS:
        return float(NUMBER_WORDS[token])
    stem = _stem(CANONICAL.get(token, token))
    canonical = CANONICAL.get(stem)  # a plural of a mapped word ("discs")
    return _stem(canonical) if canonical else stem


#: units a number may carry, as (base unit, factor to it): "120 cm" and "1.2 m" are one length.
#: Only words that follow a number directly count ("the second row" is no time), and neither
#: "in" (a preposition far more often than inches) nor "min" (a report's minimum) is a unit.
UNITS: dict[str, tuple[str, float]] = {
    **dict.fromkeys("mm millimetre millimetres millimeter millimeters".split(), ("m", 0.001)),
    **dict.fromkeys("cm centimetre centimetres centimeter centimeters".split(), ("m", 0.01)),
    **dict.fromkeys("m metre metres meter meters".split(), ("m", 1.0)),
    **dict.fromkeys("km kilometre kilometres kilometer kilometers".split(), ("m", 1000.0)),
    **dict.fromkeys("ft foot feet".split(), ("m", 0.3048)),
    **dict.fromkeys("inch inches".split(), ("m", 0.0254)),
    **dict.fromkeys("mg milligram milligrams".split(), ("kg", 1e-6)),
    **dict.fromkeys("g gram grams".split(), ("kg", 0.001)),
    **dict.fromkeys("kg kilogram kilograms kilo kilos".split(), ("kg", 1.0)),
    **dict.fromkeys("lb lbs pound pounds".split(), ("kg", 0.45359237)),
    **dict.fromkeys("ms millisecond milliseconds".split(), ("s", 0.001)),
    **dict.fromkeys("s sec secs second seconds".split(), ("s", 1.0)),
    **dict.fromkeys("minute minutes mins".split(), ("s", 60.0)),
    **dict.fromkeys("h hr hrs hour hours".split(), ("s", 3600.0)),
}


def _tokens(text: str, drop: frozenset[str]) -> list[str | float]:
    """Terms with every "<number> <unit>" in its base unit: (value, unit's base name)."""
    lowered = text.lower().replace("'s ", " ")
    found = list(_TOKEN.finditer(lowered))
    out: list[str | float] = []
    i = 0
    while i < len(found):
        token = found[i].group()
        value = term(token) if token not in drop else None
        if isinstance(value, float) and not token.endswith("%") and i + 1 < len(found):
            unit = found[i + 1]
            base = UNITS.get(unit.group())
            if base is not None and not lowered[found[i].end() : unit.start()].strip():
                out += [float(f"{value * base[1]:.10g}"), base[0]]
                i += 2
                continue
        if value is not None:
            out.append(value)
        i += 1
    return out


def terms(text: str, drop: frozenset[str] = STOPWORDS) -> list[str | float]:
    """Normalised terms of a text, in order, without stop words; quantities in base units."""
    return _tokens(text, drop)


def term_spans(text: str, drop: frozenset[str] = STOPWORDS) -> list[tuple[str | float, int, int]]:
    """`terms` with where each one stands in the lower-cased text: (term, start, end), so a reader
    can tell which words of a question are next to which ("body mass above 4000")."""
    lowered = text.lower().replace("'s ", "   ")
    return [
        (term(m.group()), m.start(), m.end())
        for m in _TOKEN.finditer(lowered)
        if m.group() not in drop
    ]


#: comparison phrases put before a number ("more than 10"), with the operator each one means;
#: `terms` reads "more" as "max" and drops "over", so comparisons are read from the words
COMPARISON_WORDS: dict[str, str] = {
    **dict.fromkeys(
        "more than|greater than|higher than|larger than|bigger than|longer than|heavier than|"
        "older than|taller than|wider than|above|over|exceeds|exceeding|exceed|exceeded|"
        "in excess of|later than|after|>".split("|"),
        ">",
    ),
    **dict.fromkeys(
        "less than|fewer than|lower than|smaller than|shorter than|lighter than|younger than|"
        "narrower than|below|under|beneath|earlier than|before|<".split("|"),
        "<",
    ),
    **dict.fromkeys(
        "at least|no less than|not less than|no fewer than|greater than or equal to|"
        "more than or equal to|at or above|>=|≥".split("|"),
        ">=",
    ),
    **dict.fromkeys(
        "at most|no more than|not more than|up to|less than or equal to|at or below|<=|≤".split(
            "|"
        ),
        "<=",
    ),
    **dict.fromkeys("equal to|equals|exactly|=|==".split("|"), "=="),
}
#: the same put after the number ("10 or more")
COMPARISON_SUFFIXES: dict[str, str] = {
    **dict.fromkeys(
        "or more|or above|or higher|or greater|or over|or longer|or later|and above|and up|"
        "and over|or after|plus".split("|"),
        ">=",
    ),
    **dict.fromkeys(
        "or less|or fewer|or below|or lower|or under|or shorter|or earlier|and below|"
        "and under|or before".split("|"),
        "<=",
    ),
}
#: what a comparison may measure against instead of a number ("above average")
COMPARISON_REFERENCES: dict[str, str] = {
    "average": "mean",
    "the average": "mean",
    "the mean": "mean",
    "mean": "mean",
    "the median": "median",
    "median": "median",
}

_NUMBER = r"-?\d+(?:,\d{3})*(?:\.\d+)?|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))


def _alternatives(phrases) -> str:
    return "|".join(
        re.escape(p).replace(r"\ ", r"\s+") for p in sorted(phrases, key=len, reverse=True)
    )


_BOUND = r"(?<![\w.])"
_COMPARISON = re.compile(
    rf"{_BOUND}(?:between\s+(?:the\s+)?(?P<lo>{_NUMBER})\s*(?:and|-|to)\s*(?P<hi>{_NUMBER})"
    rf"|from\s+(?P<flo>{_NUMBER})\s*(?:to|-|through)\s*(?P<fhi>{_NUMBER})"
    rf"|(?P<word>{_alternatives(COMPARISON_WORDS)})\s*(?:(?:a|an|the|value|score|of)\s+)*?"
    rf"(?:(?P<num>{_NUMBER})|(?P<ref>{_alternatives(COMPARISON_REFERENCES)}))"
    rf"|(?P<pnum>{_NUMBER})(?:\s+[a-z%]+)?\s+(?P<suffix>{_alternatives(COMPARISON_SUFFIXES)}))"
    r"(?![\w.])"
)


def _number(text: str) -> float:
    text = text.replace(",", "")
    return float(NUMBER_WORDS[text]) if text in NUMBER_WORDS else float(text)


def comparisons(text: str) -> list[tuple[str, float, float | None, str, int, int]]:
    """The comparisons a question makes: (operator, number, upper number for "between",
    the phrase as written, start, end) with the operator one of ">", ">=", "<", "<=", "==",
    "between"; "above average" gives the number nan and the phrase names the reference
    ("mean" or "median" in COMPARISON_REFERENCES), for the reader to compute."""
    lowered = text.lower()
    found: list[tuple[str, float, float | None, str, int, int]] = []
    for m in _COMPARISON.finditer(lowered):
        lo, hi = m.group("lo") or m.group("flo"), m.group("hi") or m.group("fhi")
        if lo is not None and hi is not None:
            a, b = sorted((_number(lo), _number(hi)))
            found.append(("between", a, b, "between", m.start(), m.end()))
        elif m.group("word"):
            word = re.sub(r"\s+", " ", m.group("word"))
            op = COMPARISON_WORDS[word]
            if m.group("num") is not None:
                found.append((op, _number(m.group("num")), None, word, m.start(), m.end()))
            else:
                ref = COMPARISON_REFERENCES[re.sub(r"\s+", " ", m.group("ref"))]
                found.append((op, float("nan"), None, f"{word} the {ref}", m.start(), m.end()))
        else:
            suffix = re.sub(r"\s+", " ", m.group("suffix"))
            op = COMPARISON_SUFFIXES[suffix]
            found.append((op, _number(m.group("pnum")), None, suffix, m.start(), m.end()))
    return found


#: how a yes/no question opens; a question with yes/no options that opens otherwise ("Which
#: value is most frequent?" over a column of Yes and No) asks for a value, not about a claim
YES_NO_OPENERS = frozenset(
    """
is are was were am do does did can could has have had will would should shall may might must
isn't aren't wasn't weren't don't doesn't didn't can't couldn't hasn't haven't won't wouldn't
""".split()
)


def is_yes_no_question(question: str) -> bool:
    first = re.findall(r"[a-z']+", question.lower())[:1]
    return bool(first) and first[0] in YES_NO_OPENERS
