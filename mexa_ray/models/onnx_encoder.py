"""The exported sentence-embedding pipeline on ONNX Runtime, apart from `embedding` so that the
export (`onnx_export`), which checks its graph with it, and the embedder, which exports on first
use, import it without importing each other."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


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


def embedding_dimension(model: Any) -> int:
    """sentence-transformers 6 renamed the method; 3-5 know the old name only."""
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = get()
    if dim is None:  # a model whose last module does not say its output width
        raise ValueError("the embedding model does not report its dimension")
    return int(dim)
