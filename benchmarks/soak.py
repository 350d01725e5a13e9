"""A soak run: the default app under a steady mixed load for a long time, with an expert replica
killed at regular intervals, to see what a server that runs for months would: errors, latency
drift, memory and file-descriptor growth, and the media spool's size.

The load is every demo input (`mexa_ray.cli.demo.examples`), sent in turn by path and as an upload
(inline base64; the big ones go through the object store), plus a text upload of distinct bytes
every request, so that the spool sees a new file each time. `--clients` threads send them for
`--minutes`; every `--kill-every` minutes one expert replica (each expert in turn) is killed with
`ray.kill`, as a crash would. The spool is capped at `--spool-mb` to show the cap holding.

    python benchmarks/soak.py [--minutes 30] [--window 5] [--kill-every 5] [--clients 4]

Prints, per window: requests, statuses, p50/p99 latency; then each Serve process's PSS and open
file descriptors after the warm-up and at the end, and the spool's files and bytes; writes
benchmarks/results/soak.json.
"""

from __future__ import annotations

import argparse
import base64
import collections
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
from bench_io import RESULTS, write_results
from load import percentile

from mexa_ray.cli.demo import examples
from mexa_ray.config import load_config, parse_config
from mexa_ray.media.spool import spool_dir
from mexa_ray.serving import runtime

#: the Ray processes a Serve app lives in (their process titles)
SERVE_PROCESSES = ("ServeReplica:", "ProxyActor", "ServeController")


def serve_processes() -> dict[str, dict]:
    """PSS (MB) and open descriptors of each Serve process, keyed by title and pid."""
    out = {}
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        kind = next((k for k in SERVE_PROCESSES if k in cmd), None)
        if kind is None:
            continue
        name = cmd.split(kind, 1)[1].split()[0] if kind == "ServeReplica:" else kind
        try:
            out[f"{name}#{p.info['pid']}"] = {
                "pss_mb": round(p.memory_full_info().pss / 2**20, 1),
                "fds": p.num_fds(),
            }
        except psutil.Error:
            continue  # gone meanwhile (a killed replica)
    return out


def spool_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.iterdir() if p.is_file() and not p.name.endswith(".part")]
    return len(files), sum(p.stat().st_size for p in files)


def bodies(media: Path) -> list[dict]:
    """Every demo request by path, and each again with its file sent as an upload."""
    out = []
    for body in examples(media):
        out.append(body)
        item = body["media"][0]
        data = base64.b64encode(Path(item["path"]).read_bytes()).decode()
        upload = {"type": item["type"], "format": Path(item["path"]).suffix[1:], "data": data}
        out.append({**body, "media": [upload]})
    return out


def client(url: str, load: list[dict], stop_at: float, offset: int, log: list, lock) -> None:
    i = offset
    with httpx.Client(timeout=300) as http:
        while time.monotonic() < stop_at:
            body = load[i % len(load)]
            note = f"Note {i} at {time.time()}: the meeting is on Tuesday.".encode()
            body = {
                **body,
                "media": body["media"]
                + [{"type": "text", "format": "txt", "data": base64.b64encode(note).decode()}],
            }
            sent = time.monotonic()
            try:
                status = http.post(f"{url}/v1/reason", json=body).status_code
            except httpx.HTTPError:
                status = -1  # no response at all
            with lock:
                log.append((sent, time.monotonic() - sent, status))
            i += 1


def kill_an_expert(app: str, turn: int) -> str:
    import ray

    names = sorted(
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        # an expert's own deployment, or an expert group's (the default's eight share one)
        if a["name"].startswith((f"SERVE_REPLICA::{app}#expert-", f"SERVE_REPLICA::{app}#experts-"))
    )
    victim = names[turn % len(names)]
    ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
    return victim.split("#")[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--window", type=float, default=5.0, help="minutes per reported window")
    ap.add_argument("--kill-every", type=float, default=5.0, help="minutes between kills")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--spool-mb", type=int, default=64, help="the spool's cap for the run")
    ap.add_argument("--port", type=int, default=8437)
    ap.add_argument("--out", default=str(RESULTS / "soak.json"))
    args = ap.parse_args()

    media = Path(tempfile.mkdtemp(prefix="mexa-soak-"))
    load = bodies(media)
    data = load_config().model_dump()
    data["media"]["roots"] = [str(media)]
    data["ingress"]["max_body_bytes"] = 64 * 2**20  # the point cloud, uploaded
    data["spool"] = {"max_bytes": args.spool_mb * 2**20}
    config = parse_config(data)
    root = spool_dir(config.spool)
    runtime.start(config, http=True, port=args.port)
    url = f"http://127.0.0.1:{args.port}"
    log: list[tuple[float, float, int]] = []
    kills: list[tuple[float, str]] = []
    spool_max = (0, 0)
    try:
        for body in load:  # warm-up: every expert has loaded and answered once
            r = httpx.post(f"{url}/v1/reason", json=body, timeout=300)
            assert r.status_code == 200, r.text
        time.sleep(5)
        before = serve_processes()
        lock = threading.Lock()
        began = time.monotonic()
        stop_at = began + args.minutes * 60
        threads = [
            threading.Thread(target=client, args=(url, load, stop_at, i * 3, log, lock))
            for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        next_kill, turn = began + args.kill_every * 60, 0
        while any(t.is_alive() for t in threads):
            time.sleep(1.0)
            files, size = spool_size(root)
            spool_max = max(spool_max, (size, files))
            if time.monotonic() >= next_kill and time.monotonic() < stop_at - 30:
                kills.append((time.monotonic() - began, kill_an_expert(config.name, turn)))
                turn += 1
                next_kill += args.kill_every * 60
        time.sleep(5)
        after = serve_processes()
        spool_end = spool_size(root)
        healthy = httpx.get(f"{url}/healthz").status_code == 200
    finally:
        runtime.stop()

    windows = []
    width = args.window * 60
    for w in range(int(args.minutes * 60 // width + 0.999)):
        rows = [(d, s) for t, d, s in log if w * width <= t - began < (w + 1) * width]
        answered = [d for d, s in rows if s == 200]
        windows.append(
            {
                "window": f"{w * args.window:g}-{(w + 1) * args.window:g} min",
                "requests": len(rows),
                "statuses": dict(sorted(collections.Counter(str(s) for _, s in rows).items())),
                "p50_s": round(percentile(answered, 50), 3),
                "p99_s": round(percentile(answered, 99), 3),
            }
        )
    kept = sorted(set(before) & set(after))
    processes = {k: {"start": before[k], "end": after[k]} for k in kept}
    summary = {
        "minutes": args.minutes,
        "clients": args.clients,
        "requests": len(log),
        "statuses": dict(sorted(collections.Counter(str(s) for *_, s in log).items())),
        "server_errors": sum(s >= 500 or s < 0 for *_, s in log),
        "kills": [{"at_s": round(t, 1), "expert": name} for t, name in kills],
        "windows": windows,
        "processes": processes,
        "replaced_processes": sorted(set(after) - set(before)),
        "pss_mb_start": round(sum(before[k]["pss_mb"] for k in kept), 1),
        "pss_mb_end": round(sum(after[k]["pss_mb"] for k in kept), 1),
        "fds_start": sum(before[k]["fds"] for k in kept),
        "fds_end": sum(after[k]["fds"] for k in kept),
        "spool_cap_bytes": config.spool.max_bytes,
        "spool_max_bytes": spool_max[0],
        "spool_max_files": spool_max[1],
        "spool_end": {"files": spool_end[0], "bytes": spool_end[1]},
        "healthy_after": healthy,
    }
    print("| window | requests | statuses | p50 s | p99 s |")
    print("| --- | --- | --- | --- | --- |")
    for w in windows:
        statuses = ", ".join(f"{k}: {v}" for k, v in w["statuses"].items())
        print(f"| {w['window']} | {w['requests']} | {statuses} | {w['p50_s']} | {w['p99_s']} |")
    print("\n| process | PSS MB start -> end | open fds start -> end |")
    print("| --- | --- | --- |")
    for name, p in processes.items():
        print(
            f"| {name} | {p['start']['pss_mb']} -> {p['end']['pss_mb']} | "
            f"{p['start']['fds']} -> {p['end']['fds']} |"
        )
    print(
        f"\nall kept processes: PSS {summary['pss_mb_start']} -> {summary['pss_mb_end']} MB, "
        f"fds {summary['fds_start']} -> {summary['fds_end']}; replaced: "
        f"{summary['replaced_processes']}; kills: {summary['kills']}"
    )
    print(
        f"spool: at most {spool_max[0] / 2**20:.1f} MB in {spool_max[1]} files (cap "
        f"{args.spool_mb} MB); {spool_end[0]} files at the end; 5xx or no response: "
        f"{summary['server_errors']}; healthy after: {healthy}"
    )
    write_results(args.out, summary)


if __name__ == "__main__":
    main()
