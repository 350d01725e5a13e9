"""The GPU configs' architectures on the in-process model path, outside Serve: reasoning models
whose templates open <think>, decoding defaults from the checkpoint, Qwen2.5-VL's processor
without torchvision, Qwen2-Audio without transformers' multimodal Auto class, and a missing
package named at load."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import tiny_models
import torch
from conftest import GPU_AUDIO_REPLY, GPU_VLM_REPLY
from PIL import Image

from mexa_ray.config import AggregatorSpec, ModelSpec
from mexa_ray.errors import ConfigError
from mexa_ray.models.llm import build_generator
from mexa_ray.models.transformers_engine import TransformersGenerator
from mexa_ray.reasoning.aggregation import EvidenceRankingAggregator, LRMAggregator
from mexa_ray.reasoning.prompts import aggregator_messages, extract_option
from mexa_ray.types import ExpertReport, Query

COLOUR = Query(question="What colour is the square?", options=["red", "green", "blue"])
REPORTS = [
    ExpertReport(
        expert="vision",
        skill="A2",
        text="A square in the centre of the picture. Its colour is green.",
        latency_s=0.1,
    )
]


def generator(path: Path, **spec) -> TransformersGenerator:
    return TransformersGenerator(ModelSpec(model=str(path), **spec), "aggregator.llm")


def test_templates_that_open_thinking_are_recognised(gpu_models):
    assert generator(gpu_models["r1"]).opens_thinking  # <｜Assistant｜><think>\n
    assert generator(gpu_models["qwq"]).opens_thinking  # <|im_start|>assistant\n<think>\n
    assert not generator(gpu_models["qwen25"]).opens_thinking


def test_an_answer_is_never_taken_from_unfinished_thinking(gpu_models, embedder):
    fallback = EvidenceRankingAggregator(AggregatorSpec(), embedder)
    full = LRMAggregator(generator(gpu_models["r1"], max_new_tokens=64), fallback)
    verdict = full.answer(COLOUR, REPORTS)
    assert (verdict.answer, verdict.reasoning) == (
        "green",
        "Option (A) red does not match the vision report, which names green.",
    )
    assert not verdict.notes

    cut = LRMAggregator(generator(gpu_models["r1"], max_new_tokens=8), fallback)
    out = cut.generator.generate([aggregator_messages(COLOUR, REPORTS, [])])[0]
    # the template opened <think>, so this is thinking that never closed, whose words name (A)
    assert (out.thinking_cut, out.text, out.finished) == (True, "", False)
    assert out.reasoning.startswith("Option (A) red")
    assert extract_option(out.raw, COLOUR.options) == 0  # what reading it as an answer gives
    verdict = cut.answer(COLOUR, REPORTS)
    assert (verdict.answer, verdict.option_index) == ("green", 1)  # from the reports
    assert any(
        "still thinking when it stopped at max_new_tokens=8" in n
        and "evidence ranking answered" in n
        for n in verdict.notes
    )
    assert "The LRM's unfinished thinking: Option (A) red" in verdict.reasoning


def test_decoding_follows_the_checkpoint_unless_the_config_says(tmp_path):
    path = tiny_models.r1_distill(tmp_path / "r1-sampled")  # random weights, sampled by default
    conversation = [{"role": "user", "content": "Which option fits the reports?"}]

    def decoding_used(gen: TransformersGenerator) -> dict:
        """The sampling `generate` ran with: the checkpoint's generation_config merged with the
        engine's arguments, as transformers resolves them (read from the logits processors
        it built, not from what a sampled output happens to look like)."""
        seen = {}
        real = gen.model._get_logits_processor

        def spy(generation_config, *args, **kwargs):
            seen.update(
                do_sample=generation_config.do_sample,
                temperature=generation_config.temperature,
                top_p=generation_config.top_p,
            )
            return real(generation_config, *args, **kwargs)

        gen.model._get_logits_processor = spy
        gen.generate([conversation])
        return seen

    own = generator(path, max_new_tokens=16)
    assert own.decoding == {}  # generate() reads the checkpoint's generation_config
    # sampled, as R1's card advises
    assert decoding_used(own) == {"do_sample": True, "temperature": 0.6, "top_p": 0.95}

    greedy = generator(path, max_new_tokens=16, temperature=0)
    assert decoding_used(greedy)["do_sample"] is False
    torch.manual_seed(0)
    first = greedy.generate([conversation])[0].raw
    torch.manual_seed(1)
    assert greedy.generate([conversation])[0].raw == first
    assert generator(path, temperature=0.3, top_p=0.9).decoding == {
        "do_sample": True,
        "temperature": 0.3,
        "top_p": 0.9,
    }


def test_qwen25_vl_describes_images_without_torchvision(gpu_models):
    gen = TransformersGenerator(
        ModelSpec(model=str(gpu_models["vl"]), kind="vision", max_new_tokens=12),
        "experts.vision.model",
    )
    assert type(gen.model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    if importlib.util.find_spec("torchvision") is None:
        # its video processor needs torchvision; MEXA sends video as sampled frames anyway
        assert gen.processor.video_processor is None
        assert type(gen.processor.image_processor).__name__ == "Qwen2VLImageProcessorPil"
    else:
        assert gen.processor.video_processor is not None
    pictures = [
        Image.new("RGB", size, colour)
        for size, colour in (((100, 80), "green"), ((300, 120), "red"))
    ]
    conversations = [
        [
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": p},
                    {"type": "text", "text": "Describe it."},
                ],
            }
        ]
        for p in pictures
    ]
    assert [g.text for g in gen.generate(conversations)] == [GPU_VLM_REPLY] * 2


def test_audio_model_loads_by_its_architecture_where_transformers_lacks_the_auto_class(
    gpu_models, monkeypatch
):
    import numpy as np
    import transformers

    # transformers 4.x has no AutoModelForMultimodalLM
    monkeypatch.setattr(transformers, "AutoModelForMultimodalLM", None)
    gen = TransformersGenerator(
        ModelSpec(model=str(gpu_models["audio"]), kind="audio", max_new_tokens=24),
        "experts.audio.model",
    )
    assert type(gen.model).__name__ == "Qwen2AudioForConditionalGeneration"
    tone = np.sin(np.linspace(0, 880 * np.pi, gen.sampling_rate)).astype(np.float32)
    out = gen.generate(
        [
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "audio", "audio": tone},
                        {"type": "text", "text": "What is heard?"},
                    ],
                }
            ]
        ]
    )
    assert out[0].text == GPU_AUDIO_REPLY

    with pytest.raises(ConfigError) as err:  # named by the config: no silent substitute
        TransformersGenerator(
            ModelSpec(
                model=str(gpu_models["audio"]), kind="audio", auto_class="AutoModelForMultimodalLM"
            ),
            "experts.audio.model",
        )
    assert err.value.field == "experts.audio.model.auto_class"


def test_a_missing_package_fails_at_load_naming_the_expert_and_the_package(tmp_path):
    """A checkpoint whose code needs a package that is not installed (as hub models with remote
    code need flash_attn, einops or timm) is a config error before any request."""
    folder = tmp_path / "needs-a-package"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "needs-a-package",
                "auto_map": {
                    "AutoConfig": "configuration_needs.NeedsConfig",
                    "AutoModelForCausalLM": "modeling_needs.NeedsModel",
                },
            }
        )
    )
    (folder / "configuration_needs.py").write_text(
        "import mexa_absent_package\nfrom transformers import PretrainedConfig\n\n\n"
        "class NeedsConfig(PretrainedConfig):\n    model_type = 'needs-a-package'\n"
    )
    spec = ModelSpec(model=str(folder), trust_remote_code=True)
    with pytest.raises(ConfigError) as err:
        build_generator(spec, "experts.captioner.model")
    assert err.value.field == "experts.captioner.model.model"
    assert "needs the mexa_absent_package package, which is not installed" in str(err.value)
