"""GPU: the tiny-model pipeline's bulk evaluation on CUDA, with the GPU's utilisation.

For a lent GPU machine (the `device` tool); it also runs on a CPU-only machine, with the CPU row
alone. The pipeline is `bulk_eval.py --tiny-llm`'s: the tests' tiny chat model as LLM router and
LRM aggregator (tests/tiny_models.py, built here, nothing downloaded), the analytic experts,
MMAU items with stand-in clips. Each device runs the same items through the Ray Data job
(`mexa_ray.bulk`, report cache off):

- `cpu`: the router and aggregator actors ask for no GPU, so their models load on the CPU;
- `cuda`: each of those actors asks for `--gpus-per-actor` of a GPU (both pools share one GPU
  at the default 0.5), so Ray makes the GPU visible to them and the models load there in
  bfloat16 (mexa_ray.models.llm.placement).

While the job runs, `nvidia-smi` is polled for every GPU's utilisation and memory; the table
gives the mean and peak over the run. Wall time includes starting the actors and loading the
models, as a user's run pays them.

    python benchmarks/gpu.py [--items 1000] [--devices cpu,cuda] [--gpus-per-actor 0.5]
                             [--batch-size 32]

Prints a table and writes benchmarks/results/gpu.json.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path

import yaml
from bench_io import RESULTS, write_results
from bulk_eval import item_parser, standin_items, tiny_llm_config

NVIDIA_SMI = [
    "nvidia-smi",
    "--query-gpu=utilization.gpu,memory.used",
    "--format=csv,noheader,nounits",
]


class GpuSampler:
    """Polls nvidia-smi in a thread: Ray's actors hold the GPU in other processes, so this
    process's torch counters would see none of their work."""

    def __init__(self, every_s: float = 0.25) -> None:
        self.every_s = every_s
        self.samples: list[tuple[float, float]] = []  # (utilisation %, memory MiB), summed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    @staticmethod
    def available() -> bool:
        return shutil.which("nvidia-smi") is not None

    def _poll(self) -> None:
        while not self._stop.wait(self.every_s):
            out = subprocess.run(NVIDIA_SMI, capture_output=True, text=True, check=False).stdout
            rows = []
            for line in out.strip().splitlines():
                try:  # a MIG slice reports "[N/A]" for its utilisation
                    rows.append([float(x) for x in line.split(",")])
                except ValueError:
                    continue
            if rows:
                self.samples.append((sum(r[0] for r in rows) / len(rows), sum(r[1] for r in rows)))

    def __enter__(self) -> GpuSampler:
        if self.available():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def summary(self) -> dict:
        if not self.samples:
            return {"gpu_util_mean": None, "gpu_util_max": None, "gpu_mem_max_mib": None}
        util = [u for u, _ in self.samples]
        return {
            "gpu_util_mean": statistics.fmean(util),
            "gpu_util_max": max(util),
            "gpu_mem_max_mib": max(m for _, m in self.samples),
        }


def device_config(base: str, work: Path, device: str, gpus: float, batch: int) -> str:
    """The tiny-LLM config with its router and aggregator stages placed on `device`."""
    data = yaml.safe_load(Path(base).read_text())
    for stage in ("router", "aggregator"):
        data[stage]["llm"].update(batch_size=batch, device=device)
        data[stage]["bulk"] = {
            **data[stage].get("bulk", {}),
            "batch_size": batch,
            "num_gpus": gpus if device == "cuda" else 0,
        }
    path = work / f"tiny-llm-{device}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def cuda_visible() -> bool:
    import torch

    return torch.cuda.is_available()


def main() -> None:
    ap = item_parser(__doc__)
    ap.add_argument(
        "--devices",
        default="cpu,cuda",
        help="comma-separated; cuda is left out where no GPU is visible",
    )
    ap.add_argument("--gpus-per-actor", type=float, default=0.5)
    ap.add_argument(
        "--batch-size",
        type=int,
        default=32,
        help="rows per block fed to the router and aggregator actors, and the "
        "models' generation batch",
    )
    ap.add_argument("--out", default=str(RESULTS / "gpu.json"))
    args = ap.parse_args()

    from mexa_ray.bulk.job import evaluate

    devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    if "cuda" in devices and not cuda_visible():
        print("no GPU visible: running the cpu row only")
        devices = [d for d in devices if d != "cuda"]
    annotations = Path(args.annotations)
    items, work = standin_items(annotations, args.items)
    media_root = work / "media"
    base = tiny_llm_config(work)

    rows = []
    for device in devices:
        config = device_config(base, work, device, args.gpus_per_actor, args.batch_size)
        began = time.perf_counter()
        with GpuSampler() as sampler:
            summary = evaluate(
                "mmau",
                annotations,
                media_root,
                work / f"run-{device}",
                config=config,
                limit=len(items),
                cache=False,
            )
        wall = time.perf_counter() - began
        rows.append(
            {
                "device": device,
                "items": len(items),
                "answered": summary["scored"],
                "wall_s": wall,
                "items_per_s": len(items) / wall,
                "stages": summary["stages"],
                **sampler.summary(),
            }
        )

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.0f}%"

    print(f"{len(items)} MMAU items, tiny LLM router + LRM, batch {args.batch_size}")
    print("| device | items/s | wall s | answered | GPU util mean | GPU util max | GPU MiB max |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        mem = "n/a" if r["gpu_mem_max_mib"] is None else f"{r['gpu_mem_max_mib']:.0f}"
        print(
            f"| {r['device']} | {r['items_per_s']:.1f} | {r['wall_s']:.1f} | {r['answered']} | "
            f"{pct(r['gpu_util_mean'])} | {pct(r['gpu_util_max'])} | {mem} |"
        )
    write_results(
        args.out,
        {
            "annotations": str(annotations),
            "batch_size": args.batch_size,
            "gpus_per_actor": args.gpus_per_actor,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
