"""Small CPU models as ONNX graphs, exported once per machine and model: the sentence-embedding
model (router, evidence ranking) and the visual expert's ImageNet classifier.

Why: running them through torch costs each replica torch itself (about 150 MB of private memory
and a second or more of imports per process, 300 MB with sentence-transformers) for networks of
5-22M parameters. ONNX Runtime runs the same graphs in a tenth of the import time and about half
the memory. The export needs torch, so it runs in a child process: the replica that asks never
imports torch. Concurrent replicas on one node wait on a file lock and share one export; a folder
with `model.onnx` and `export.json` (and what else the kind needs) is the cache.

    python -m mexa_ray.models.onnx_export KIND SOURCE OUT_DIR [OPTIONS_JSON]
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from mexa_ray.models.weights import mexa_home

log = logging.getLogger("ray.serve")

#: the export (sentence-transformers + torch.onnx) on 2 cores takes ~10 s; a stuck one gives up
EXPORT_TIMEOUT_S = 600.0
#: the largest difference an export may show from sentence-transformers on its check sentences
MAX_DIFFERENCE = 1e-4
#: bump when an export's files or their meaning change: older exports are then made again
EXPORT_FORMAT = 2
CHECK_TEXTS = [
    "  What colour is the car in the image?  ",  # spaces at the ends: tokenizers differ there
    "The table lists patients with their age, blood pressure and diagnosis.",
    "a",
    "Transcribes English speech in an audio clip into subtitles with timestamps. " * 12,
]


class ExportFailed(RuntimeError):
    """The model could not be exported (an architecture torch.onnx cannot trace, no fast
    tokenizer); the caller runs it through sentence-transformers instead."""


def cache_key(kind: str, source: str, options: dict) -> str:
    """Names the export: its kind, source and options, and each source file's size and mtime, so
    new weights at the same path export again."""
    digest = hashlib.sha256(
        json.dumps([EXPORT_FORMAT, kind, source, options], sort_keys=True).encode()
    )
    where = Path(source)
    files = sorted(f for f in where.rglob("*") if f.is_file()) if where.is_dir() else [where]
    for f in files:
        if f.is_file():
            st = f.stat()
            digest.update(f"{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    return f"{kind}-{where.stem or 'model'}-{digest.hexdigest()[:16]}"


def exported(kind: str, source: str, options: dict | None = None) -> Path:
    """The folder holding this model's ONNX export, made now in a child process if missing.
    `kind` names the exporter (EXPORTERS), `source` the model's folder or file."""
    from filelock import FileLock, Timeout

    options = options or {}
    out = mexa_home() / "onnx" / cache_key(kind, source, options)
    if (out / "export.json").is_file():
        return out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(out) + ".lock", timeout=EXPORT_TIMEOUT_S):
            if (out / "export.json").is_file():  # another replica exported it while we waited
                return out
            log.info("exporting %s model %s to ONNX in %s", kind, source, out)
            done = subprocess.run(
                [sys.executable, "-m", __name__, kind, source, str(out), json.dumps(options)],
                capture_output=True,
                text=True,
                timeout=EXPORT_TIMEOUT_S,
                env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
            )
    # a read-only $MEXA_HOME, a lock held past the timeout, a hung export: the caller falls
    # back to torch rather than failing the replica
    except (OSError, Timeout, subprocess.TimeoutExpired) as exc:
        raise ExportFailed(f"exporting {source} to ONNX in {out} failed: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ExportFailed(f"exporting {source} to ONNX failed: {' '.join(tail)}")
    return out


def export_sentence_embedding(model_path: str, out: Path, options: dict) -> None:
    """Trace sentence-transformers' whole pipeline (encoder, pooling, dense, normalise) into one
    graph whose output is the sentence embedding; keep the fast tokenizer and the settings the
    pipeline tokenizes with; check the graph against the pipeline before publishing it."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from mexa_ray.models.onnx_encoder import OnnxEncoder, embedding_dimension

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
    tmp = staging(out)
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
        # the pad token as the model's tokenizer has it (enable_padding would reset it to 0)
        "pad_token": tokenizer.pad_token,
        "pad_token_id": tokenizer.pad_token_id,
        "dim": embedding_dimension(model),
    }
    (tmp / "export.json").write_text(json.dumps(settings, indent=1))

    expected = model.encode(CHECK_TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    got = OnnxEncoder(tmp).encode(CHECK_TEXTS)
    difference = float(np.abs(expected - got).max())
    if difference > MAX_DIFFERENCE:
        raise ExportFailed(f"the ONNX graph differs from the model by {difference:.2e}")
    tmp.replace(out)


def export_imagenet(weights: str, out: Path, options: dict) -> None:
    """An EfficientNet-Lite classifier (`efficientnet-lite-pytorch`) from its .pth weights, as a
    graph from a normalised (batch, 3, size, size) picture to its 1000 logits."""
    import numpy as np
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    arch, size = options["arch"], int(options["size"])
    model = EfficientNet.from_pretrained(arch, weights_path=weights).eval()
    tmp = staging(out)
    sample = torch.from_numpy(
        np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32)
    )
    with torch.inference_mode():
        torch.onnx.export(
            model,
            (sample,),
            str(tmp / "model.onnx"),
            input_names=["pixels"],
            output_names=["logits"],
            dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}},
            dynamo=False,
            opset_version=17,
        )
        expected = model(sample).numpy()
    import onnxruntime as ort

    got = ort.InferenceSession(str(tmp / "model.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"pixels": sample.numpy()}
    )[0]
    difference = float(np.abs(expected - got).max())
    if difference > 1e-3:  # logits of magnitude ~10: float32 rounding stays far below this
        raise ExportFailed(f"the ONNX graph differs from the model by {difference:.2e}")
    (tmp / "export.json").write_text(json.dumps({"weights": weights, **options}, indent=1))
    tmp.replace(out)


def staging(out: Path) -> Path:
    """A folder of this export's own, renamed into place whole when done: a reader never sees
    half an export, and an export orphaned by a replica that died cannot write into another's."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent))


EXPORTERS = {"sentence-embedding": export_sentence_embedding, "imagenet": export_imagenet}


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    kind, source, folder = sys.argv[1:4]
    EXPORTERS[kind](source, Path(folder), json.loads(sys.argv[4]) if len(sys.argv) > 4 else {})
