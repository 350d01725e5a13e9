"""Sentence embeddings for the default router and the evidence-ranking aggregator."""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

from mexa_ray.config import EmbeddingSpec
from mexa_ray.models.weights import resolve_model_path


class Embedder:
    """Unit-normalised sentence embeddings, so a dot product is a cosine similarity.

    Vectors are remembered by text (a bounded memo), so a batch stage can embed every text of
    many items in one forward pass (`encode` the lot first) and then score item by item.
    """

    #: texts remembered; the memo is dropped whole when full (a few MB at most)
    memo_size = 8192

    def __init__(self, spec: EmbeddingSpec) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_id = spec.model
        self._model = SentenceTransformer(
            resolve_model_path(spec.model, "embedding.model"), device=spec.device
        )
        self._lock = threading.Lock()  # torch modules are not safe to call from many threads
        self._memo: dict[str, np.ndarray] = {}
        self.encode(["warm-up"])  # the first call pays lazy initialisation; not a request's cost

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
            if todo:
                vectors = self._model.encode(
                    todo, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
                )
                if len(self._memo) + len(todo) > self.memo_size:
                    self._memo.clear()
                self._memo.update(zip(todo, vectors))
                fresh = dict(zip(todo, vectors))
            else:
                fresh = {}
            return np.stack([fresh[t] if t in fresh else self._memo[t] for t in texts])

    def check_health(self) -> None:
        """Embed a short text through the model itself (the memo would answer from memory):
        a few milliseconds on CPU."""
        with self._lock:
            vector = self._model.encode(["health"], convert_to_numpy=True, show_progress_bar=False)
        if not np.isfinite(vector).all():
            raise RuntimeError(f"embedding model {self.model_id!r} returns non-finite vectors")

    @property
    def dim(self) -> int:
        dim = self._model.get_sentence_embedding_dimension()
        if dim is None:  # a model whose last module does not say its output width
            raise ValueError(f"embedding model {self.model_id!r} does not report its dimension")
        return int(dim)


@lru_cache(maxsize=4)
def shared_embedder(spec: EmbeddingSpec) -> Embedder:
    """One model per process and spec, so in-process pipelines do not load it twice."""
    return Embedder(spec)
