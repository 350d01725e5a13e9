"""Sentence embeddings for the default router and the evidence-ranking aggregator."""

from __future__ import annotations

import json
import logging
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from mexa_ray.config import EmbeddingSpec
from mexa_ray.errors import ConfigError
from mexa_ray.models.weights import resolve_model_path

log = logging.getLogger("ray.serve")


class Encoder(Protocol):
    """Texts to unit-normalised vectors, one row per text."""

    runtime: ClassVar[str]
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


class OnnxEncoder:
    """An exported sentence-transformers pipeline (`onnx_export`) on ONNX Runtime, tokenized by
    its own fast tokenizer with the pipeline's truncation: the same vectors without torch."""

    runtime: ClassVar[str] = "onnx"

    def __init__(self, folder: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        settings = json.loads((folder / "export.json").read_text())
        self.inputs: list[str] = settings["inputs"]
        self.lower = bool(settings["do_lower_case"])
        self.dim = int(settings["dim"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(settings["max_seq_length"]))
        self.tokenizer.enable_padding(
            pad_id=int(settings["pad_token_id"] or 0), pad_token=settings["pad_token"] or "[PAD]"
        )
        options = ort.SessionOptions()
        # one request's texts are a small batch: one thread each keeps replicas from
        # oversubscribing a node's cores
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer.encode_batch([t.lower() for t in texts] if self.lower else texts)
        fields = {
            "input_ids": "ids",
            "attention_mask": "attention_mask",
            "token_type_ids": "type_ids",
        }
        feed = {
            name: np.array([getattr(e, fields[name]) for e in batch], dtype=np.int64)
            for name in self.inputs
        }
        vectors = np.asarray(self.session.run(None, feed)[0], dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


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


def embedding_dimension(model: Any) -> int:
    """sentence-transformers 6 renamed the method; 3-5 know the old name only."""
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = get()
    if dim is None:  # a model whose last module does not say its output width
        raise ValueError("the embedding model does not report its dimension")
    return int(dim)


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
