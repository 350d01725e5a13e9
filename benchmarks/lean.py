"""The default as a user meets it: `mexa serve`'s start-up, memory, first requests, the HTTP path
with media, and its stop, measured for this checkout and (with --refs) commits, one after the
other in the same run on the same machine.

For each version it starts `python -m mexa_ray.cli serve` (a ref's from a git worktree, first on
PYTHONPATH, so its replicas import its code), then measures:

- ready: seconds from the process's start until /v1/experts lists a running replica of every
  expert (a replica records itself once its models have loaded);
- memory: the PSS of the Serve processes (controller, proxy, replicas: what the app costs) and
  of every process of the local Ray (GCS, raylet, agents and the driver too), after 10 s idle,
  and the CPU they use idle;
- per expert: the first request naming it, then the p50 of the next `--repeats` (client time);
- media over HTTP: images of 1 KB to 3 MB inline (base64) to the visual expert, the client's
  p50 minus the answer's `total_s` (from when the request reached the ingress replica to the
  answer: what is left is Serve's proxy and the network), beside a request with no media;
- stop: seconds from SIGTERM to the process's exit (Kubernetes allows 30);
- demo (--demo): `mexa demo`'s wall time.

    python benchmarks/lean.py [--refs 5b9cb9b HEAD] [--repeats 5] [--demo]

Prints a table and writes benchmarks/results/lean.json.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
from bench_io import RESULTS, write_results
from PIL import Image

from mexa_ray.cli.demo import examples
from mexa_ray.config import load_config

ROOT = Path(__file__).resolve().parent.parent
#: the image sizes of the media rows (bytes of PNG, about: random pixels do not compress)
MEDIA_BYTES = (1_000, 100_000, 1_000_000, 3_000_000)
TEXT = base64.b64encode(b"The meeting is at noon in room 4.").decode()


def png(nbytes: int) -> str:
    side = max(8, int((nbytes / 3) ** 0.5))
    pixels = np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def per_expert_bodies(media: Path) -> dict[str, dict]:
    """One request per expert of the default, naming it, on a demo file it reads."""
    demo = examples(media)
    bodies = {}
    for spec in load_config("default").experts:
        if spec.modalities == ["text"]:
            media_items = [{"type": "text", "data": TEXT, "format": "txt"}]
            body = {"question": "When is the meeting?", "media": media_items}
        else:
            body = next(b for b in demo if {m["type"] for m in b["media"]} & set(spec.modalities))
        bodies[spec.name] = {**body, "experts": [spec.name]}
    return bodies


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def memory(pid: int) -> dict:
    serve, total, cpu = 0.0, 0.0, 0.0
    procs = tree(pid)
    for p in procs:
        p.cpu_percent(None)
    time.sleep(10)
    by_process = {}
    for p in procs:
        try:
            pss = p.memory_full_info().pss / 2**20
            title = " ".join(p.cmdline())[:60]
            cpu += p.cpu_percent(None)
        except psutil.Error:
            continue
        total += pss
        if "Serve" in title or "ProxyActor" in title:
            serve += pss
            by_process[title.split()[0]] = round(pss, 1)
    return {
        "serve_pss_mb": round(serve, 1),
        "all_pss_mb": round(total, 1),
        "idle_cpu_pct": round(cpu / psutil.cpu_count(), 1),
        "serve_processes": by_process,
    }


def timed(http: httpx.Client, body: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    r = http.post("/v1/reason", json=body)
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        raise RuntimeError(f"{r.status_code}: {r.text[:300]}")
    return elapsed, r.json()


def measure(label: str, tree_root: Path, args: argparse.Namespace, media: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree_root)}
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "mexa_ray.cli", "serve", "--port", str(args.port)],
        cwd=media,  # media.roots "." : the demo files are readable by path
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    out: dict = {"version": label}
    url = f"http://127.0.0.1:{args.port}"
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"{label}: mexa serve exited: {server.stderr.read()[-2000:]!r}")
            try:  # up: every expert has a replica that has loaded and warmed its model
                cards = httpx.get(f"{url}/v1/experts", timeout=2).json()["experts"]
                if all(c.get("replicas") for c in cards):
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        out["ready_s"] = round(time.perf_counter() - started, 1)
        out["memory_ready"] = memory(server.pid)
        with httpx.Client(base_url=url, timeout=300) as http:
            out["experts"] = {}
            bodies = per_expert_bodies(media)
            for name, body in bodies.items():
                first, answer = timed(http, body)
                later = [timed(http, body) for _ in range(args.repeats)]
                p50 = statistics.median(t for t, _ in later)
                # the expert's own time (its report's latency): what a first run of its engine
                # costs; the client's also holds the router's and the evidence ranking's first
                # embedding of these texts, which later identical requests find memoised
                own = [a["reports"][0]["latency_s"] for _, a in later if a["reports"]]
                own_first = answer["reports"][0]["latency_s"] if answer["reports"] else None
                own_p50 = statistics.median(own) if own else None
                out["experts"][name] = {
                    "first_s": round(first, 3),
                    "p50_s": round(p50, 3),
                    "ratio": round(first / p50, 2),
                    "expert_first_s": own_first and round(own_first, 3),
                    "expert_p50_s": own_p50 and round(own_p50, 3),
                    "expert_ratio": (
                        round(own_first / own_p50, 2) if own_first and own_p50 else None
                    ),
                }
            out["media"] = {}
            rows = {"no media (text)": bodies["text-reader"]}
            for nbytes in MEDIA_BYTES:
                data = png(nbytes)
                rows[f"{len(base64.b64decode(data)) // 1000} KB PNG"] = {
                    "question": "What colour dominates?",
                    "options": ["red", "green", "grey"],
                    "media": [{"type": "image", "data": data, "format": "png"}],
                    "experts": ["visual-stats"],
                }
            for row, body in rows.items():
                timed(http, body)
                runs = [timed(http, body) for _ in range(args.repeats)]
                client = statistics.median(t for t, _ in runs)
                chain = statistics.median(a["timings"]["total_s"] for _, a in runs)
                outside = statistics.median(t - a["timings"]["total_s"] for t, a in runs)
                out["media"][row] = {
                    "client_p50_ms": round(client * 1000, 1),
                    "chain_p50_ms": round(chain * 1000, 1),
                    "outside_ms": round(outside * 1000, 1),
                }
        out["memory_after"] = memory(server.pid)
    finally:
        stopping = time.perf_counter()
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.wait(60)
            out["stop_s"] = round(time.perf_counter() - stopping, 1)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            out["stop_s"] = None
    if args.demo:
        began = time.perf_counter()
        demo = subprocess.run(
            [sys.executable, "-m", "mexa_ray.cli", "demo"],
            env=env,
            capture_output=True,
            text=True,
        )
        out["demo_s"] = round(time.perf_counter() - began, 1)
        out["demo_stderr"] = demo.stderr.strip().splitlines()[-3:]
    return out


def worktree(ref: str) -> Path:
    where = Path(tempfile.mkdtemp(prefix="mexa-baseline-")) / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), ref],
        check=True,
        capture_output=True,
    )
    return where


def table(results: list[dict]) -> None:
    names = [r["version"] for r in results]
    print(f"| figure | {' | '.join(names)} |")
    print(f"| --- |{' --- |' * len(names)}")

    def row(label: str, get) -> None:
        print(f"| {label} | {' | '.join(str(get(r)) for r in results)} |")

    row("ready (s)", lambda r: r["ready_s"])
    row("Serve processes PSS ready (MB)", lambda r: r["memory_ready"]["serve_pss_mb"])
    row("all Ray processes PSS ready (MB)", lambda r: r["memory_ready"]["all_pss_mb"])
    row("Serve processes PSS after the requests (MB)", lambda r: r["memory_after"]["serve_pss_mb"])
    row("idle CPU (% of the machine)", lambda r: r["memory_ready"]["idle_cpu_pct"])

    def first_vs_p50(name: str, whose: str, prefix: str) -> None:
        row(
            f"{name}: first / p50, {whose} (s)",
            lambda r: (
                f"{r['experts'][name].get(prefix + 'first_s')} / "
                f"{r['experts'][name].get(prefix + 'p50_s')} "
                f"({r['experts'][name].get(prefix + 'ratio')}x)"
            ),
        )

    for name in results[0]["experts"]:
        first_vs_p50(name, "client", "")
        first_vs_p50(name, "the expert's own", "expert_")
    for media_row in results[0]["media"]:
        row(
            f"{media_row}: client / chain / outside (ms)",
            lambda r, m=media_row: (
                f"{r['media'][m]['client_p50_ms']} / "
                f"{r['media'][m]['chain_p50_ms']} / {r['media'][m]['outside_ms']}"
            ),
        )
    row("stop after SIGTERM (s)", lambda r: r["stop_s"])
    if "demo_s" in results[0]:
        row("mexa demo (s)", lambda r: r["demo_s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--refs",
        nargs="+",
        default=[],
        help="git refs to measure, in order, each from a worktree (the first is the baseline); "
        "none: this checkout as it is",
    )
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--port", type=int, default=8461)
    ap.add_argument("--demo", action="store_true", help="time `mexa demo` too")
    ap.add_argument("--out", default=str(RESULTS / "lean.json"))
    args = ap.parse_args()
    media = Path(tempfile.mkdtemp(prefix="mexa-lean-"))
    results = []
    for ref in args.refs:
        tree = worktree(ref)
        try:
            results.append(measure(ref, tree, args, media))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)])
    if not args.refs:
        results.append(measure("this checkout", ROOT, args, media))
    table(results)
    write_results(args.out, {"results": results})


if __name__ == "__main__":
    main()
