"""Sentence embeddings for the default router and the evidence-ranking aggregator."""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import ClassVar, Protocol

import numpy as np

from mexa_ray.config import EmbeddingSpec
from mexa_ray.errors import ConfigError
from mexa_ray.models.onnx_encoder import OnnxEncoder, embedding_dimension
from mexa_ray.models.weights import resolve_model_path

log = logging.getLogger("ray.serve")


class Encoder(Protocol):
    """Texts to unit-normalised vectors, one row per text."""

    runtime: ClassVar[str]
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


class TorchEncoder:
    """sentence-transformers on torch: GPUs, and models the ONNX export cannot trace."""

    runtime: ClassVar[str] = "torch"

    def __init__(self, model_path: str, device: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_path, device=device)
        self.dim = embedding_dimension(self.model)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )


def load_encoder(spec: EmbeddingSpec) -> Encoder:
    """ONNX Runtime where the spec allows it (`runtime: auto` on CPU), exporting the model on
    first use; sentence-transformers on a GPU, when asked, or when the export fails."""
    path = resolve_model_path(spec.model, "embedding.model")
    runtime = (
        spec.runtime if spec.runtime != "auto" else ("onnx" if spec.device == "cpu" else "torch")
    )
    if runtime == "onnx":
        from mexa_ray.models.onnx_export import exported

        try:
            return OnnxEncoder(exported("sentence-embedding", path))
        # an export that failed, or one this runtime cannot read (a damaged cache, a newer
        # format): `auto` costs the replica torch, never its start
        except Exception as exc:
            if spec.runtime == "onnx":
                raise ConfigError(
                    f"embedding.runtime onnx: {exc}", field="embedding.runtime"
                ) from exc
            log.warning("%s; embedding with sentence-transformers instead", exc)
    return TorchEncoder(path, spec.device)


class Embedder:
    """Unit-normalised sentence embeddings, so a dot product is a cosine similarity.

    Vectors are remembered by text (a bounded memo), so a batch stage can embed every text of
    many items in one forward pass (`encode` the lot first) and then score item by item.
    """

    #: texts remembered; the memo is dropped whole when full (a few MB at most)
    memo_size = 8192

    def __init__(self, spec: EmbeddingSpec) -> None:
        self.model_id = spec.model
        self._model = load_encoder(spec)
        self.runtime = type(self._model).runtime
        # one call at a time: the memo is shared, and torch modules are not thread-safe
        self._lock = threading.Lock()
        self._memo: dict[str, np.ndarray] = {}
        self.encode(["warm-up"])  # the first call pays lazy initialisation; not a request's cost

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
            if todo:
                vectors = self._model.encode(todo)
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
            vector = self._model.encode(["health"])
        if not np.isfinite(vector).all():
            raise RuntimeError(f"embedding model {self.model_id!r} returns non-finite vectors")

    @property
    def dim(self) -> int:
        return self._model.dim


@lru_cache(maxsize=4)
def shared_embedder(spec: EmbeddingSpec) -> Embedder:
    """One model per process and spec, so in-process pipelines do not load it twice."""
    return Embedder(spec)
