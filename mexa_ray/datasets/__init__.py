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

#: the benchmark adapters, by name; adding one is one more class in this tuple
ADAPTERS: tuple[type[Benchmark], ...] = (
    MMAU,
    SQA3D,
    VideoMMMU,
    M3D,
    Generic,
)


def benchmark_key(name: str) -> str:
    """How a benchmark name is compared: case, hyphens and underscores aside (`Video-MMMU`,
    `video_mmmu` and `videommmu` are one benchmark)."""
    return name.lower().replace("-", "").replace("_", "")


BENCHMARKS: dict[str, type[Benchmark]] = {}


def register(cls: type[Benchmark]) -> None:
    """Make an adapter findable by `--benchmark`; two names equal but for case, hyphens or
    underscores cannot both be."""
    key = benchmark_key(cls.name)
    other = BENCHMARKS.get(key)
    if other is not None and other is not cls:
        raise ValueError(
            f"benchmark {cls.name!r} ({cls.__qualname__}) clashes with {other.name!r} "
            f"({other.__qualname__}): names are compared without case, hyphens or underscores"
        )
    BENCHMARKS[key] = cls


for _adapter in ADAPTERS:
    register(_adapter)


def get_benchmark(name: str) -> Benchmark:
    cls = BENCHMARKS.get(benchmark_key(name))
    if cls is None:
        raise BenchmarkError(
            f"unknown benchmark {name!r}; known: {benchmark_names()}", field="benchmark"
        )
    return cls()


def benchmark_names() -> str:
    """The adapters' names as a person types them, for help texts and errors."""
    return ", ".join(b.name for b in BENCHMARKS.values())


__all__ = [
    "ADAPTERS",
    "BENCHMARKS",
    "Benchmark",
    "Item",
    "MediaRef",
    "benchmark_key",
    "benchmark_names",
    "get_benchmark",
    "register",
]
