"""Dataset adapters for bulk evaluation (one module each) and their scoring rules;
`get_benchmark` by name."""

from __future__ import annotations

from mexa_ray.datasets.base import Benchmark, Item, MediaRef
from mexa_ray.datasets.generic import Generic
from mexa_ray.datasets.m3d import M3D
from mexa_ray.datasets.mmau import MMAU
from mexa_ray.datasets.sqa3d import SQA3D
from mexa_ray.datasets.videommmu import VideoMMMU
from mexa_ray.errors import BenchmarkError

BENCHMARKS: dict[str, type[Benchmark]] = {b.name: b for b in (MMAU, SQA3D, VideoMMMU, M3D, Generic)}


def get_benchmark(name: str) -> Benchmark:
    cls = BENCHMARKS.get(name.lower().replace("-", ""))
    if cls is None:
        raise BenchmarkError(
            f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}", field="benchmark"
        )
    return cls()


__all__ = ["BENCHMARKS", "Benchmark", "Item", "MediaRef", "get_benchmark"]
