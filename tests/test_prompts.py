"""The router's skill-id parser, the answer extractor and the prompt builders, on the kinds of
strings real models write."""

from __future__ import annotations

import pytest

from mexa_ray.models.llm import split_reasoning
from mexa_ray.reasoning.prompts import (
    REPORT_TEMPLATES,
    aggregator_messages,
    extract_option,
    parse_skill_ids,
    router_card,
    router_messages,
)
from mexa_ray.reasoning.skills import DEFAULT_SKILLS, MEXA_SKILLS
from mexa_ray.types import ExpertReport, Media, MissingExpert, Query

KNOWN = [s.id for s in DEFAULT_SKILLS]


@pytest.mark.parametrize(
    "text, ids, unknown",
    [
        ("B2, B3", ["B2", "B3"], []),
        ("B2,B3", ["B2", "B3"], []),
        (" b2 ,  c1 \n", ["B2", "C1"], []),
        ("A1\nA2\nE1", ["A1", "A2", "E1"], []),
        ("[C1, C2]", ["C1", "C2"], []),
        ("Skills: `B1`; `B2`.", ["B1", "B2"], []),
        ("The question is about sounds, so I pick B2 and B3.", ["B2", "B3"], []),
        ("B-2, C_1", ["B2", "C1"], []),
        ("B2, B2, B3", ["B2", "B3"], []),
        ("B2, Z9, Q12", ["B2"], ["Z9", "Q12"]),
        ("a 3D scene with 2 chairs", [], []),  # "3D" is not A3, "2 chairs" is no id
        ("I think a1 fits", ["A1"], []),
        ("None of the skills apply.", [], []),
        ("", [], []),
        ("F2 F20", ["F2"], ["F20"]),
    ],
)
def test_parse_skill_ids(text, ids, unknown):
    assert parse_skill_ids(text, KNOWN) == (ids, unknown)


def test_parse_skill_ids_only_accepts_offered_ids():
    assert parse_skill_ids("C1, B2", ["B2", "B3"]) == (["B2"], ["C1"])


OPTIONS = ["music", "speech", "silence", "a dog barking"]


@pytest.mark.parametrize(
    "text, index",
    [
        ("B", 1),
        ("(B)", 1),
        ("B.", 1),
        ("B)", 1),
        ("b", 1),
        ("(c)", 2),
        ("Answer: B", 1),
        ("answer: (D)", 3),
        ("The answer is C.", 2),
        ("**A**", 0),
        ("The correct option is (B) speech.", 1),
        ("B. speech", 1),
        ("speech", 1),
        ("It is a dog barking in the distance.", 3),
        ("Music.", 0),
        ("I would say the answer is D because of the barking.", 3),
        ("E", None),
        ("none of these", None),
        ("", None),
        ("(A) or (B)", None),  # two letters named: ambiguous, not guessed
    ],
)
def test_extract_option(text, index):
    assert extract_option(text, OPTIONS) == index


def test_extract_option_prefers_longest_option_text():
    assert extract_option("the sound is a dog barking", ["dog", "a dog barking", "cat"]) == 1


def test_extract_option_without_options():
    assert extract_option("B", []) is None


@pytest.mark.parametrize(
    "raw, opened, reasoning, answer, cut",
    [
        ("<think>the reports say music</think>B", False, "the reports say music", "B", False),
        (
            "the reports say music</think>\n\nAnswer: B",
            True,
            "the reports say music",
            "Answer: B",
            False,
        ),
        (
            "<think>still thinking, ran out of tok",
            False,
            "still thinking, ran out of tok",
            "",
            True,
        ),
        # the template opened <think> and the model was cut off: the option it was weighing is no
        # answer
        ("Option (A) red d", True, "Option (A) red d", "", True),
        ("Just an answer.", False, "", "Just an answer.", False),
        ("<think>a</think><think>b</think>C", False, "a\nb", "C", False),
    ],
)
def test_split_reasoning(raw, opened, reasoning, answer, cut):
    assert split_reasoning(raw, opened) == (reasoning, answer, cut)


def _query(**kw) -> Query:
    return Query(
        question="What is the dominant sound?",
        options=["music", "speech"],
        media=[Media("audio", path="/x.wav")],
        task="MMAU sound",
        **kw,
    )


def test_router_prompt_lists_skills_by_area_and_asks_for_ids():
    skills = [s for s in MEXA_SKILLS if s.id in ("B1", "B2", "B3", "C1")]
    messages = router_messages(_query(), skills, ["audio"])
    assert messages[0]["role"] == "system"
    text = messages[1]["content"]
    for needle in (
        "Task type: MMAU sound",
        "Input modalities: audio",
        "Question: What is the dominant sound?",
        "(A) music",
        "(B) speech",
        "Audio:\n  B1: Video Subtitle Extraction",
        "3D:\n  C1: 3D Scene Description",
        "separated by commas",
    ):
        assert needle in text
    assert "A1" not in text  # only the skills offered are listed


def test_router_prompt_attaches_frames_for_a_vision_router():
    from PIL import Image

    frame = Image.new("RGB", (8, 8))
    content = router_messages(_query(), list(MEXA_SKILLS[:2]), ["video"], [frame, frame])[1]
    assert [p["type"] for p in content["content"]] == ["image", "image", "text"]


def test_aggregator_prompt_uses_one_template_per_skill():
    reports = [
        ExpertReport("asr", "B1", "[0.0-1.0s] hello", 0.1),
        ExpertReport("audio", "B3", "A steady 120 bpm melody.", 0.1),
        ExpertReport("custom", "X7", "custom text", 0.1),
    ]
    text = aggregator_messages(_query(), reports, [MissingExpert("vlm", "timed out")])[1]["content"]
    assert "Subtitles (speech transcript with timestamps) from asr:\n[0.0-1.0s] hello" in text
    assert "Music caption from audio:\nA steady 120 bpm melody." in text
    assert "Report (X7) from custom:\ncustom text" in text
    assert "Experts that did not report: vlm (timed out)" in text
    assert text.rstrip().endswith(
        "Answer with the option's letter from the given choices directly. Answer:"
    )
    assert set(REPORT_TEMPLATES) == set(KNOWN)  # every built-in skill has its template


def test_aggregator_prompt_for_open_questions():
    q = Query(question="What is said?")
    text = aggregator_messages(q, [], [])[1]["content"]
    assert "(no expert report is available)" in text
    assert "Answer the question directly" in text


def test_router_prompt_shows_the_experts_cards_with_limitations_after_the_skills():
    skills = [s for s in MEXA_SKILLS if s.id in ("B1", "B3")]
    cards = [
        router_card("speech", ["B1"], "Whisper transcript with timestamps.", "English only."),
        router_card("audio-signal", ["B3"], "Tempo, loudness and pitch."),
    ]
    text = router_messages(_query(), skills, ["audio"], cards=cards)[1]["content"]
    experts = text.index("Experts that apply them:\n")
    assert text.index("  B3: ") < experts  # after the catalogue
    assert (
        "  speech (B1): Whisper transcript with timestamps. Limitations: English only.\n"
        "  audio-signal (B3): Tempo, loudness and pitch.\n"
    ) in text[experts:]
    assert text.count("Limitations") == 1  # an expert without limitations shows none
