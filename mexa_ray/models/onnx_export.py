"""A sentence-embedding model as an ONNX graph, exported once per machine and model.

Why: the embedding router and the evidence ranking each hold the same small model, and running
it through sentence-transformers costs a replica torch (about 300 MB of private memory and 5 s of
imports per process) for a 22M-parameter encoder. ONNX Runtime runs the same graph in a tenth of
the import time and about half the memory. The export needs torch, so it runs in a child process:
the replica that asks never imports torch. Concurrent replicas on one node wait on a file lock
and share one export; a folder `model.onnx` + `tokenizer.json` + `export.json` is the cache.

    python -m mexa_ray.models.onnx_export MODEL_PATH OUT_DIR
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from mexa_ray.models.weights import mexa_home

log = logging.getLogger("ray.serve")

#: the export (sentence-transformers + torch.onnx) on 2 cores takes ~10 s; a stuck one gives up
EXPORT_TIMEOUT_S = 600.0
#: the largest difference an export may show from sentence-transformers on its check sentences
MAX_DIFFERENCE = 1e-4
CHECK_TEXTS = [
    "What colour is the car in the image?",
    "The table lists patients with their age, blood pressure and diagnosis.",
    "a",
    "Transcribes English speech in an audio clip into subtitles with timestamps. " * 12,
]


class ExportFailed(RuntimeError):
    """The model could not be exported (an architecture torch.onnx cannot trace, no fast
    tokenizer); the caller runs it through sentence-transformers instead."""


def cache_key(model_path: str) -> str:
    """Names the export: the model's path, and for a folder each file's size and mtime, so new
    weights in the same folder export again."""
    digest = hashlib.sha256(model_path.encode())
    folder = Path(model_path)
    if folder.is_dir():
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                st = f.stat()
                digest.update(f"{f.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return f"{folder.name or 'model'}-{digest.hexdigest()[:16]}"


def exported(model_path: str) -> Path:
    """The folder holding this model's ONNX export, made now in a child process if missing."""
    from filelock import FileLock

    out = mexa_home() / "onnx" / cache_key(model_path)
    if (out / "export.json").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock", timeout=EXPORT_TIMEOUT_S):
        if (out / "export.json").is_file():  # another replica exported it while we waited
            return out
        log.info("exporting embedding model %s to ONNX in %s", model_path, out)
        done = subprocess.run(
            [sys.executable, "-m", __name__, model_path, str(out)],
            capture_output=True,
            text=True,
            timeout=EXPORT_TIMEOUT_S,
            env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ExportFailed(f"exporting {model_path} to ONNX failed: {' '.join(tail)}")
    return out


def export(model_path: str, out: Path) -> None:
    """Trace sentence-transformers' whole pipeline (encoder, pooling, dense, normalise) into one
    graph whose output is the sentence embedding; keep the fast tokenizer and the settings the
    pipeline tokenizes with; check the graph against the pipeline before publishing it."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from mexa_ray.models.embedding import OnnxEncoder, embedding_dimension

    model = SentenceTransformer(model_path, device="cpu").eval()
    tokenizer = model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise ExportFailed(f"{model_path} has no fast tokenizer (tokenizer.json)")
    names = [
        n
        for n in tokenizer.model_input_names
        if n in ("input_ids", "attention_mask", "token_type_ids")
    ]

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(names, inputs)))["sentence_embedding"]

    sample = tokenizer(CHECK_TEXTS[:2], padding=True, return_tensors="pt")
    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode():
        torch.onnx.export(
            Pipeline(),
            tuple(sample[n] for n in names),
            str(tmp / "model.onnx"),
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={
                **{n: {0: "batch", 1: "tokens"} for n in names},
                "sentence_embedding": {0: "batch"},
            },
            dynamo=False,  # the TorchScript exporter needs only `onnx`, not onnxscript
            opset_version=17,
        )
    tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
    settings = {
        "model": model_path,
        "inputs": names,
        "max_seq_length": int(model.max_seq_length or min(tokenizer.model_max_length, 2**16)),
        "do_lower_case": bool(getattr(model[0], "do_lower_case", False)),
        "dim": embedding_dimension(model),
    }
    (tmp / "export.json").write_text(json.dumps(settings, indent=1))

    expected = model.encode(CHECK_TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    got = OnnxEncoder(tmp).encode(CHECK_TEXTS)
    difference = float(np.abs(expected - got).max())
    if difference > MAX_DIFFERENCE:
        raise ExportFailed(f"the ONNX graph differs from the model by {difference:.2e}")
    tmp.replace(out)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    export(sys.argv[1], Path(sys.argv[2]))
