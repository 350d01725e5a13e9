"""Audio-language expert for sound and music skills (B2, B3): Qwen2-Audio and the like.

The clip (or a video's audio track) is resampled to the model's rate with FFmpeg and given to the
model with a skill-specific instruction.
"""

from __future__ import annotations

from mexa_ray.experts.base import Prepared
from mexa_ray.experts.generative import GenerativeExpert, Prompt
from mexa_ray.experts.settings import AudioLMSettings
from mexa_ray.media.audio import load_waveform
from mexa_ray.models.llm import AudioGenerator
from mexa_ray.types import Media, Query, Skill


class AudioLanguageExpert(GenerativeExpert):
    """Describes a clip (or a video's sound track) with the model; see AudioLMSettings."""

    settings: AudioLMSettings
    #: the audio-language backends say the rate they take waveforms at
    generator: AudioGenerator

    def prepare(self, item: Media, query: Query, skill: Skill) -> Prepared:
        rate = self.generator.sampling_rate
        samples = load_waveform(item.local_path(), rate, self.settings.max_seconds)
        return Prepared(
            [
                Prompt(
                    "",
                    [
                        {"type": "audio", "audio": samples},
                        {"type": "text", "text": self.instruction(skill, query)},
                    ],
                )
            ]
        )
