"""Experts whose report is written by a vision- or audio-language model.

A media item becomes one or more prompts (an image, each sampled video frame, each CT slice,
each rendered 3D view, an audio clip); the prompts of a whole batch of requests go through the
model in one `generate`, and the captions are put back together per item with their labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mexa_ray.config import ExpertSpec
from mexa_ray.experts.base import BatchedExpert, Prepared, required_model
from mexa_ray.experts.settings import GenerativeSettings
from mexa_ray.models.llm import build_generator
from mexa_ray.reasoning.prompts import expert_instruction
from mexa_ray.types import Media, Query, Skill


@dataclass
class Prompt:
    """One model call for one media item: a label ("12.5s", "axial slice 40") and the user
    message's content parts (media first, then the instruction)."""

    label: str
    content: list[dict[str, Any]]


def image_prompt(label: str, image: Any, instruction: str) -> Prompt:
    return Prompt(label, [{"type": "image", "image": image}, {"type": "text", "text": instruction}])


def to_pil(frame: np.ndarray, max_side: int | None = None) -> Any:
    """An RGB PIL image, shrunk (aspect kept) to at most `max_side` pixels a side."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(frame[..., :3]).astype(np.uint8))
    if max_side is not None and max(image.size) > max_side:
        image.thumbnail((max_side, max_side))
    return image


class GenerativeExpert(BatchedExpert):
    """Loads its model once (in `__init__`, so a replica is ready only when it can serve);
    subclasses turn an item into prompts (`prepare`) and may format the captions (`compose`)."""

    Settings = GenerativeSettings
    settings: GenerativeSettings
    reads_question = True

    def __init__(self, spec: ExpertSpec, skills: dict[str, Skill]) -> None:
        super().__init__(spec, skills)
        self.generator = build_generator(required_model(spec), f"experts.{spec.name}.model")
        # an endpoint's model is warm already, and each run would be a call someone pays for
        self.warms_up = required_model(spec).backend != "openai"
        #: per-skill instruction overrides, e.g. {E1: "Read the licence plate."}
        self.instructions: dict[str, str] = dict(self.settings.instructions)

    def instruction(self, skill: Skill, query: Query) -> str:
        return expert_instruction(skill.id, query.question, self.instructions)

    def infer(self, inputs: list[Prompt]) -> list[str]:
        outs = self.generator.generate([[{"role": "user", "content": p.content}] for p in inputs])
        return [o.text.strip() for o in outs]

    def compose(
        self, item: Media, query: Query, skill: Skill, prepared: Prepared, outputs: list[str]
    ) -> str:
        prompts = prepared.inputs
        if len(prompts) == 1 and not prompts[0].label:
            body = outputs[0]
        else:
            body = "\n".join(f"[{p.label}] {text}" for p, text in zip(prompts, outputs))
        return f"{prepared.header}\n{body}" if prepared.header else body

    def check_health(self) -> None:
        self.generator.check_health()
