"""A new expert backend, the one docs/adding-an-expert.md walks through: word counts of a text.

Named in a config as `backend: "word_count:WordCountExpert"` (this folder on the Python path);
tests/test_docs.py builds it from word_count.yaml and asks it a question.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import Field

from mexa_ray.experts.base import Expert
from mexa_ray.experts.settings import BackendSettings
from mexa_ray.types import Media, Query, Skill


class WordCountSettings(BackendSettings):
    top: int = Field(default=5, ge=1, description="most frequent words listed")


class WordCountExpert(Expert):
    Settings = WordCountSettings  # what the config's `settings:` may hold
    settings: WordCountSettings

    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        words = Path(item.local_path()).read_text(encoding="utf-8").lower().split()
        common = Counter(words).most_common(self.settings.top)
        return f"{len(words)} words; most frequent: {', '.join(w for w, _ in common)}"
