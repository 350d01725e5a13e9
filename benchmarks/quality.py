"""Answer quality on real data: per-category accuracy of each config beside chance, the option-
order sensitivity, the aggregate stage's time, and the routers' skill-hit rate.

    python benchmarks/quality.py [--configs analytic default] [--per-category 60]
        [--shuffle-config default] [--out benchmarks/results/quality]

The items are multiple-choice questions written from the labels of real data that packages ship
(`benchmarks/quality_sets.py`: emoji, photographs, handwriting, printed text, tables, recorded
speech, instruments and animals, 3D scans, video clips); Debian packages are downloaded with
apt-get into the cache folder and unpacked there, never installed. Every config runs the whole
pipeline through `mexa eval` (Ray Data), sharing one expert-report cache where their experts are
the same. `--shuffle-config` runs once more with every item's options in another order and counts
the answers that change. The routing set (`tests/data/routing.jsonl`, written from the skill
definitions) gives each router's skill-hit rate, in catalogue order and with the catalogue
reversed. Prints tables and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import quality_sets as sets
import quality_sets_charts as charts
import quality_sets_facts as facts
import quality_sets_more as more
from bench_io import RESULTS, write_results

ROUTING_SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "routing.jsonl"


def build(
    data: Path, cache: Path, per_category: int, seed: int, only: list[str] | None = None
) -> list[dict[str, Any]]:
    """Every category's items (or those of `only`), written to data/items.jsonl (and the media
    beside it). Each builder has its own seed, so a category's items are the same whichever
    others are built."""
    builders = [
        lambda r: sets.emoji_items(data, per_category, r),
        lambda r: sets.photo_items(data, per_category, r),
        lambda r: sets.text_items(data, per_category, r),
        lambda r: sets.digit_items(data, per_category // 3, r),
        lambda r: sets.table_items(data, per_category, r),
        lambda r: sets.speech_items(data, per_category, r, cache),
        lambda r: sets.sound_items(data, per_category, r, cache),
        lambda r: sets.points_items(data, per_category, r, cache),
        lambda r: sets.video_items(data, per_category, r, cache),
        # what must be computed or checked, from sources the categories above do not use
        lambda r: more.table_query_items(data, per_category, r, cache),
        lambda r: more.yes_no_scene_items(data, per_category, r),
        lambda r: more.size_items(data, per_category, r),
        lambda r: more.foreign_digit_items(data, per_category, r, cache),
        # facts read off the data itself: ranges, axes, extremes, comparisons, compound counts,
        # spoken letters and numbers, kinds of things, and open (option-less) names
        lambda r: facts.range_items(data, per_category, r, cache),
        lambda r: facts.axis_items(data, per_category, r, cache),
        lambda r: facts.extreme_items(data, per_category, r, cache),
        lambda r: facts.compare_items(data, per_category, r, cache),
        lambda r: facts.compound_items(data, per_category, r, cache),
        lambda r: facts.spoken_items(data, per_category, r, cache),
        lambda r: facts.kind_items(data, per_category, r, cache),
        lambda r: facts.open_items(data, per_category, r, cache),
        # charts of real data drawn by matplotlib and Vega-Lite: bars, lines, pies
        lambda r: charts.bar_items(data, per_category, r, cache),
        lambda r: charts.line_items(data, per_category, r, cache),
        lambda r: charts.pie_items(data, per_category, r, cache),
    ]
    items: list[dict[str, Any]] = []
    for i, make in enumerate(builders):
        items += make(random.Random(seed + i))
    if only:
        items = [item for item in items if item["category"] in only]
    data.mkdir(parents=True, exist_ok=True)
    with (data / "items.jsonl").open("w") as f:
        for item in items:
            f.write(json.dumps(item) + "\n")
    shuffler = random.Random(seed + 100)
    with (data / "items-shuffled.jsonl").open("w") as f:
        for item in items:
            options = list(item["options"])
            while len(options) > 1 and options == item["options"]:
                shuffler.shuffle(options)
            f.write(json.dumps(dict(item, options=options)) + "\n")
    return items


def predictions(out: Path) -> dict[str, dict[str, Any]]:
    from mexa_ray.bulk.store import read_predictions

    return {r["id"]: r for r in read_predictions(out).to_pylist()}


def run_config(config: str, annotations: Path, data: Path, out: Path, cache: Path) -> dict:
    from mexa_ray.bulk.job import evaluate

    started = time.time()
    summary = evaluate("generic", annotations, data, out, config=config, cache=cache)
    summary["wall_s"] = round(time.time() - started, 1)
    return summary


def chance(items: list[dict[str, Any]]) -> dict[str, float]:
    """The accuracy of picking an option at random (0 for open questions: nothing to pick)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for item in items:
        p = 1 / len(item["options"]) if item["options"] else 0.0
        groups[item["category"]].append(p)
        groups["overall"].append(p)
    return {k: sum(v) / len(v) for k, v in groups.items()}


def accuracy(rows: dict[str, dict[str, Any]]) -> dict[str, float]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for r in rows.values():
        groups[r["category"]].append(bool(r["correct"]))
        groups["overall"].append(bool(r["correct"]))
    return {k: sum(v) / len(v) for k, v in groups.items()}


def calibration(rows: dict[str, dict[str, Any]], bins: int = 10) -> dict[str, float | int]:
    """Expected calibration error of the answers that carry a confidence: the mean gap between
    confidence and accuracy over equal-width confidence bins, weighted by the answers in each;
    with the share of answers that say how sure they are."""
    scored = [
        (float(r["confidence"]), bool(r["correct"]))
        for r in rows.values()
        if r.get("confidence") is not None and r.get("correct") is not None
    ]
    if not scored:
        return {"ece": float("nan"), "answers with a confidence": 0}
    total, gap = len(scored), 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(c, ok) for c, ok in scored if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if inside:
            conf = sum(c for c, _ in inside) / len(inside)
            acc = sum(ok for _, ok in inside) / len(inside)
            gap += len(inside) / total * abs(conf - acc)
    return {"ece": round(gap, 4), "answers with a confidence": total}


def changed_by_shuffle(a: dict[str, dict], b: dict[str, dict]) -> tuple[int, int]:
    """(answers whose chosen option text differs, items compared)."""
    common = [k for k in a if k in b]
    differ = sum(
        (a[k]["prediction"] or "").strip().lower() != (b[k]["prediction"] or "").strip().lower()
        for k in common
    )
    return differ, len(common)


def routing(configs: list[str]) -> dict[str, dict[str, float]]:
    """Skill-hit rate of each config's router on the routing set: a question is a hit when a
    selected skill is one it needs. The catalogue is every skill, offered by one expert each
    for the modalities the skill reads; reversed, the same experts listed backwards."""
    from mexa_ray.config import load_config, parse_config
    from mexa_ray.models.embedding import shared_embedder
    from mexa_ray.reasoning.routing import build_router
    from mexa_ray.reasoning.skills import DEFAULT_SKILLS
    from mexa_ray.types import Media, Query

    questions = [json.loads(line) for line in ROUTING_SET.read_text().splitlines() if line.strip()]
    out: dict[str, dict[str, float]] = {}
    for name in configs:
        base = load_config(name)
        experts = [
            {
                "name": f"skill-{s.id.lower()}",
                "backend": "text",
                "modalities": list(s.modalities),
                "skills": [s.id],
                "description": s.description,
            }
            for s in DEFAULT_SKILLS
        ]
        rates = {}
        for order, listing in (("catalogue order", experts), ("reversed", experts[::-1])):
            data = base.model_dump(mode="json")
            data["experts"] = listing
            data["expert_groups"] = []  # the config's groups name experts this one replaces
            config = parse_config(data, f"{name} with every skill")
            router = build_router(config, shared_embedder(config.embedding))
            hits, chosen = 0, []
            started = time.perf_counter()
            for q in questions:
                query = Query(
                    q["question"], media=[Media(m, path=f"/x.{m}") for m in q["modalities"]]
                )
                skills = [s.skill for s in router.select(query).experts]
                chosen.append(sorted(skills))
                hits += bool(set(skills) & set(q["skills"]))
            rates[order] = hits / len(questions)
            rates[f"{order} ms per question"] = (
                1000 * (time.perf_counter() - started) / len(questions)
            )
            rates[f"{order} choices"] = chosen
        same = sum(
            a == b for a, b in zip(rates["catalogue order choices"], rates["reversed choices"])
        )
        out[name] = {
            "router": router.name,
            "questions": len(questions),
            "hit rate": round(rates["catalogue order"], 3),
            "hit rate, catalogue reversed": round(rates["reversed"], 3),
            "same choice when reversed": round(same / len(questions), 3),
            "ms per question": round(rates["catalogue order ms per question"], 1),
        }
    return out


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--configs",
        nargs="+",
        default=["analytic", "default"],
        help="configs to evaluate; the first is the baseline column",
    )
    p.add_argument("--per-category", type=int, default=60, help="items per category (at most)")
    p.add_argument(
        "--shuffle-config",
        default="default",
        help="config run again on shuffled options ('' for none)",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=Path.home() / ".cache" / "mexa-ray" / "quality",
        help="where the items, media and downloaded packages go",
    )
    p.add_argument("--out", type=Path, default=RESULTS / "quality")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--categories", nargs="*", help="only these categories (default: every one)")
    p.add_argument(
        "--routing-configs",
        nargs="*",
        default=["default", "lrm-small"],
        help="configs whose routers the routing set measures (none: skip)",
    )
    args = p.parse_args()

    data = args.data / "items"
    items = build(data, args.data / "packages", args.per_category, args.seed, args.categories)
    print(f"{len(items)} items in {data}")
    runs = args.out / "runs"
    report_cache = args.out / "report-cache"
    results: dict[str, Any] = {"items": len(items), "chance": chance(items), "configs": {}}
    rows: dict[str, dict[str, dict]] = {}
    for config in args.configs:
        summary = run_config(config, data / "items.jsonl", data, runs / config, report_cache)
        rows[config] = predictions(runs / config)
        results["configs"][config] = {
            "accuracy": accuracy(rows[config]),
            "calibration": calibration(rows[config]),
            "aggregate ms per item": summary["stages"].get("aggregate", {}).get("mean_ms"),
            "stages": summary["stages"],
            "status": summary["status"],
            "items per s": round(summary["run"]["items"] / summary["run"]["wall_s"], 3)
            if summary["run"]["items"]
            else None,
        }
    if args.shuffle_config:
        name = args.shuffle_config
        run_config(
            name, data / "items-shuffled.jsonl", data, runs / f"{name}-shuffled", report_cache
        )
        shuffled = predictions(runs / f"{name}-shuffled")
        differ, n = changed_by_shuffle(rows.get(name) or predictions(runs / name), shuffled)
        results["shuffle"] = {
            "config": name,
            "changed": differ,
            "items": n,
            "share": round(differ / max(1, n), 4),
            "accuracy shuffled": accuracy(shuffled)["overall"],
        }
    if args.routing_configs:
        results["routing"] = routing(args.routing_configs)

    cats = sorted({i["category"] for i in items}) + ["overall"]
    counts = defaultdict(int)
    for i in items:
        counts[i["category"]] += 1
    counts["overall"] = len(items)
    head = ["category", "items", "chance"] + args.configs
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for c in cats:
        accs = [results["configs"][k]["accuracy"].get(c) for k in args.configs]
        print(
            f"| {c} | {counts[c]} | {100 * results['chance'][c]:.0f}% | "
            + " | ".join("n/a" if a is None else f"{100 * a:.0f}%" for a in accs)
            + " |"
        )
    for k in args.configs:
        r = results["configs"][k]
        print(
            f"{k}: aggregate stage {r['aggregate ms per item']} ms per item; "
            f"{r['items per s']} items/s end to end; statuses {r['status']}; expected "
            f"calibration error {r['calibration']['ece']} over "
            f"{r['calibration']['answers with a confidence']} answers with a confidence"
        )
    if "shuffle" in results:
        s = results["shuffle"]
        print(
            f"option shuffle ({s['config']}): {s['changed']} of {s['items']} answers changed "
            f"({100 * s['share']:.1f}%)"
        )
    for k, r in results.get("routing", {}).items():
        print(
            f"routing ({k}, {r['router']}): hit rate {r['hit rate']:.3f}, "
            f"{r['hit rate, catalogue reversed']:.3f} with the catalogue reversed, same choice "
            f"{100 * r['same choice when reversed']:.0f}%, {r['ms per question']} ms per question"
        )
    write_results(args.out / "quality.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
