"""Sentence embeddings for the default router and the evidence-ranking aggregator."""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

from mexa_ray.config import EmbeddingSpec
from mexa_ray.weights import resolve_model_path


class Embedder:
    """Unit-normalised sentence embeddings, so a dot product is a cosine similarity."""

    def __init__(self, spec: EmbeddingSpec) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_id = spec.model
        self._model = SentenceTransformer(resolve_model_path(spec.model, "embedding.model"), device=spec.device)
        self._lock = threading.Lock()  # torch modules are not safe to call from many threads
        self.encode(["warm-up"])  # the first call pays lazy initialisation; not a request's cost

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True,
                                      show_progress_bar=False)

    @property
    def dim(self) -> int:
        return int(self._model.get_sentence_embedding_dimension())


@lru_cache(maxsize=4)
def shared_embedder(spec: EmbeddingSpec) -> Embedder:
    """One model per process and spec, so in-process pipelines do not load it twice."""
    return Embedder(spec)
