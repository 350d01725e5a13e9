"""Small text helpers shared by experts, the router and the aggregator."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?")

STOPWORDS = frozenset(
    """
a an and are as at be by can could do does did for from has have how in is it its of on or
the this that these those to was were what when where which who whom why will with would
there their them they than then into over under about any all each many much more most less
least very your you i we our us he she his her if not no yes so such only also just
""".split()
)


def words(text: str) -> list[str]:
    """Lower-case words and numbers, in order."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOPWORDS}


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
