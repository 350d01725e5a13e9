"""What every benchmark writes: its JSON under benchmarks/results/, with the machine it ran on
(figures from a 2-core build box and a GPU node must not be mistaken for each other)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(out: str | Path, payload: dict) -> Path:
    """Write `payload` plus the machine's description as JSON to `out`; print and return it."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": platform.platform(), "cpu_count": os.cpu_count(),
                                **payload}, indent=2) + "\n")
    print(f"wrote {path}")
    return path
