"""The tiny twins' teaching: a twin that has not learned its reply raises at build time, naming
itself, and a taught twin answers prompts of its families that it was never taught on."""

from __future__ import annotations

import pytest
import teaching
import tiny_models
from conftest import LRM_REPLY

from mexa_ray.config import ModelSpec
from mexa_ray.models.transformers_engine import TransformersGenerator

pytestmark = pytest.mark.slow  # builds and trains a model


def test_a_twin_that_does_not_fit_raises_naming_the_model_and_the_prompts(tmp_path):
    folder = tiny_models.causal_lm(tmp_path / "untaught")  # random weights
    weights = (folder / "model.safetensors").read_bytes()
    with pytest.raises(teaching.TwinNotTaught) as caught:
        teaching.teach(
            folder, "text", "Answer: (B)", {"varied": teaching.varied_prompts}, max_steps=5
        )
    message = str(caught.value)
    assert str(folder) in message and "'Answer: (B)'" in message and "in 5 steps" in message
    # the prompts that miss the margin, each with its summed loss
    assert "unseen prompts miss the margin" in message and "varied prompt" in message
    # the half-taught weights were not saved over the random ones
    assert (folder / "model.safetensors").read_bytes() == weights


def test_a_taught_twin_answers_prompts_of_its_families_it_never_saw(tiny):
    gen = TransformersGenerator(
        ModelSpec(model=str(tiny["lrm"]), temperature=0, max_new_tokens=64), "lrm"
    )
    unseen = teaching.aggregator_prompts(seed=424242) + teaching.varied_prompts(seed=424242)
    outs = gen.generate(unseen)
    assert [o.raw.strip() for o in outs] == [LRM_REPLY] * len(unseen)
    assert all(o.finished for o in outs)
