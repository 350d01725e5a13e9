"""What a load balancer's first request meets: `mexa serve` started anew, one request sent the
moment a probe route first answers 200, then the p50 of the requests after it.

Two starts of the default in one run, one per probe: `/healthz` (liveness: the ingress answers,
experts maybe still loading) and `/readyz` (readiness: every deployment has a running replica).
The requests are `mexa demo`'s picture question (the router picks the experts), each numbered.

    python benchmarks/readiness.py [--repeats 5]

Prints a table and writes benchmarks/results/readiness.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench_io import RESULTS, write_results

from mexa_ray.cli.demo import examples


def numbered(body: dict, n: int) -> dict:
    """The request with a question of its own: the router and the aggregator memoise the
    embeddings of texts they have seen, which would make repeats faster than any first one."""
    return {**body, "question": f"{body['question']} (request {n})"}


def start_and_ask(probe: str, body: dict, media: Path, port: int, repeats: int) -> dict:
    started = time.perf_counter()
    log = tempfile.TemporaryFile(mode="w+")  # a pipe nobody reads would fill and block it
    server = subprocess.Popen(
        [sys.executable, "-m", "mexa_ray.cli", "serve", "--port", str(port)],
        cwd=media,  # media.roots ".": the demo files are readable by path
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as http:
            while True:
                if server.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"mexa serve exited: {log.read()[-2000:]!r}")
                try:
                    if http.get(probe).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            probe_s = time.perf_counter() - started
            sent = time.perf_counter()
            first = http.post("/v1/reason", json=numbered(body, 0))
            first_s = time.perf_counter() - sent
            later = []
            for n in range(1, repeats + 1):
                sent = time.perf_counter()
                http.post("/v1/reason", json=numbered(body, n)).raise_for_status()
                later.append(time.perf_counter() - sent)
        answer = first.json() if first.status_code == 200 else {}
        p50 = statistics.median(later)
        return {
            "probe": probe,
            "probe_200_after_s": round(probe_s, 1),
            "first_status": first.status_code,
            "first_s": round(first_s, 2),
            "first_missing": [m["expert"] for m in answer.get("missing", [])],
            "later_p50_s": round(p50, 3),
            "ratio": round(first_s / p50, 1),
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(120)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mexa-readiness-") as folder:
        media = Path(folder)
        body = next(b for b in examples(media) if b["media"][0]["type"] == "image")
        rows = [
            start_and_ask(probe, body, media, args.port, args.repeats)
            for probe in ("/healthz", "/readyz")
        ]
    print(
        f"{'probe':9} {'200 after':>10} {'first':>8} {'missing':>22} {'later p50':>10} {'ratio':>6}"
    )
    for r in rows:
        missing = ",".join(r["first_missing"]) or "-"
        print(
            f"{r['probe']:9} {r['probe_200_after_s']:>9.1f}s {r['first_s']:>7.2f}s "
            f"{missing:>22} {r['later_p50_s']:>9.3f}s {r['ratio']:>5.1f}x"
        )
    write_results(RESULTS / "readiness.json", {"repeats": args.repeats, "rows": rows})


if __name__ == "__main__":
    main()
