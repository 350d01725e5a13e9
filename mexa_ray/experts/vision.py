"""Vision-language expert for image and video skills (A1-A3, D2, E1-E3, F1, F2, G1, G2).

Any transformers image-text-to-text model (Qwen2.5-VL, LLaVA, SmolVLM, Gemma 3, ...) with a
skill-specific instruction; video is sampled uniformly with PyAV and each frame is captioned with
its timestamp, all frames in one batch.
"""

from __future__ import annotations

from mexa_ray.experts.generative import GenerativeExpert, Prompt, image_prompt, to_pil
from mexa_ray.media.image import read_image
from mexa_ray.media.video import read_frames
from mexa_ray.types import Media, Query, Skill


class VisionLanguageExpert(GenerativeExpert):
    """options: frames (video frames sampled, default 8), max_side (frame size, default 448),
    instructions (per-skill overrides)."""

    def prepare(self, item: Media, query: Query, skill: Skill) -> list[Prompt]:
        instruction = self.instruction(skill, query)
        max_side = int(self.options.get("max_side", 448))
        if item.type == "image":
            image = to_pil(read_image(item.path))
            if max(image.size) > max_side:
                image.thumbnail((max_side, max_side))
            return [image_prompt("", image, instruction)]
        frames = read_frames(item.path, max_frames=int(self.options.get("frames", 8)),
                             max_side=max_side)
        return [image_prompt(f"{t:.1f}s", to_pil(f), instruction)
                for t, f in zip(frames.times, frames.frames)]

    def compose(self, item: Media, query: Query, skill: Skill, inputs: list[Prompt],
                outputs: list[str]) -> str:
        body = super().compose(item, query, skill, inputs, outputs)
        return f"Frame captions ([time] caption):\n{body}" if item.type == "video" else body
