"""The embedded default's small models on this machine: load time, latency and memory per model,
and the demo's answers with the models (default) and without them (analytic).

    python benchmarks/offline_models.py [--repeats 5] [--skip-quality]

Each model is loaded in a fresh Python process (so the memory it adds is its own): the time to
load it, the first request (a replica loads its model before it is ready, so the first request
must not pay the load), the median of the next `--repeats`, and the resident memory it adds over
a process that has already imported torch. Requests: the router's and aggregator's real
prompts for the demo's image question; Whisper on a 3.5 s sentence from espeak-ng; OCR on a
sign; the visual expert (with its ImageNet classifier) on the demo's image; YAMNet on the same
3.5 s sentence; the chart reader (RapidOCR and OpenCV) on the demo's bar chart. The quality
part runs the demo questions in-process through each config's router, experts and aggregator
(the library code the Serve deployments call) and reports each answer. Prints tables; writes
benchmarks/results/offline_models.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_io import RESULTS, write_results

MODELS = [
    "router",
    "aggregator",
    "speech-transcriber",
    "text-in-image",
    "visual-stats",
    "sound-events",
    "chart-reader",
]
#: the right option of each demo question, in `examples()` order
TRUTH = [
    "benign",
    "3",
    "music",
    "rightwards",
    "green",
    "42",
    "virginica",
    "a telephone signal",
    "seven o'clock",
]


def measure(which: str, root: Path, repeats: int) -> dict:
    """One model in this process (called in a child process per model)."""
    import psutil
    import torch  # noqa: F401 - the baseline already holds torch, as every replica does

    from mexa_ray.cli.demo import examples
    from mexa_ray.config import load_config
    from mexa_ray.media.samples import make_sign, make_speech
    from mexa_ray.types import ExpertReport, Media, Query

    config = load_config()
    image = examples(root)[4]
    proc = psutil.Process()
    base = proc.memory_info().rss
    started = time.perf_counter()
    if which in ("router", "aggregator"):
        from mexa_ray.models.llm import build_generator
        from mexa_ray.reasoning.prompts import (
            aggregator_messages,
            answer_schema,
            router_messages,
            router_schema,
        )

        generator = build_generator(getattr(config, which).llm, f"{which}.llm")
        load_s = time.perf_counter() - started
        query = Query(
            image["question"],
            image["options"],
            image["task"],
            [Media("image", path=image["media"][0]["path"], format="png")],
        )
        catalogue = config.skill_catalogue()
        offered = ["A1", "A2", "A3", "E1", "E2"]
        report = ExpertReport(
            "visual-stats",
            "A2",
            "Image of 160 x 120 pixels.\nA bright "
            "picture, mostly white, with green at the centre.\nDominant "
            "colours: white 78%, green 22%.",
            0.1,
        )
        asked = iter(range(10**6))

        def call() -> None:
            # a new question each time: llama.cpp reuses the key-value cache of a repeated
            # prompt prefix, which would flatter a benchmark that repeats one prompt
            q = Query(
                f"{query.question} (asked {next(asked)} times before)",
                query.options,
                query.task,
                query.media,
            )
            if which == "router":
                conversation = router_messages(q, [catalogue[s] for s in offered], ["image"])
                schema = router_schema(offered, config.router.max_experts)
            else:
                conversation = aggregator_messages(q, [report], [])
                schema = answer_schema(q.options)
            generator.generate([conversation], [schema])
    else:
        from mexa_ray.experts import build_expert

        expert = build_expert(config.expert(which), config.skill_catalogue())
        load_s = time.perf_counter() - started
        if which == "speech-transcriber":
            media, skill = Media("audio", path=str(make_speech(root / "s.wav")), format="wav"), "B1"
        elif which == "sound-events":
            media, skill = Media("audio", path=str(make_speech(root / "s.wav")), format="wav"), "B2"
        elif which == "chart-reader":
            chart = examples(root)[6]
            media, skill = Media("image", path=chart["media"][0]["path"], format="png"), "F1"
        elif which == "text-in-image":
            media, skill = (
                Media("image", path=str(make_sign(root / "sign.png")), format="png"),
                "E1",
            )
        else:
            media, skill = Media("image", path=image["media"][0]["path"], format="png"), "A2"
        call = lambda: expert.run(Query("What is in it?", media=[media]), skill)  # noqa: E731
    t = time.perf_counter()
    call()  # the first request after the load: it must not pay for the load
    first_ms = 1000 * (time.perf_counter() - t)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return {
        "model": which,
        "load_s": round(load_s, 2),
        "first_ms": round(first_ms, 1),
        "p50_ms": round(1000 * statistics.median(times), 1),
        "rss_added_mb": round((proc.memory_info().rss - base) / 2**20),
    }


def answers(config_name: str, root: Path) -> list[dict]:
    from mexa_ray.cli.demo import examples
    from mexa_ray.config import load_config
    from mexa_ray.experts import build_expert
    from mexa_ray.media import resolve_format
    from mexa_ray.models.embedding import Embedder
    from mexa_ray.reasoning.aggregation import build_aggregator
    from mexa_ray.reasoning.routing import build_router
    from mexa_ray.types import Media, Query

    config = load_config(config_name)
    embedder = Embedder(config.embedding)
    router, aggregator = build_router(config, embedder), build_aggregator(config, embedder)
    experts = {s.name: build_expert(s, config.skill_catalogue()) for s in config.experts}
    out = []
    for example, truth in zip(examples(root), TRUTH):
        media = [Media(m["type"], path=m["path"]) for m in example["media"]]
        for i, m in enumerate(media):
            m.format = resolve_format(m, f"media.{i}")
        query = Query(example["question"], example["options"], example["task"], media)
        selection = router.select(query)
        reports = [experts[s.expert].run(query, s.skill) for s in selection.experts]
        verdict = aggregator.answer(query, reports, [])
        out.append(
            {
                "question": query.question,
                "truth": truth,
                "answer": verdict.answer,
                "correct": verdict.answer == truth,
                "router": selection.router,
                "experts": [f"{s.expert}:{s.skill}" for s in selection.experts],
                "notes": selection.notes + verdict.notes,
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--out", default=str(RESULTS / "offline_models.json"))
    ap.add_argument("--one", help=argparse.SUPPRESS)  # child process: measure one model
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, Path(args.root), args.repeats)))
        return
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is needed for the speech input (bash .ci/install installs it)")
    root = Path(tempfile.mkdtemp(prefix="mexa-models-"))
    rows = []
    for which in MODELS:
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                which,
                "--root",
                str(root),
                "--repeats",
                str(args.repeats),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print("| model | load s | first request ms | per request ms (p50) | memory added MB |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['model']} | {r['load_s']} | {r['first_ms']} | {r['p50_ms']} | "
            f"{r['rss_added_mb']} |"
        )
    quality = {}
    if not args.skip_quality:
        for name in ("analytic", "default"):
            quality[name] = answers(name, root)
        print("\n| question | right answer | analytic | default | default's router |")
        print("| --- | --- | --- | --- | --- |")
        for a, d in zip(quality["analytic"], quality["default"]):
            print(
                f"| {a['question']} | {a['truth']} | {a['answer']} | {d['answer']} | "
                f"{'LLM' if d['router'].startswith('llm') else 'embedding (guard)'}: "
                f"{', '.join(d['experts'])} |"
            )
        for name, rows_ in quality.items():
            print(f"{name}: {sum(r['correct'] for r in rows_)}/{len(rows_)} correct")
    write_results(args.out, {"models": rows, "quality": quality, "repeats": args.repeats})
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
