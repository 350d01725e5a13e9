import pytest

from mexa_ray.config import AggregatorSpec, load_config
from mexa_ray.errors import InvalidRequest, UnknownExpert
from mexa_ray.reasoning.aggregation import EvidenceRankingAggregator
from mexa_ray.reasoning.evidence import units_of
from mexa_ray.reasoning.routing import EmbeddingRouter
from mexa_ray.types import ExpertReport, Media, Query


@pytest.fixture(scope="module")
def router(embedder):
    return EmbeddingRouter(load_config("analytic"), embedder)


@pytest.fixture(scope="module")
def aggregator(embedder):
    return EvidenceRankingAggregator(AggregatorSpec(), embedder)


def q(question, *kinds, options=(), experts=None):
    return Query(
        question,
        list(options),
        media=[Media(type=k, path=f"/x/f.{k}") for k in kinds],
        experts=experts,
    )


@pytest.mark.parametrize(
    "question, kinds, expert, skill",
    [
        ("Which diagnosis is most common in the table?", ["table"], "table-profiler", "F2"),
        (
            "Where is the chair relative to the table in this room?",
            ["points"],
            "scene-geometry",
            None,
        ),
        ("What is the tempo of this song?", ["audio"], "audio-signal", "B3"),
        ("What happens in this video clip?", ["video"], "visual-stats", "A1"),
    ],
)
def test_router_picks_the_expert_for_the_modality(router, question, kinds, expert, skill):
    sel = router.select(q(question, *kinds))
    assert sel.router == "embedding"
    assert [s.expert for s in sel.experts] == [expert]
    if skill:
        assert sel.experts[0].skill == skill
    assert "similarity" in sel.experts[0].why


def test_router_covers_every_present_modality_and_reports_uncovered(router):
    sel = router.select(q("Does the sound match the picture?", "audio", "image", "volume"))
    assert {s.expert for s in sel.experts} == {"audio-signal", "visual-stats"}
    assert sel.uncovered == ["volume"]


def test_router_with_no_media_selects_nothing(router):
    assert router.select(q("What is 2 + 2?")).experts == []


def test_forced_experts_are_checked(router):
    sel = router.select(q("Describe.", "table", experts=["table-profiler"]))
    assert sel.router == "forced" and sel.experts[0].expert == "table-profiler"
    with pytest.raises(UnknownExpert) as info:
        router.select(q("Describe.", "table", experts=["nobody"]))
    assert info.value.field == "experts.0"
    with pytest.raises(InvalidRequest, match="has no such media"):
        router.select(q("Describe.", "table", experts=["audio-signal"]))


def rep(text, expert="e", skill="S"):
    return ExpertReport(expert, skill, text, 0.1)


def test_evidence_units_split_clauses_and_keep_the_head():
    units = units_of([rep("Column 'x' (text): 2 values; most common 'a'\n[0.0-1.2s] Plain")])
    texts = [u.text for u in units]
    assert texts[0] == "Column 'x' (text): 2 values; most common 'a' [0.0-1.2s] Plain"  # whole
    assert {
        "Column 'x' (text): 2 values",
        "Column 'x' (text): most common 'a'",
        "[0.0-1.2s] Plain",
    } <= set(texts)  # subtitle lines are evidence too
    atomic = {u.text for u in units if u.atomic}
    assert "Column 'x' (text): 2 values" in atomic and texts[0] not in atomic


def test_aggregator_chooses_the_supported_option_and_says_it_is_a_fallback(aggregator):
    reports = [
        rep("Sound character: noise-like (broadband, no clear pitch).", "audio-signal"),
        rep("Silence makes up 3% of the clip.", "audio-signal"),
    ]
    v = aggregator.answer(
        q("Is this music, speech or noise?", "audio", options=["music", "speech", "noise"]), reports
    )
    assert (v.answer, v.option_index) == ("noise", 2)
    assert "not an LRM" in v.reasoning and "audio-signal" in v.reasoning


def test_aggregator_numbers_count_as_evidence(aggregator):
    v = aggregator.answer(
        q("How many chairs are in the room?", "points", options=["2", "4", "5"]),
        [rep("4 separate objects (DBSCAN clusters) apart from the planes.")],
    )
    assert v.option_index == 1


def test_aggregator_open_question_quotes_the_best_evidence(aggregator):
    v = aggregator.answer(
        q("How long is the clip?", "audio"),
        [rep("Audio clip of 6 seconds at 16000 Hz.\nSilence makes up 0%.")],
    )
    assert v.option_index is None and "6 seconds" in v.answer


def test_aggregator_without_reports_does_not_guess(aggregator):
    v = aggregator.answer(q("Which?", options=["a", "b"]), [])
    assert v.option_index is None and v.answer == "unknown" and "No expert report" in v.reasoning
