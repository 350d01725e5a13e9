"""The evidence scorer (mexa_ray.reasoning.evidence), the region geometry and colour naming it relies on,
and the evidence-ranking aggregator's answers and reasoning."""

import itertools
import math

import numpy as np
import pytest

from mexa_ray.config import AggregatorSpec
from mexa_ray.experts.colours import colour_name
from mexa_ray.experts.regions import find_regions
from mexa_ray.reasoning.aggregation import EvidenceRankingAggregator
from mexa_ray.reasoning.evidence import OptionScorer, numbers_match, terms, units_of
from mexa_ray.types import ExpertReport, Media, Query


def rep(text, expert="e", skill="S"):
    return ExpertReport(expert, skill, text, 0.1)


@pytest.fixture(scope="module")
def aggregator(embedder):
    return EvidenceRankingAggregator(AggregatorSpec(), embedder)


def ask(aggregator, question, options, *reports):
    query = Query(question, list(options), media=[Media("image", path="/x/a.png")])
    return aggregator.answer(query, [rep(r) for r in reports])


@pytest.mark.parametrize(
    "a, b, same",
    [
        (14.83, 14.83, True),
        (3.14159, 3.142, True),
        (0.362, 0.36, True),
        (99.74, 99.7, True),
        (13.0, 13.0006, True),
        (442, 441, False),
        (0.13, 0.31, False),
        (5, -5, False),
        (0, 0.1, False),
    ],
)
def test_numbers_match_as_printed(a, b, same):
    assert numbers_match(a, b) is same


def test_terms_normalise_numbers_words_spelling_and_synonyms():
    assert terms("ten of clubs") == terms("10 of clubs")
    assert terms("What colour is it?") == terms("what color is it")
    assert terms("the highest value") == terms("maximum value") == terms("max values")
    assert terms("Circles") == terms("circle") == terms("discs") == terms("round")
    assert terms("violet") == terms("purple") and terms("the total") == terms("sum")


def test_units_keep_the_head_of_key_value_pairs():
    texts = [u.text for u in units_of([rep("Column 'x' (number): min 1, max 9, mean 5")])]
    assert "Column 'x' (number): max 9" in texts and "Column 'x' (number): min 1" in texts


@pytest.mark.parametrize(
    "question, options, report, gold",
    [
        (
            "What colour is the shape?",
            ["white", "red", "green", "blue"],
            "A bright picture, mostly white, with a red triangle at the centre.\nBackground colour: "
            "plain white.\nObject colours: red 100%.\nShapes: a red triangle at the centre (4% of the "
            "picture).",
            "red",
        ),
        (
            "What is the highest alcohol in the table?",
            ["11.03", "13", "14.83", "2.34"],
            "Column 'alcohol' (number): min 11.03, max 14.83, mean 13, median 13.04.",
            "14.83",
        ),
        (
            "Which card is named?",
            ["ten of clubs", "two of hearts", "ace of spades"],
            "Subtitles (en, 2.0 s of audio):\n[0.0-1.8s] 10 of clubs.",
            "ten of clubs",
        ),
        (
            "Which sentence is said in the recording?",
            [
                "Please enter your password followed by the pound key.",
                "Please enter your agent number followed by the pound key.",
                "Your call cannot be completed as dialed.",
                "All circuits are busy now.",
            ],
            "Subtitles (en, 4.1 s of audio):\n[0.0-2.2s] Please enter your agent\n[2.2-4.0s] number "
            "followed by the pound key.",
            "Please enter your agent number followed by the pound key.",
        ),
        (
            "How many rows does the table have?",
            ["221", "442", "884", "589"],
            "Table with 442 rows and 11 columns.\nColumn 'age' (number): min 19, max 79, mean 48.5.",
            "442",
        ),
    ],
)
def test_the_supported_option_wins_in_every_order(aggregator, question, options, report, gold):
    for perm in itertools.permutations(options):
        verdict = ask(aggregator, question, perm, report)
        assert verdict.answer == gold, perm
        assert verdict.option_index == list(perm).index(gold)


@pytest.mark.parametrize(
    "question, gold",
    [
        ("Is there a red triangle in the picture?", "yes"),
        ("Is there a blue triangle in the picture?", "no"),
        ("Is there a red circle in the picture?", "no"),
        ("Is the shape red?", "yes"),
    ],
)
def test_yes_no_questions_are_claims_checked_against_one_unit(aggregator, question, gold):
    report = (
        "Background colour: plain white.\nObject colours: red 60%, blue 40%.\nShapes: a red "
        "triangle at the centre (6%); a blue square at the top left (4%)."
    )
    for options in (["yes", "no"], ["no", "yes"]):
        verdict = ask(aggregator, question, options, report)
        assert verdict.answer == gold
        if gold == "yes":  # the statement that holds the claim is quoted as the report says it
            assert (
                'reports "Shapes: a red triangle at the centre (6%)"' in verdict.reasoning
                or 'reports "Object colours: red 60%"' in verdict.reasoning
            )


def test_reasoning_quotes_the_supporting_line_and_what_speaks_against(aggregator):
    verdict = ask(
        aggregator,
        "What colour is the shape?",
        ["white", "red"],
        "Background colour: plain white.\nObject colours: red 100%.\nShapes: a red "
        "triangle at the centre (4% of the picture).",
    )
    assert verdict.answer == "red"
    assert "red" in verdict.reasoning and "Against it, (A) white" in verdict.reasoning
    assert "{" not in verdict.reasoning  # words, never a JSON echo
    assert 0 < verdict.confidence <= 1


def test_a_term_every_option_shares_decides_nothing():
    scorer = OptionScorer()
    scored = scorer.score(
        "Which shape?",
        ["red circle", "blue circle"],
        units_of([rep("a blue circle at the centre; a red square at the left")]),
    )
    assert scored.ranked[0].index == 1


def _picture(draw_fn, background=(255, 255, 255)):
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (200, 200), background)
    draw_fn(ImageDraw.Draw(im))
    return np.asarray(im)


def _star(d):
    pts = [
        (
            100 + (80 if k % 2 == 0 else 32) * math.sin(k * math.pi / 5),
            100 - (80 if k % 2 == 0 else 32) * math.cos(k * math.pi / 5),
        )
        for k in range(10)
    ]
    d.polygon(pts, fill=(240, 220, 30))


def _heart(d):
    t = np.linspace(0, 2 * np.pi, 200)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    d.polygon(list(zip(100 + 5 * x, 95 - 5 * y)), fill=(220, 30, 30))


@pytest.mark.parametrize(
    "draw_fn, shape, colour",
    [
        (lambda d: d.ellipse((50, 50, 150, 150), fill=(40, 170, 40)), "circle", "green"),
        (lambda d: d.rectangle((50, 50, 150, 150), fill=(30, 60, 220)), "square", "blue"),
        (lambda d: d.rectangle((30, 70, 170, 130), fill=(130, 40, 170)), "rectangle", "purple"),
        (
            lambda d: d.polygon([(100, 30), (170, 160), (30, 160)], fill=(220, 30, 30)),
            "triangle",
            "red",
        ),
        (
            lambda d: d.polygon([(100, 20), (170, 100), (100, 180), (30, 100)], fill=(255, 140, 0)),
            "diamond",
            "orange",
        ),
        (_star, "star", "yellow"),
        (_heart, "heart", "red"),
    ],
)
def test_regions_name_shape_and_colour(draw_fn, shape, colour):
    background, regions = find_regions(_picture(draw_fn))
    assert colour_name(background) == "white"
    assert [(r.shape, r.colour) for r in regions] == [(shape, colour)]


def test_a_photograph_has_no_plain_background():
    noise = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    assert find_regions(noise) == (None, [])


@pytest.mark.parametrize(
    "rgb, name",
    [
        ((124, 179, 66), "green"),
        ((255, 140, 0), "orange"),
        ((128, 77, 26), "brown"),
        ((250, 250, 250), "white"),
        ((10, 10, 10), "black"),
        ((215, 215, 215), "light grey"),
        ((30, 60, 220), "blue"),
        ((130, 40, 170), "purple"),
        ((240, 220, 30), "yellow"),
    ],
)
def test_colour_names_follow_hue(rgb, name):
    assert colour_name(rgb) == name


@pytest.mark.parametrize(
    "text, expected",
    [
        ("120 cm", [1.2, "m"]),
        ("1.2 metres", [1.2, "m"]),
        ("3 ft", [0.9144, "m"]),
        ("5kg", [5.0, "kg"]),
        ("in 2 minutes", [120.0, "s"]),
        ("the second row", ["second", "row"]),  # no number before it: not a unit
        ("mean 48.5, min 19", ["mean", 48.5, "min", 19.0]),  # "min" is a report's minimum
    ],
)
def test_quantities_are_read_in_base_units(text, expected):
    assert terms(text) == expected


SIZES = (
    "The object: height 1.18 m (z), width 0.52 m (x), depth 0.4 m (y); tall; no floor was "
    "found, so the whole cloud is taken as one object and its clusters as its parts.\n"
    "Part 1: 120 points, centred at (0.1, 0.2, 0.3); height 0.312 m (z), width 0.214 m (x), "
    "depth 0.108 m (y); flat."
)


@pytest.mark.parametrize(
    "question, options, gold",
    [
        ("How tall is the object?", ["0.5 m", "1.2 m", "2.5 m", "60 cm"], "1.2 m"),
        ("How tall is the object?", ["50 cm", "120 cm", "250 cm", "60 cm"], "120 cm"),
        ("How tall is the object in centimetres?", ["50", "120", "250", "60"], "120"),
        ("How wide is the object?", ["0.5 m", "1.2 m", "2.5 m", "4 m"], "0.5 m"),
        ("How deep is the object?", ["0.9 m", "1.2 m", "2.5 m", "40 cm"], "40 cm"),
        # no option is stated: the nearest stated quantity in the asked dimension
        ("What is the object's height?", ["0.25 m", "0.6 m", "1.4 m", "3 m"], "1.4 m"),
    ],
)
def test_sizes_meet_options_in_other_units_or_the_nearest_one(aggregator, question, options, gold):
    for perm in itertools.permutations(options):
        verdict = ask(aggregator, question, perm, SIZES)
        assert verdict.answer == gold, (perm, verdict.reasoning)


def test_stemming_from_many_threads_at_once_gives_the_words_stems():
    """A replica scores requests in a thread pool: the shared Snowball stemmer keeps its word in
    the instance, and unguarded it raised IndexError under a burst (the first CI run of the
    replicated control path answered one request 500)."""
    import itertools
    import random
    import threading

    from mexa_ray.experts import text_utils

    rng = random.Random(0)
    stems = ["".join(rng.choice("abcdefghiklmnoprstuw") for _ in range(6)) for _ in range(300)]
    words = [s + end for s, end in itertools.product(stems, ("ing", "ed", "s", "ation", "ness"))]
    text_utils._stem.cache_clear()
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def work(part: list[str]) -> None:
        for w in part:
            try:
                results[w] = text_utils._stem(w)
            except Exception as exc:  # noqa: BLE001 - collected: the assertion names them
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(words[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    text_utils._stem.cache_clear()
    assert results == {w: text_utils._stem(w) for w in words}
