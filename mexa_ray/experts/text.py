"""Plain text and subtitles (T1, E3): passed through to the aggregator within a length limit."""

from __future__ import annotations

from mexa_ray.experts.base import Expert
from mexa_ray.experts.settings import TextSettings
from mexa_ray.experts.text_utils import words
from mexa_ray.media.text import read_text
from mexa_ray.types import Media, Query, Skill


class TextExpert(Expert):
    settings: TextSettings

    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        max_chars = self.settings.max_chars
        text = read_text(item.local_path())
        body = text[:max_chars]
        cut = f" (first {max_chars} of {len(text)} characters)" if len(text) > max_chars else ""
        return f"Text of {len(words(text))} words{cut}:\n{body.strip()}"
