"""Answers reasoned from typed facts (`mexa_ray.reasoning.reading`): reports read as quantities,
extremes, recognised classes, transcripts and computed answers; options read as ranges, axes,
spoken tokens and things; each reading decides in every order of the options, and says why."""

from __future__ import annotations

import itertools
import math

import pytest

from mexa_ray.reasoning.evidence import units_of
from mexa_ray.reasoning.facts import read_facts
from mexa_ray.reasoning.lexicon import compounds, lexicon
from mexa_ray.reasoning.reading import asked_kind, open_answer, read_answer
from mexa_ray.reasoning.spoken import sounds_like
from mexa_ray.reasoning.typed_options import Interval, axis, interval
from mexa_ray.types import ExpertReport

POINTS = (
    "Point cloud with 20000 points.\n"
    "Longest side of the scene: along y (depth), 0.9 m; shortest side: along z (height), 0.3 m.\n"
    "The object: height 0.321 m (z), width 0.4 m (x), depth 0.9 m (y); of medium proportions."
)
IMAGENET = (
    "Closest ImageNet classes (efficientnet-lite0): bell cote 36% (tower, structure); "
    "monastery 28% (religious residence, residence, housing); church 9% (place of worship)."
)
SOUND = (
    "Sound events (AudioSet classes, peak score over the 3.1 s clip): Roaring cats (lions, "
    "tigers) 0.61 (animal; wild animals); Cattle, bovinae 0.40 (animal; livestock); "
    "Animal 0.90."
)


def reports(*texts: str, expert: str = "expert", skill: str = "A2") -> list:
    return units_of([ExpertReport(expert, skill, t, 0.1) for t in texts])


def decided(question: str, options: list[str], *texts: str, expert: str = "expert") -> str:
    """The option the facts decide, checked the same in every order of the options."""
    picks = set()
    for order in itertools.permutations(options):
        found = read_answer(question, list(order), reports(*texts, expert=expert))
        assert found is not None, (question, order)
        picks.add(order[found.index])
    assert len(picks) == 1, picks
    return picks.pop()


# --- facts ------------------------------------------------------------------------------------


def test_report_lines_are_read_as_typed_facts():
    facts = read_facts(reports(POINTS, IMAGENET, SOUND))
    heights = [q for q in facts.quantities if "height" in q.measure]
    assert [(q.value, q.unit, q.axis) for q in heights][-1] == (0.321, "m", "z")
    assert {(e.end, e.axis) for e in facts.extremes} == {("max", "y"), ("min", "z")}
    labels = {r.label: (r.score, r.kinds) for r in facts.recognised}
    assert labels["bell cote"] == (0.36, ["tower", "structure"])
    assert labels["Roaring cats (lions, tigers)"] == (0.61, ["animal", "wild animals"])
    roaring = next(r for r in facts.recognised if r.label.startswith("Roaring"))
    assert roaring.names == ["Roaring cats", "lions", "tigers"]


def test_transcripts_written_text_and_computed_answers_are_facts():
    said = ExpertReport("speech", "B1", "Subtitles (en, 1.0 s of audio):\n[0.0-0.8s] You.", 0.1)
    read = ExpertReport(
        "ocr", "E1", 'Text found in the image:\n"EXIT 42" (centre, confidence 0.97)', 0.1
    )
    computed = ExpertReport("table", "F2", "Computed answer: no (the mean awake is lower).", 0.1)
    facts = read_facts(units_of([said, read, computed]))
    assert [(t.text, t.reliable) for t in facts.transcripts] == [("You.", True)]
    assert [(w.text, w.confidence) for w in facts.written] == [("EXIT 42", 0.97)]
    assert [c.value for c in facts.computed] == ["no"]


# --- typed options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("less than 0.5 m", Interval(-math.inf, 0.5, True, False, "m")),
        ("0.5 to 1 m", Interval(0.5, 1.0, True, False, "m")),
        ("under 50 cm", Interval(-math.inf, 0.5, True, False, "m")),
        ("2 m or more", Interval(2.0, math.inf, True, True, "m")),
        ("between 3 and 5", Interval(3.0, 5.0, True, True, None)),
        ("at least 10 seconds", Interval(10.0, math.inf, True, True, "s")),
        ("red", None),
        ("1.2 m", None),
    ],
)
def test_options_are_read_as_ranges_in_base_units(option, expected):
    assert interval(option, "How tall is it?") == expected


def test_options_are_read_as_axes():
    assert [axis(o) for o in ["x", "the y axis", "height (z)", "along z", "red"]] == [
        "x",
        "y",
        "z",
        "z",
        None,
    ]


# --- readings ---------------------------------------------------------------------------------


def test_a_stated_height_falls_in_one_range():
    options = ["less than 0.5 m", "0.5 to 1 m", "1 to 2 m", "more than 2 m"]
    assert decided("How tall is the object?", options, POINTS) == "less than 0.5 m"
    # the same height in centimetres
    cm = ["less than 50 cm", "50 to 100 cm", "100 to 200 cm", "over 200 cm"]
    assert decided("How tall is it?", cm, POINTS) == "less than 50 cm"


def test_the_axis_of_an_extreme_answers_which_axis():
    assert decided("Along which axis is the object longest?", ["x", "y", "z"], POINTS) == "y"
    options = ["width (x)", "depth (y)", "height (z)"]
    assert decided("Along which axis is it shortest?", options, POINTS) == "height (z)"
    # from the sizes per axis alone, when no extreme is named
    sizes = "Object 1: height 1.2 m (z), width 0.3 m (x), depth 0.5 m (y)."
    assert decided("Along which axis is object 1 longest?", ["x", "y", "z"], sizes) == "z"
    # superlatives English forms by its spelling rules ask for their end of the scale too
    assert decided("In which direction is the scan thinnest?", ["x", "y", "z"], POINTS) == "z"
    assert decided("Along which axis is object 1 slimmest?", options, sizes) == "width (x)"
    assert decided("Along which axis is object 1 biggest?", options, sizes) == "height (z)"


def test_a_spoken_letter_is_matched_by_sound_not_spelling():
    said = "Subtitles (en, 1.0 s of audio):\n[0.0-0.8s] You."
    assert decided("Which letter does the speaker say?", ["C", "U", "Y", "R"], said) == "U"
    see = "Subtitles (en, 1.0 s of audio):\n[0.0-0.8s] See."
    assert decided("Which letter is spoken?", ["Z", "E", "C", "B"], see) == "C"
    two = "Subtitles (en, 1.0 s of audio):\n[0.0-0.8s] To."
    assert decided("Which number is said?", ["2", "3", "4", "8"], two) == "2"


def test_spellings_decide_without_espeak(monkeypatch):
    from mexa_ray.reasoning import spoken

    monkeypatch.setattr(spoken, "_espeak", lambda: None)
    assert sounds_like(["U", "C", "Y"], "You.") == [1.0, 0.0, 0.0]
    assert sounds_like(["2", "3"], "Two.") == [1.0, 0.0]


def test_a_kind_of_thing_is_not_a_thing_that_shares_a_word():
    lex = lexicon()
    assert lex.relation("sea lion", "lion").kind == "unrelated"
    assert lex.relation("bird", "lark").kind == "kind"
    assert lex.relation("bison", "cattle").kind == "close"
    assert compounds("two sea lions bark") == ("sea lion",)
    # the roar is a lion's, not a sea lion's; cattle make a bison the nearest kin
    options = ["lark", "bison", "sea lion", "rooster"]
    assert decided("Which animal makes this sound?", options, SOUND) == "bison"
    # a building recognised by its class: the option that names its kind
    assert decided("What is shown?", ["a tower", "a bridge", "a car"], IMAGENET) == "a tower"


def test_no_reading_applies_to_options_of_another_type():
    assert read_answer("What colour is it?", ["red", "blue"], reports(POINTS)) is None
    assert read_answer("How tall?", ["less than 1 m", "more than 1 m"], reports(IMAGENET)) is None


def test_a_computed_answer_decides_a_yes_no_question():
    text = "Computed answer: yes (the mean invest where firm is 'GM', 608, is higher)."
    question = "Is the mean invest where firm is 'GM' higher than where firm is 'Chrysler'?"
    assert decided(question, ["yes", "no"], text) == "yes"


# --- open answers -----------------------------------------------------------------------------


def test_an_open_question_about_a_photo_names_what_was_recognised():
    found = open_answer("What is shown in this photo?", reports(IMAGENET))
    assert found is not None
    assert found.answer.startswith("Probably") and "bell cote" in found.answer
    assert "monastery" in found.answer and "36%" in found.answer
    sure = open_answer("What is this?", reports(IMAGENET.replace("36%", "91%")))
    # a listed kind the lexicon does not hold the name to be of (WordNet's bell cote is a
    # shelter) goes unsaid
    assert sure is not None and sure.answer == "A bell cote (91%)."
    # a rarer name comes with the nearest kind it is of, unless the name says it already
    ram = "Closest ImageNet classes (efficientnet-lite0): ram 75% (sheep, bovid, mammal, animal)."
    assert open_answer("What is this?", reports(ram)).answer == "A ram, a kind of sheep (75%)."
    bear = "Closest ImageNet classes (efficientnet-lite0): polar bear 98% (bear, carnivore)."
    assert open_answer("What is this?", reports(bear)).answer == "A polar bear (98%)."


def test_a_sound_is_not_called_a_kind_of_its_category():
    clap = (
        "Sound events (AudioSet classes, peak score over the 2.0 s clip): Clapping 0.81 "
        "(hands; human group actions)."
    )
    found = open_answer("What sound is this?", reports(clap))
    assert found is not None and found.answer == "A clapping (81%)."


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What is shown in this photo?", "thing"),
        ("What animal is this?", "thing"),
        ("How many chairs are there?", "count"),
        ("What colour is the car?", "colour"),
        ("What is written on the sign?", "written"),
        ("What does the speaker say?", "said"),
        ("How tall is the object?", "quantity"),
        ("Why is the sky blue?", None),
    ],
)
def test_open_questions_are_read_by_what_they_ask(question, kind):
    assert asked_kind(question) == kind


def test_open_answers_of_other_kinds_come_from_their_facts():
    text = open_answer(
        "What is written here?",
        reports('Text found in the image:\n"EXIT 42" (centre, confidence 0.97)'),
    )
    assert text is not None and text.answer == "EXIT 42"
    tall = open_answer("How tall is the object?", reports(POINTS))
    assert tall is not None and tall.answer == "height 0.321 m"
    assert open_answer("What colour is it?", reports(POINTS)) is None


def test_an_approximate_value_is_the_option_nearest_the_named_data_point():
    data = "Data (category: value): 2002 75.5; 2003 77.8; 2004 84."
    options = ["130", "77", "27", "2.1"]
    assert decided("About what was the mean price in 2003?", options, data) == "77"
    # a count is not read as the nearest number: "Object 1" says nothing of how many
    objects = "3 separate objects apart from the planes.\nObject 1: 6284 points."
    assert read_answer("How many objects are there?", ["1", "3", "5"], reports(objects)) is None


def test_a_trend_answers_how_a_named_series_moves():
    text = "Trend of 'AAPL': falling, then rising.\nTrend of 'MSFT': falling."
    options = ["it rises", "it falls", "it rises, then falls", "it falls, then rises"]
    assert decided("How does AAPL change over the years?", options, text) == "it falls, then rises"
    assert decided("How does MSFT change over the years?", options, text) == "it falls"
