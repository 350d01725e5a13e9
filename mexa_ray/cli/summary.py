"""An answer as a person reads it (`mexa ask --pretty`): the answer, who decided, what each
expert reported, what was missing, and the times; the JSON stays the record for programs."""

from __future__ import annotations

import textwrap
from typing import Any

from mexa_ray.reasoning.prompts import LETTERS


def _block(text: str, indent: str = "    ", max_lines: int = 12) -> list[str]:
    lines = text.strip().splitlines() or [""]
    shown = [indent + line for line in lines[:max_lines]]
    if len(lines) > max_lines:
        shown.append(f"{indent}... ({len(lines) - max_lines} more lines in the JSON)")
    return shown


def summarise(answer: dict[str, Any]) -> str:
    index = answer.get("option_index")
    head = f"Answer: {answer.get('answer', '')}"
    if index is not None:
        head += f"  (option {LETTERS[index]})"
    if answer.get("confidence") is not None:
        head += f"  confidence {answer['confidence']:.2f}"
    out = [
        head,
        f"Router: {answer.get('router') or '?'}   Aggregator: {answer.get('aggregator') or '?'}",
        "",
        "Experts:",
    ]
    for s in answer.get("selected", []):
        out.append(f"  {s['expert']} [{s['skill']}]: {s.get('why', '')}")
    for m in answer.get("missing", []):
        out.append(f"  MISSING {m['expert']}: {m['reason']}")
    out += ["", "Reports:"]
    for r in answer.get("reports", []):
        out.append(f"  {r['expert']} [{r['skill']}], {r.get('latency_s', 0):.2f}s:")
        out += _block(r.get("text", ""))
    out += ["", "Reasoning:"]
    out += textwrap.wrap(
        answer.get("reasoning", "") or "(none)", 96, initial_indent="  ", subsequent_indent="  "
    )
    if answer.get("notes"):
        out += ["", "Notes:"] + [f"  - {n}" for n in answer["notes"]]
    times = answer.get("timings") or {}
    if times:
        out += [
            "",
            "Times: "
            + ", ".join(
                f"{k.removesuffix('_s')} {v:.2f}s"
                for k, v in times.items()
                if isinstance(v, (int, float))
            ),
        ]
    return "\n".join(out)
