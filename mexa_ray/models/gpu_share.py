"""A replica's GPU share made a memory cap, and its peak memory reported.

Ray's `num_gpus: 0.25` is a scheduling share: two replicas at 0.4 land on one card and either can
allocate all of it (vLLM's default `gpu_memory_utilization` is 0.9 of the card whatever the
share; ray#41432, vllm#4242). Each model backend here turns the share into the cap its engine
understands: torch's per-process memory fraction for transformers models, vLLM's
`gpu_memory_utilization` and `max_model_len`, llama.cpp's offloaded layers. A replica given one
or more whole GPUs has them to itself and gets no cap. An allocation past the cap fails in that
replica alone (torch raises OutOfMemoryError there), so the request sees that expert missing,
never a neighbour dying.
"""

from __future__ import annotations

import logging
import math
import resource
import sys
from typing import Any

from mexa_ray.config import ModelSpec
from mexa_ray.models.memory_plan import RUNTIME_BYTES, GiB, planned_context

log = logging.getLogger("ray.serve")

#: the fraction this process capped torch's allocator to (set once per process)
_capped: float | None = None


def assigned_share() -> float | None:
    """The GPUs Ray gave this worker (a Serve replica or a Ray Data actor), or None outside Ray
    or without GPUs."""
    if "ray" not in sys.modules:
        return None
    import ray

    if not ray.is_initialized():
        return None
    try:
        gpus = ray.get_runtime_context().get_assigned_resources().get("GPU")
    except AssertionError:  # a driver (`mexa ask` in-process): Ray assigns it nothing
        return None
    return float(gpus) if gpus else None


def fraction_of(share: float | None) -> float | None:
    """The cap for a share: the share itself when it is part of one card, none for whole
    cards (the replica owns them)."""
    if share is None or share <= 0 or share >= 1:
        return None
    return math.floor(share * 1000) / 1000  # never above the share


def cap_torch_memory(label: str, share: float | None = None) -> float | None:
    """Cap this process's CUDA allocator to its share of the card (once per process: models
    loaded together in one replica share the cap); the fraction set, or None."""
    global _capped
    fraction = fraction_of(share if share is not None else assigned_share())
    if fraction is None:
        return None
    if _capped is None:
        import torch

        torch.cuda.set_per_process_memory_fraction(fraction, 0)
        _capped = fraction
        total = torch.cuda.get_device_properties(0).total_memory
        log.info(
            "%s: CUDA allocator capped at %.3f of the card (%.1f of %.1f GiB): its num_gpus share",
            label,
            fraction,
            fraction * total / GiB,
            total / GiB,
        )
    return _capped


def vllm_engine_args(spec: ModelSpec, share: float | None) -> dict[str, Any]:
    """vLLM's arguments with the share as its memory budget and the planned context as its
    longest sequence, where the config's `engine_args` do not set them: vLLM otherwise takes
    0.9 of the card and plans for the checkpoint's whole context (128k tokens for Qwen2.5)."""
    args = dict(spec.engine_args)
    fraction = fraction_of(share)
    if fraction is not None:
        args.setdefault("gpu_memory_utilization", fraction)
    args.setdefault("max_model_len", planned_context(spec))
    return args


def llamacpp_gpu_layers(
    share_bytes: int, file_bytes: int, layers: int, context_bytes: int = 0
) -> int:
    """How many of a GGUF model's layers fit a share (llama.cpp's n_gpu_layers): the layers
    are about equal in size, the runtime and the context's buffers come first."""
    room = share_bytes - RUNTIME_BYTES - context_bytes
    if room <= 0 or layers <= 0:
        return 0
    return max(0, min(layers + 1, int(room / (file_bytes / layers))))  # +1: the output layer


def llamacpp_engine_args(spec: ModelSpec, path: str, share: float | None) -> dict[str, Any]:
    """llama.cpp's arguments: n_ctx from the planned context, and on a share of a GPU as many
    layers offloaded as fit it (the config's engine_args win)."""
    args = {"n_ctx": planned_context(spec), **spec.engine_args}
    fraction = fraction_of(share)
    if fraction is None or "n_gpu_layers" in args:
        return args
    import os

    import torch
    from gguf import GGUFReader

    reader = GGUFReader(path)
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    layers = int(reader.fields[f"{arch}.block_count"].parts[-1][0])
    total = torch.cuda.get_device_properties(0).total_memory
    args["n_gpu_layers"] = llamacpp_gpu_layers(int(fraction * total), os.path.getsize(path), layers)
    return args


def memory_report() -> dict[str, Any]:
    """This process's peak memory: where it uses CUDA through torch, the allocator's high-water
    mark (reserved: the figure an OOM is judged on) and its cap; else the resident set's
    high-water mark."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        total = torch.cuda.get_device_properties(0).total_memory
        return {
            "device": "cuda",
            "peak_bytes": int(torch.cuda.max_memory_reserved()),
            "peak_allocated_bytes": int(torch.cuda.max_memory_allocated()),
            "card_bytes": int(total),
            "cap_fraction": _capped,
            "cap_bytes": int(_capped * total) if _capped else None,
        }
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"device": "cpu", "peak_bytes": peak_kib * 1024}


def is_out_of_memory(exc: BaseException) -> bool:
    """Torch's CUDA OOM (a RuntimeError subclass), or vLLM's and llama.cpp's wording of one."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return "out of memory" in str(exc).lower()


def release_after_oom() -> None:
    """Give the cached blocks of a failed batch back, so the next call starts from the model's
    own footprint, not the high-water mark that failed."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
