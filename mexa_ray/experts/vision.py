"""Vision-language expert for image and video skills (A1-A3, D2, E1-E3, F1, F2, G1, G2).

Any transformers image-text-to-text model (Qwen2.5-VL, LLaVA, SmolVLM, Gemma 3, ...) with a
skill-specific instruction; video is sampled uniformly with PyAV and each frame is captioned with
its timestamp, all frames in one batch.
"""

from __future__ import annotations

from mexa_ray.experts.base import Prepared
from mexa_ray.experts.generative import GenerativeExpert, image_prompt, to_pil
from mexa_ray.experts.settings import VisionSettings
from mexa_ray.media.image import read_image
from mexa_ray.media.video import read_frames
from mexa_ray.types import Media, Query, Skill


class VisionLanguageExpert(GenerativeExpert):
    """Captions an image, or each sampled frame of a video; see VisionSettings."""

    settings: VisionSettings

    def prepare(self, item: Media, query: Query, skill: Skill) -> Prepared:
        instruction = self.instruction(skill, query)
        max_side = self.settings.max_side
        if item.type == "image":
            return Prepared(
                [image_prompt("", to_pil(read_image(item.local_path()), max_side), instruction)]
            )
        frames = read_frames(item.local_path(), max_frames=self.settings.frames, max_side=max_side)
        return Prepared(
            [
                image_prompt(f"{t:.1f}s", to_pil(f), instruction)
                for t, f in zip(frames.times, frames.frames)
            ],
            header="Frame captions ([time] caption):",
        )
