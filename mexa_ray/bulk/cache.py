"""Expert reports cached by what they depend on, so that re-running a benchmark with another
aggregator (or prompt, or router) does not rerun the experts.

The key is (expert, its backend, model and settings, skill, the media's content hashes) and, for
experts whose reports read the question (`Expert.reads_question`), the question and its answer
options. Entries are one small JSON file each, written atomically, so concurrent actors and a
killed job never leave a half entry; on a cluster, point the cache at shared storage.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

from mexa_ray.experts.base import Expert
from mexa_ray.types import ExpertReport, Query


def cache_key(expert: Expert, query: Query, skill: str, media_hashes: list[str]) -> str:
    spec = expert.spec
    parts = {
        "expert": spec.name,
        "backend": spec.backend,
        "model": spec.model.model_dump(mode="json") if spec.model else None,
        "settings": spec.settings,
        "skill": skill,
        "media": media_hashes,
    }
    if expert.reads_question:
        parts.update(question=query.question, choices=query.options, task=query.task)
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


class ReportCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> ExpertReport | None:
        try:
            data = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        return ExpertReport(**data)

    def put(self, key: str, report: ExpertReport) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(fd, "w") as f:
            json.dump(dataclasses.asdict(report), f)
        os.replace(tmp, path)
