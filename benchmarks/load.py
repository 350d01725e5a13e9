"""A bounded load run over HTTP: N concurrent clients for S seconds (or R requests) against an app.

Starts a local Ray with the app (`--config`, the analytic pipeline unless named) behind Serve's
HTTP proxy on loopback, then N client threads send the bundled demo questions (table, point
cloud, audio, video, image, by path) round robin, with an invalid body every tenth request, for S
seconds or until R requests are sent. It reports requests, statuses, latency percentiles of the
answered requests, and the resident memory of the Serve replica processes, sampled every few
seconds from after the warm-up to the end: a leak keeps growing to the last sample, while a
high-water mark (more threads, bigger buffers under concurrency) levels off, so the table gives
the growth over the run's second half too. It also prints the PSS of all Serve processes
(controller, proxy, replicas) before and after: the soak of issue 27 is

    python benchmarks/load.py --config default --clients 4 --requests 1000

    python benchmarks/load.py [--clients 20] [--seconds 30] [--requests R] [--config NAME]

Prints a table and writes benchmarks/results/load.json. The only statuses expected are 200, the
422s of the invalid bodies, and documented 503s (overload); anything else is counted as an error.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
from bench_io import RESULTS, write_results

from mexa_ray.cli.demo import examples
from mexa_ray.config import load_config, parse_config
from mexa_ray.serving import runtime

INVALID = {"question": "", "media": [{"type": "audio", "path": "../../etc/passwd"}]}
EXPECTED = {200, 422, 503}


def replica_rss_mb() -> dict[str, float]:
    """Resident memory of each Serve replica process, keyed `app:deployment#pid` (Ray titles
    them ray::ServeReplica:...): replicas that autoscaling adds are new keys, not growth."""
    out: dict[str, float] = {}
    for p in psutil.process_iter(["pid", "cmdline", "memory_info"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "ServeReplica:" in cmd and p.info["memory_info"] is not None:
            name = cmd.split("ServeReplica:", 1)[1].split()[0]
            out[f"{name}#{p.info['pid']}"] = p.info["memory_info"].rss / 2**20
    return out


def serve_pss_mb() -> float:
    """The summed PSS of every Serve process (controller, proxies, replicas): shared pages
    counted once across them, so the sum is what the app holds."""
    total = 0.0
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if cmd.startswith(("ray::Serve", "ray::ProxyActor")):
            try:
                total += p.memory_full_info().pss / 2**20
            except psutil.Error:
                continue
    return round(total, 1)


def rss_of(keys: list[str]) -> dict[str, float]:
    """MB of the given replica processes now (read by pid: no scan, no title to match)."""
    out = {}
    for key in keys:
        try:
            out[key] = psutil.Process(int(key.rsplit("#", 1)[1])).memory_info().rss / 2**20
        except psutil.Error:
            pass  # the replica is gone (replaced): it has no sample
    return out


def client(
    url: str,
    bodies: list[dict],
    stop_at: float,
    offset: int,
    results: list[tuple[int, float]],
    lock: threading.Lock,
    max_requests: int | None = None,
) -> None:
    i = offset
    with httpx.Client(timeout=120) as http:
        while time.monotonic() < stop_at and (max_requests is None or len(results) < max_requests):
            body = INVALID if i % 10 == 9 else bodies[i % len(bodies)]
            started = time.perf_counter()
            try:
                status = http.post(f"{url}/v1/reason", json=body).status_code
            except httpx.HTTPError:
                status = -1  # no response at all: the worst outcome
            with lock:
                results.append((status, time.perf_counter() - started))
            i += 1


def percentile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else (values[0] if values else float("nan"))
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument(
        "--requests",
        type=int,
        help="stop after this many requests (then --seconds is 3600 at least)",
    )
    ap.add_argument("--config", default="analytic", help="a packaged config name or a path")
    ap.add_argument("--port", type=int, default=8431)
    ap.add_argument("--sample-every", type=float, default=5.0)
    ap.add_argument("--out", default=str(RESULTS / "load.json"))
    args = ap.parse_args()

    media = Path(tempfile.mkdtemp(prefix="mexa-load-"))
    bodies = examples(media)[:5]  # table, point cloud, audio, video, image
    if args.requests:
        args.seconds = max(args.seconds, 3600.0)
    data = load_config(args.config).model_dump()
    data["media"]["roots"] = [str(media)]
    runtime.start(parse_config(data), http=True, port=args.port)
    url = f"http://127.0.0.1:{args.port}"
    try:
        for body in bodies:  # warm-up: every expert has loaded and answered once
            assert httpx.post(f"{url}/v1/reason", json=body, timeout=300).status_code == 200
        rss_start = replica_rss_mb()
        pss_start = serve_pss_mb()
        results: list[tuple[int, float]] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=client, args=(url, bodies, stop_at, i, results, lock, args.requests)
            )
            for i in range(args.clients)
        ]
        began = time.perf_counter()
        for t in threads:
            t.start()
        samples = [(0.0, rss_start)]
        while any(t.is_alive() for t in threads):
            time.sleep(args.sample_every)
            samples.append((time.perf_counter() - began, rss_of(list(rss_start))))
        for t in threads:
            t.join()
        wall = time.perf_counter() - began
        rss_end = replica_rss_mb()
        pss_end = serve_pss_mb()
        healthy = httpx.get(f"{url}/healthz").status_code == 200
    finally:
        runtime.stop()

    statuses = collections.Counter(s for s, _ in results)
    answered = [t for s, t in results if s == 200]
    errors = sum(n for s, n in statuses.items() if s not in EXPECTED)
    growth = {k: rss_end[k] - v for k, v in rss_start.items() if k in rss_end}
    half = sum(next(mb for t, mb in samples if t >= wall / 2).values())
    summary = {
        "config": args.config,
        "clients": args.clients,
        "seconds": round(wall, 1),
        "requests": len(results),
        "requests_per_s": round(len(results) / wall, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": errors,
        "p50_s": round(percentile(answered, 50), 3),
        "p99_s": round(percentile(answered, 99), 3),
        # the replicas there from the start; replicas added by autoscaling are listed apart
        "replica_rss_mb_start": round(sum(rss_start.values()), 1),
        "replica_rss_mb_half": round(half, 1),
        "replica_rss_mb_end": round(sum(rss_end[k] for k in rss_start if k in rss_end), 1),
        "replica_rss_growth_mb": {k: round(v, 1) for k, v in sorted(growth.items())},
        "replicas_added": {k: round(v, 1) for k, v in rss_end.items() if k not in rss_start},
        "replica_rss_mb_samples": {
            k: [round(mb.get(k, float("nan")), 1) for _, mb in samples] for k in rss_start
        },
        "sample_times_s": [round(t, 1) for t, _ in samples],
        "healthy_after": healthy,
        "serve_pss_mb_start": pss_start,
        "serve_pss_mb_end": pss_end,
    }
    print(
        "| clients | s | requests | req/s | statuses | errors | p50 s | p99 s | "
        "replica RSS MB start -> half-way -> end | healthy after |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {args.clients} | {summary['seconds']} | {summary['requests']} | "
        f"{summary['requests_per_s']} | "
        f"{', '.join(f'{k}: {v}' for k, v in summary['statuses'].items())} | {errors} | "
        f"{summary['p50_s']} | {summary['p99_s']} | {summary['replica_rss_mb_start']} -> "
        f"{summary['replica_rss_mb_half']} -> {summary['replica_rss_mb_end']} | {healthy} |"
    )
    print(
        f"\nServe processes' summed PSS: {pss_start} MB after the warm-up -> {pss_end} MB after "
        f"{len(results)} requests ({pss_end - pss_start:+.1f} MB)"
    )
    write_results(args.out, summary)


if __name__ == "__main__":
    main()
