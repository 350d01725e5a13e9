"""The evaluation report: accuracy overall and per benchmark category, skill selection
frequency, per-stage time and throughput, as `report.md`, `report.json` and PNG plots.

Everything is computed from the predictions on disk (all runs together), so a resumed job
reports on the whole benchmark, not only on what the last run added.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from mexa_ray.bulk.rows import OK

RUNS = "runs.jsonl"


@dataclass
class RunStats:
    """One invocation of the job (a resumed benchmark has several)."""

    run_id: str
    benchmark: str
    config: str
    started_at: str
    #: items this run processed, and items it skipped because an earlier run wrote them
    items: int
    skipped: int
    wall_s: float

    @property
    def items_per_s(self) -> float:
        return self.items / self.wall_s if self.wall_s > 0 else 0.0


def record_run(out: Path, stats: RunStats) -> None:
    with (out / RUNS).open("a") as f:
        f.write(json.dumps(dict(asdict(stats), items_per_s=round(stats.items_per_s, 4))) + "\n")


def read_runs(out: Path) -> list[dict[str, Any]]:
    path = out / RUNS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _accuracy(groups: dict[str, list[bool]]) -> dict[str, dict[str, Any]]:
    return {
        name: {"items": len(v), "correct": sum(v), "accuracy": sum(v) / len(v)}
        for name, v in sorted(groups.items())
    }


def summarise(table: pa.Table, runs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    rows = table.to_pylist()
    scored = [r for r in rows if r["status"] == OK]
    by_category: dict[str, list[bool]] = defaultdict(list)
    by_sub: dict[str, list[bool]] = defaultdict(list)
    for r in scored:
        by_category[r["category"]].append(bool(r["correct"]))
        if r["subcategory"]:
            by_sub[f"{r['category']} / {r['subcategory']}"].append(bool(r["correct"]))
    skills = Counter(s for r in scored for s in r["skills"] or [])
    experts: dict[str, Counter] = defaultdict(Counter)
    for r in scored:
        for s in json.loads(r["selected"] or "[]"):
            experts[s["expert"]]["selected"] += 1
        for rep in json.loads(r["reports"] or "[]"):
            experts[rep["expert"]]["cached"] += int(bool(rep.get("cached")))
        for m in json.loads(r["missing"] or "[]"):
            experts[m["expert"]]["failed"] += 1
    stage_s: dict[str, float] = defaultdict(float)
    stage_n: Counter = Counter()
    for r in rows:
        for stage, seconds in json.loads(r["timings"] or "{}").items():
            stage_s[stage] += seconds
            stage_n[stage] += 1
    correct = sum(bool(r["correct"]) for r in scored)
    return {
        "benchmarks": sorted({r["benchmark"] for r in rows}),
        "items": len(rows),
        "scored": len(scored),
        "correct": correct,
        "accuracy": correct / len(scored) if scored else None,
        "status": dict(sorted(Counter(r["status"] for r in rows).items())),
        "by_category": _accuracy(by_category),
        "by_subcategory": _accuracy(by_sub),
        "skills": {s: {"selected": n, "share": n / len(scored)} for s, n in skills.most_common()},
        "experts": {
            e: {k: c[k] for k in ("selected", "cached", "failed")}
            for e, c in sorted(experts.items())
        },
        "stages": {
            s: {
                "items": stage_n[s],
                "total_s": round(stage_s[s], 4),
                "mean_ms": round(1000 * stage_s[s] / stage_n[s], 3),
            }
            for s in sorted(stage_s)
        },
        "runs": runs or [],
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _table(head: list[str], body: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in body]


def render_markdown(s: dict[str, Any]) -> str:
    out = [
        f"# Evaluation report: {', '.join(s['benchmarks']) or 'no items'}",
        "",
        f"**Accuracy: {_pct(s['accuracy'])}** ({s['correct']} of {s['scored']} answered items; "
        f"{s['items']} items in all).",
        "",
        "## Items by status",
        "",
    ]
    out += _table(["status", "items"], [[k, v] for k, v in s["status"].items()])
    for title, key in (
        ("Accuracy by category", "by_category"),
        ("Accuracy by sub-category", "by_subcategory"),
    ):
        if s[key]:
            out += ["", f"## {title}", ""]
            out += _table(
                ["category", "items", "correct", "accuracy"],
                [[k, v["items"], v["correct"], _pct(v["accuracy"])] for k, v in s[key].items()],
            )
    out += ["", "## Skills selected", ""]
    out += _table(
        ["skill", "items", "share of answered items"],
        [[k, v["selected"], _pct(v["share"])] for k, v in s["skills"].items()],
    )
    out += ["", "## Experts", ""]
    out += _table(
        ["expert", "selected", "from cache", "failed"],
        [[k, v["selected"], v["cached"], v["failed"]] for k, v in s["experts"].items()],
    )
    out += ["", "## Time per stage (all runs; seconds of stage work, not wall time)", ""]
    out += _table(
        ["stage", "items", "total s", "mean ms per item"],
        [
            [k, v["items"], f"{v['total_s']:.2f}", f"{v['mean_ms']:.1f}"]
            for k, v in s["stages"].items()
        ],
    )
    out += ["", "## Runs", ""]
    out += _table(
        ["run", "started", "config", "items", "skipped", "wall s", "items/s"],
        [
            [
                r["run_id"],
                r["started_at"],
                r["config"],
                r["items"],
                r["skipped"],
                f"{r['wall_s']:.1f}",
                f"{r['items_per_s']:.2f}",
            ]
            for r in s["runs"]
        ],
    )
    out += ["", "Plots: `accuracy_by_category.png`, `skill_frequency.png`.", ""]
    return "\n".join(out)


def plot(s: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on a cluster node
    import matplotlib.pyplot as plt

    written = []
    charts = (
        (
            "accuracy_by_category.png",
            "Accuracy by category",
            {k: 100 * v["accuracy"] for k, v in s["by_category"].items()},
            "accuracy (%)",
        ),
        (
            "skill_frequency.png",
            "Skill selection frequency",
            {k: v["selected"] for k, v in s["skills"].items()},
            "items",
        ),
    )
    for name, title, values, ylabel in charts:
        fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(values) + 2), 3.5))
        ax.bar(list(values), list(values.values()), color="#4c72b0")
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.tick_params(axis="x", rotation=30)
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        written.append(out / name)
    return written


def write_report(out: Path, table: pa.Table) -> dict[str, Any]:
    summary = summarise(table, read_runs(out))
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    (out / "report.md").write_text(render_markdown(summary))
    plot(summary, out)
    return summary
