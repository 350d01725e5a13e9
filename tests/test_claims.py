"""Yes/no questions as claims with a polarity (mexa_ray.reasoning.claims), through the evidence-ranking
aggregator: stated, stated as absent, contradicted, not mentioned; negated questions; counts and
reported numbers compared with the question's."""

import pytest

from mexa_ray.config import AggregatorSpec
from mexa_ray.experts.text_utils import is_yes_no_question
from mexa_ray.reasoning.aggregation import EvidenceRankingAggregator
from mexa_ray.reasoning.claims import (
    ABSENT,
    CONTRADICTED,
    NOT_MENTIONED,
    STATED,
    check_claim,
    parse_claim,
)
from mexa_ray.reasoning.evidence import claim_terms, units_of
from mexa_ray.types import ExpertReport, Media, Query

SCENE = (
    "Background colour: plain white.\nObject colours: red 60%, blue 40%.\n"
    "Shapes: a red triangle at the centre (6%); a blue square at the top left (4%)."
)


@pytest.fixture(scope="module")
def aggregator(embedder):
    return EvidenceRankingAggregator(AggregatorSpec(), embedder)


def ask(aggregator, question, options, *reports):
    query = Query(question, list(options), media=[Media("image", path="/x/a.png")])
    return aggregator.answer(query, [ExpertReport("vision", "A2", r, 0.1) for r in reports])


@pytest.mark.parametrize(
    "question, words, negated, compare",
    [
        ("Is there a red circle?", ["red", "circl"], False, None),
        ("Is there no red circle in the picture?", ["red", "circl"], True, None),
        ("Isn't the heart blue?", ["heart", "blue"], True, None),
        ("Does the picture not show a dog?", ["dog"], True, None),
        ("Are there more than three circles?", ["circl"], False, (">", 3.0, None)),
        ("Are there no more than 2 dogs?", ["dog"], False, ("<=", 2.0, None)),
        ("Are there at least two cats?", ["cat"], False, (">=", 2.0, None)),
        ("Are there three stars?", ["star"], False, ("==", 3.0, None)),
        (
            "Is it not true that there are fewer than 4 cars?",
            ["true", "car"],
            True,
            ("<", 4.0, None),
        ),
    ],
)
def test_a_question_parses_into_words_polarity_and_comparison(question, words, negated, compare):
    claim = parse_claim(question, claim_terms)
    assert [t for t in claim.terms if isinstance(t, str)] == words
    assert claim.negated is negated
    assert claim.compare == compare


def test_only_questions_that_open_as_yes_no_questions_are_claims():
    assert is_yes_no_question("Is there a dog?")
    assert is_yes_no_question("Doesn't it bark?")
    assert not is_yes_no_question("Which clutch completion is most frequent?")
    assert not is_yes_no_question("What is the answer?")


@pytest.mark.parametrize(
    "question, reports, outcome, holds",
    [
        ("Is there a red triangle?", [SCENE], STATED, True),
        ("Is there a blue triangle?", [SCENE], CONTRADICTED, False),
        ("Is there a green star?", [SCENE], NOT_MENTIONED, False),
        ("Is there a dog?", ["Objects: a cat on a sofa; no dog."], ABSENT, False),
        ("Are there more than two circles?", ["Shapes: 3 red circles."], STATED, True),
        ("Are there more than three circles?", ["Shapes: 3 red circles."], CONTRADICTED, False),
        (
            "Are there at least two circles?",
            ["Shapes: a red circle, a blue circle, a square."],
            STATED,
            True,
        ),
        (
            "Are there exactly two squares?",
            ["Shapes: a red circle, a blue circle, a square."],
            CONTRADICTED,
            False,
        ),
    ],
)
def test_the_reports_state_deny_contradict_or_leave_out_a_claim(question, reports, outcome, holds):
    units = units_of([ExpertReport("vision", "A2", r, 0.1) for r in reports])
    check = check_claim(parse_claim(question, claim_terms), units)
    assert (check.outcome, check.holds) == (outcome, holds)


@pytest.mark.parametrize(
    "question, gold, says",
    [
        ("Is there a red triangle in the picture?", "yes", "a report states it"),
        ("Is there no red triangle in the picture?", "no", "does NOT hold"),
        ("Is there not a blue triangle?", "yes", "says otherwise"),
        ("Is there no green star?", "yes", "no report states or excludes it"),
        ("Isn't the square blue?", "no", "a report states it"),
        ("Are there more than one triangle?", "no", "name it 1 times"),
        ("Are there fewer than two squares?", "yes", "comparison holds"),
    ],
)
def test_negated_and_counting_questions_answer_in_every_option_order(
    aggregator, question, gold, says
):
    for options in (["yes", "no"], ["no", "yes"]):
        verdict = ask(aggregator, question, options, SCENE)
        assert verdict.answer == gold, verdict.reasoning
        assert says in verdict.reasoning


def test_a_claim_no_report_bears_on_is_answered_with_low_confidence(aggregator):
    scorer = aggregator.scorer
    units = units_of([ExpertReport("vision", "A2", SCENE, 0.1)])
    unknown = scorer.score("Is there a green star?", ["yes", "no"], units)
    known = scorer.score("Is there a red triangle?", ["yes", "no"], units)
    assert unknown.confidence < 0.5 <= known.confidence


def test_yes_no_options_to_a_question_that_asks_for_a_value_are_scored_as_values(aggregator):
    report = "Column 'clutch completion' (text): most common Yes (312 of 344 rows), then No (32)."
    verdict = ask(aggregator, "Which clutch completion is most common?", ["No", "Yes"], report)
    assert verdict.answer == "Yes"
    assert "claims" not in verdict.reasoning


def test_a_negation_elsewhere_in_a_statement_does_not_deny_the_claim():
    units = units_of([ExpertReport("vision", "A2", "Shapes: a red circle, not moving.", 0.1)])
    check = check_claim(parse_claim("Is there a red circle?", claim_terms), units)
    assert (check.outcome, check.holds) == (STATED, True)
    units = units_of([ExpertReport("vision", "A2", "Shapes: there is no large red circle.", 0.1)])
    check = check_claim(parse_claim("Is there a red circle?", claim_terms), units)
    assert (check.outcome, check.holds) == (ABSENT, False)
