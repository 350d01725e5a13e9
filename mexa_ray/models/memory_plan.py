"""GPU memory plan: what each model-backed replica needs in bytes, against the share it is given.

Ray's GPU shares are logical: `num_gpus: 0.25` on an 80 GB card promises a quarter of the card's
scheduling slots, not 20 GB, and nothing before a replica's load (or its first long video) says
whether the model fits. `mexa check --gpu-memory 80GiB` answers that from the checkpoint's own
metadata, never its weights: safetensors headers (local, the hub cache, or the hub's range
reads), `model.safetensors.index.json`, the GGUF or `.bin` file sizes, or, where only config.json
is at hand, the architecture instantiated on the meta device. Working memory is an estimate
from config.json (see `working_memory`); the replicas report their measured peak in
`/v1/experts`, which is how to correct a share after a real run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ByteSize, TypeAdapter, ValidationError

from mexa_ray.config import ModelSpec
from mexa_ray.errors import MexaError

GiB = 1024**3
#: the node label in a cluster launcher file that gives each GPU's memory (e.g. "80GiB")
GPU_MEMORY_LABEL = "mexa-ray.io/gpu-memory"
#: per GPU process, beside the model: the CUDA context, cuBLAS/cuDNN workspaces and the caching
#: allocator's slack (0.3-0.6 GiB measured on A100/H100 with torch 2.x)
RUNTIME_BYTES = GiB // 2
#: the prompt a planned sequence holds besides its media and its reply, where the model spec
#: sets no `context_tokens`
PROMPT_TOKENS = 4096
#: audio-language models: encoder frames and language-model tokens per second of audio
#: (Whisper-style encoders: 100 mel frames/s, strided by 2; Qwen2-Audio pools by 2 again)
AUDIO_ENCODER_FRAMES_PER_S = 50
AUDIO_TOKENS_PER_S = 25
#: Whisper reads audio in 30 s windows of 1500 encoder frames
WHISPER_FRAMES = 1500

DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    "float32": 4, "float16": 2, "bfloat16": 2, "float64": 8,
}  # fmt: skip
FLOATS = {"F64", "F32", "F16", "BF16", "float32", "float16", "bfloat16", "float64"}


class SizeError(MexaError, ValueError):
    """A memory size that cannot be read (`--gpu-memory`, a node label)."""


def parse_size(text: str, field: str) -> int:
    """Bytes from "80GiB", "80GB", "24 GiB" or a plain number (pydantic's ByteSize)."""
    try:
        return int(TypeAdapter(ByteSize).validate_python(str(text).strip()))
    except ValidationError:
        raise SizeError(
            f"{field}: {text!r} is not a memory size (write e.g. 80GiB or 24GB)", field=field
        ) from None


def gib(n: float) -> str:
    return f"{n / GiB:.1f}"


@dataclass
class Weights:
    """The checkpoint's tensors as stored: a parameter count where the metadata gives one
    (stored bytes alone for .bin and GGUF files), and whether every tensor is a float (a
    float checkpoint loads in the configured dtype; a quantised one as stored)."""

    stored_bytes: int
    params: int | None
    floating: bool
    source: str

    def loaded_bytes(self, dtype_bytes: int | None) -> int:
        if self.params is None or not self.floating or dtype_bytes is None:
            return self.stored_bytes
        return self.params * dtype_bytes


def _from_counts(counts: dict[str, int], source: str) -> Weights:
    return Weights(
        stored_bytes=sum(DTYPE_BYTES.get(d, 2) * n for d, n in counts.items()),
        params=sum(counts.values()),
        floating=all(d in FLOATS for d in counts),
        source=source,
    )


def safetensors_counts(files: list[Path]) -> dict[str, int]:
    """Parameters per dtype from safetensors headers (the header only: the file is mapped,
    no tensor is read)."""
    from safetensors import safe_open

    counts: dict[str, int] = {}
    for file in files:
        with safe_open(str(file), framework="pt") as f:
            for key in f.keys():
                sl = f.get_slice(key)
                counts[sl.get_dtype()] = counts.get(sl.get_dtype(), 0) + math.prod(sl.get_shape())
    return counts


def folder_weights(folder: Path, gguf_file: str | None, stored_dtype: str | None) -> Weights | None:
    """A local model folder's (or a hub cache snapshot's) weights, from what is on disk."""
    if gguf_file:
        file = folder / gguf_file
        return (
            Weights(file.stat().st_size, None, False, f"{gguf_file} size")
            if file.is_file()
            else None
        )
    shards = sorted(folder.glob("*.safetensors"))
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        listed = set(json.loads(index.read_text()).get("weight_map", {}).values())
        if shards and {s.name for s in shards} >= listed:
            return _from_counts(safetensors_counts(shards), "safetensors headers")
        total = int(json.loads(index.read_text())["metadata"]["total_size"])
        size = DTYPE_BYTES.get(stored_dtype or "", 0)
        params = total // size if size else None
        return Weights(total, params, size > 0, "model.safetensors.index.json total_size")
    if shards:
        return _from_counts(safetensors_counts(shards), "safetensors headers")
    files = [p for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".gguf")]
    if files:
        return Weights(sum(p.stat().st_size for p in files), None, False, "weight file sizes")
    return None


def stored_dtype(config: Any) -> str | None:
    """The dtype config.json says the checkpoint is stored in ("bfloat16"), if it says."""
    stored = str(getattr(config, "torch_dtype", None) or getattr(config, "dtype", None) or "")
    return stored.removeprefix("torch.") or None


def meta_weights(config: Any, model_class: Any) -> Weights:
    """Parameters of the architecture config.json describes, built on the meta device (no
    memory, no weights): exact for float checkpoints."""
    from accelerate import init_empty_weights

    with init_empty_weights():
        model = model_class.from_config(config)
    model.tie_weights()  # as from_pretrained does: a tied output layer is the embedding
    counts: dict[str, int] = {}
    stored = stored_dtype(config) or "bfloat16"
    for p in model.parameters():  # shared (tied) parameters are listed once
        counts[stored] = counts.get(stored, 0) + p.numel()
    return _from_counts(counts, "config.json architecture (meta device)")


# --- working memory ---------------------------------------------------------------------------


@dataclass
class Dims:
    """The language model's shape, from config.json (the text config of a multimodal one)."""

    layers: int
    kv_heads: int
    head_dim: int
    hidden: int
    intermediate: int
    vocab: int
    max_positions: int | None


def lm_dims(config: Any) -> Dims:
    text = config.get_text_config(decoder=True)
    get = lambda *names, default=None: next(  # noqa: E731
        (getattr(text, n) for n in names if getattr(text, n, None) is not None), default
    )
    heads = get("num_attention_heads", "decoder_attention_heads")
    hidden = get("hidden_size", "d_model")
    return Dims(
        layers=get("num_hidden_layers", "decoder_layers"),
        kv_heads=get("num_key_value_heads", default=heads),
        head_dim=get("head_dim", default=hidden // heads),
        hidden=hidden,
        intermediate=get("intermediate_size", "decoder_ffn_dim", default=4 * hidden),
        vocab=get("vocab_size"),
        max_positions=get("max_position_embeddings", "max_target_positions"),
    )


@dataclass
class Encoder:
    """A vision or audio encoder's tokens per planned sequence and its width."""

    tokens: int
    hidden: int
    intermediate: int


def media_encoder(config: Any, kind: str, settings: dict[str, Any]) -> tuple[int, Encoder | None]:
    """(language-model tokens, encoder) that one sequence's media adds. An expert's vision model
    gets one image or frame per sequence (its frames are separate conversations; the router's
    `images_per_sequence`) at the `max_side` its settings give; an audio model `max_seconds` of
    audio; Whisper one 30 s window."""
    if getattr(config, "model_type", "") == "whisper":
        return 0, Encoder(WHISPER_FRAMES, config.d_model, config.encoder_ffn_dim)
    if kind == "vision" and getattr(config, "vision_config", None) is not None:
        vision = config.vision_config
        patch = getattr(vision, "patch_size", 14)
        merge = getattr(vision, "spatial_merge_size", 1)
        side = int(settings.get("max_side", 448))
        patches = math.ceil(side / patch) ** 2 * int(settings.get("images_per_sequence", 1))
        width = getattr(vision, "hidden_size", getattr(vision, "embed_dim", 1024))
        return patches // (merge * merge), Encoder(
            patches, width, getattr(vision, "intermediate_size", 4 * width)
        )
    if kind == "audio" and getattr(config, "audio_config", None) is not None:
        audio = config.audio_config
        seconds = float(settings.get("max_seconds", 30.0))
        return int(seconds * AUDIO_TOKENS_PER_S), Encoder(
            int(seconds * AUDIO_ENCODER_FRAMES_PER_S), audio.d_model, audio.encoder_ffn_dim
        )
    return 0, None


@dataclass
class Working:
    kv_bytes: int
    activation_bytes: int
    context_tokens: int
    batch: int
    basis: str


def planned_context(spec: ModelSpec) -> int:
    """The tokens a planned sequence holds: `context_tokens`, else a prompt allowance plus the
    reply (vLLM's max_model_len and llama.cpp's n_ctx take the same figure unless set)."""
    return spec.context_tokens or PROMPT_TOKENS + spec.max_new_tokens


def working_memory(
    spec: ModelSpec, config: Any, settings: dict[str, Any], dtype_bytes: int
) -> Working:
    """An estimate, per replica, of what a full batch of the longest planned sequences holds
    beside the weights:

    - KV cache: 2 (K and V) x layers x KV heads x head size x dtype bytes x tokens x batch
      (a vLLM engine plans for one sequence: it pages the rest into its share);
    - activations at prefill, one layer at a time: batch x tokens x (4 x hidden +
      2 x intermediate) x dtype bytes, plus float32 logits of the last position;
    - a vision or audio encoder: the same per encoder token, at its own width.
    Encoder-decoder (Whisper) models hold cross-attention keys of their 1500 frames too."""
    dims = lm_dims(config)
    media_tokens, encoder = media_encoder(config, spec.kind, settings)
    tokens = planned_context(spec) + media_tokens
    if dims.max_positions:
        tokens = min(tokens, int(dims.max_positions) + media_tokens)
    batch = 1 if spec.backend == "vllm" else spec.batch_size
    per_token_kv = 2 * dims.layers * dims.kv_heads * dims.head_dim * dtype_bytes
    kv = per_token_kv * tokens * batch
    if getattr(config, "model_type", "") == "whisper" and encoder:
        kv += per_token_kv * encoder.tokens * batch
    activations = batch * tokens * (4 * dims.hidden + 2 * dims.intermediate) * dtype_bytes
    activations += batch * dims.vocab * 4
    if encoder:
        activations += (
            batch * encoder.tokens * (4 * encoder.hidden + 2 * encoder.intermediate) * dtype_bytes
        )
    basis = f"{tokens} tokens x batch {batch}"
    if encoder:
        basis += f", encoder {encoder.tokens} tokens"
    return Working(kv, activations, tokens, batch, basis)


# --- the plan ---------------------------------------------------------------------------------


@dataclass
class Footprint:
    """One model's bytes on its GPU(s)."""

    field: str
    label: str
    weight_bytes: int
    working: Working | None
    source: str
    runtime_bytes: int = RUNTIME_BYTES

    @property
    def need(self) -> int:
        working = self.working.kv_bytes + self.working.activation_bytes if self.working else 0
        return self.weight_bytes + working + self.runtime_bytes


@dataclass
class Row:
    """One GPU replica in the plan: where it is, what it needs, what its share gives it."""

    replica: str
    node: str
    gpus: list[int]
    share: float
    share_bytes: int
    footprint: Footprint | None
    unknown: str = ""

    @property
    def headroom(self) -> int | None:
        return None if self.footprint is None else self.share_bytes - self.footprint.need

    def as_json(self) -> dict[str, Any]:
        fp = self.footprint
        return {
            "replica": self.replica,
            "node": self.node,
            "gpus": self.gpus,
            "share": self.share,
            "share_bytes": self.share_bytes,
            "model": fp.label if fp else None,
            "weights_bytes": fp.weight_bytes if fp else None,
            "weights_source": fp.source if fp else None,
            "kv_cache_bytes": fp.working.kv_bytes if fp and fp.working else None,
            "activation_bytes": fp.working.activation_bytes if fp and fp.working else None,
            "working_basis": fp.working.basis if fp and fp.working else None,
            "runtime_bytes": fp.runtime_bytes if fp else None,
            "need_bytes": fp.need if fp else None,
            "headroom_bytes": self.headroom,
            "unknown": self.unknown or None,
        }


@dataclass
class Card:
    node: str
    index: int
    memory: int
    rows: list[Row] = field(default_factory=list)

    @property
    def need(self) -> int:
        """Each replica's need, or its share where the need is unknown; a replica spread over
        several cards counts its need split evenly."""
        total = 0.0
        for r in self.rows:
            need = r.footprint.need if r.footprint else r.share_bytes
            total += need / max(1, len(r.gpus))
        return int(total)


def table(rows: list[Row], cards: list[Card]) -> str:
    """The plan as a person reads it: GiB, one line per GPU replica, one per card."""
    head = (
        f"{'replica':<26} {'node/GPU':<20} {'weights':>8} {'KV':>7} {'activ.':>7} "
        f"{'runtime':>7} {'need':>7} {'share':>13} {'headroom':>8}  model"
    )
    lines = ["GPU memory plan (GiB)", head]
    for r in rows:
        where = f"{r.node}/{','.join(map(str, r.gpus))}"
        share = f"{r.share:g}={gib(r.share_bytes)}"
        fp = r.footprint
        if fp is None:
            lines.append(f"{r.replica:<26} {where:<20} {'?':>8} {'?':>7} {'?':>7} {'?':>7} "
                         f"{'?':>7} {share:>13} {'?':>8}  {r.unknown}")  # fmt: skip
            continue
        kv = gib(fp.working.kv_bytes) if fp.working else "?"
        act = gib(fp.working.activation_bytes) if fp.working else "?"
        lines.append(
            f"{r.replica:<26} {where:<20} {gib(fp.weight_bytes):>8} {kv:>7} {act:>7} "
            f"{gib(fp.runtime_bytes):>7} {gib(fp.need):>7} {share:>13} "
            f"{gib(r.headroom or 0):>8}  {fp.label}"
        )
    for c in cards:
        lines.append(
            f"card {c.node}/{c.index}: {gib(c.need)} of {gib(c.memory)} GiB planned "
            f"({len(c.rows)} replicas)"
        )
    return "\n".join(lines)


# --- finding a model's metadata ---------------------------------------------------------------


def dtype_bytes(spec: ModelSpec) -> int:
    """Bytes per parameter as a GPU replica loads it: `auto` is bfloat16 there."""
    return DTYPE_BYTES["bfloat16" if spec.dtype == "auto" else spec.dtype]


def cached_snapshot(spec: ModelSpec) -> Path | None:
    """The hub cache's folder for a hub id, where its config.json was downloaded before."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(spec.model, "config.json", revision=spec.revision)
    except ValueError:  # not a hub id (a path that does not exist)
        return None
    return Path(found).parent if isinstance(found, str) else None


def footprint(
    field_: str, spec: ModelSpec, loader: str | None, settings: dict[str, Any], hub: Any
) -> Footprint | str:
    """A model's footprint, or why it cannot be known from here. Local folders and the hub
    cache first; the hub (config.json, safetensors headers by range reads) only when `hub`
    can reach it."""
    import transformers

    from mexa_ray.models import hf_loading
    from mexa_ray.models.weights import resolve_model_path

    if spec.backend == "openai":
        return "served behind an endpoint: its memory is the endpoint's"
    try:
        path = Path(resolve_model_path(spec.model, f"{field_}.model"))
    except MexaError as exc:
        return exc.message
    folder = path if path.is_dir() else cached_snapshot(spec)
    config = None
    if folder is None:
        try:
            on_hub = hub.config_file(spec.model, spec.revision)
        except MexaError as exc:
            return exc.message
        folder = Path(on_hub).parent if on_hub else None
    if folder is not None and (folder / "config.json").is_file():
        try:
            config = transformers.AutoConfig.from_pretrained(
                str(folder), trust_remote_code=spec.trust_remote_code
            )
        except (OSError, ValueError):
            config = None
    stored = stored_dtype(config) if config is not None else None
    weights = folder_weights(folder, spec.gguf_file, stored) if folder else None
    if weights is None and not path.is_dir() and hub.reachable:
        from huggingface_hub import get_safetensors_metadata

        try:
            meta = get_safetensors_metadata(spec.model, revision=spec.revision)
            counts = {str(k): int(v) for k, v in meta.parameter_count.items()}
            weights = _from_counts(counts, "hub safetensors headers")
        except Exception:  # noqa: BLE001 - no safetensors on the hub: the architecture next
            weights = None
    if weights is None and config is not None and loader not in ("ctranslate2", "onnx"):
        try:
            cls = (
                getattr(transformers, loader)
                if loader and loader != "generator"
                else hf_loading.model_class(config, spec.kind, spec.auto_class, field_)
            )
            weights = meta_weights(config, cls)
        except (MexaError, ValueError, AttributeError, ImportError) as exc:
            return f"cannot build its architecture from config.json: {exc}"
    if weights is None:
        return (
            f"{spec.label}: no weights, safetensors headers or config.json here, in the hub "
            "cache or on a reachable hub"
        )
    working = None
    if config is not None and loader not in ("ctranslate2", "onnx"):
        working = working_memory(spec, config, settings, dtype_bytes(spec))
    return Footprint(
        field_, spec.label, weights.loaded_bytes(dtype_bytes(spec)), working, weights.source
    )
