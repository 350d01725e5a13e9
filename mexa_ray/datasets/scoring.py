"""Scoring rules, one per kind of answer the benchmarks use."""

from __future__ import annotations

import re

from mexa_ray.reasoning.prompts import LETTERS

_ARTICLES = {"a", "an", "the"}
_NUMBERS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_LETTER = re.compile(r"^\(?([A-Za-z])\)?[.:)]?$")


def normalise(text: str) -> str:
    """VQA-style answer normalisation: lower case, no punctuation or articles, digits for
    number words, single spaces. "The Two chairs." and "2 chairs" become equal."""
    text = re.sub(r"[^\w\s]", " ", text.lower().replace("'s", ""))
    tokens = [_NUMBERS.get(t, t) for t in text.split() if t not in _ARTICLES]
    return " ".join(tokens)


def exact_match(prediction: str, gold: str) -> bool:
    return bool(normalise(prediction)) and normalise(prediction) == normalise(gold)


def gold_index(answer: str, options: list[str]) -> int | None:
    """Which option the gold answer names: a letter ("B", "(B)") or an option's own text."""
    m = _LETTER.match(answer.strip())
    if m and LETTERS.index(m.group(1).upper()) < len(options):
        return LETTERS.index(m.group(1).upper())
    wanted = normalise(answer)
    for i, option in enumerate(options):
        if normalise(option) == wanted:
            return i
    return None


def chosen_text(prediction: str, option_index: int | None, options: list[str]) -> str:
    """The option string the model chose (MMAU compares strings), else its answer text."""
    if option_index is not None and 0 <= option_index < len(options):
        return options[option_index]
    return prediction


def option_match(
    answer: str, options: list[str], prediction: str, option_index: int | None
) -> bool:
    """Multiple choice scored by option: the chosen option is the gold one. A prediction that
    names no option is wrong."""
    gold = gold_index(answer, options)
    if gold is None:
        return exact_match(chosen_text(prediction, option_index, options), answer)
    return option_index == gold


def option_or_exact(
    answer: str, options: list[str], prediction: str, option_index: int | None
) -> bool:
    """By option when the item has options, else by exact match (open questions)."""
    if options:
        return option_match(answer, options, prediction, option_index)
    return exact_match(prediction, answer)


def names_any(prediction: str, names: list[str]) -> bool:
    """An open answer that names one of `names` as whole words ("Probably a giraffe (91%)" names
    "giraffe"; "giraffes" names it too, by its plural). Nothing is named by an empty answer."""
    said = f" {normalise(prediction)} "
    for name in names:
        wanted = normalise(name)
        if wanted and any(f" {form} " in said for form in (wanted, wanted + "s", wanted + "es")):
            return True
    return False
