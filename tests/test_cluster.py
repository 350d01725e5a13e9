"""mexa-ray on a multi-node Ray cluster (several raylets on this machine, each with its own
logical GPUs and custom resources): placement, a lost node, autoscaling.

Run apart from the rest (`pytest -m cluster`): the driver joins this cluster, not the local Ray
the other tests share.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import pick_free_port, stop_node

from mexa_ray.config import AppConfig, load_config, parse_config
from mexa_ray.serving.placement import placements
from mexa_ray.serving.runtime import deploy

pytestmark = pytest.mark.cluster

SMALL = 200 * 2**20  # object store per raylet


ROOT = Path(__file__).resolve().parents[1]


def ray_cli(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "ray"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_node(env: dict, *args: str) -> subprocess.Popen:
    """`ray start --block` in a process group of its own: killing the group is losing the node
    (its raylet and every worker on it) without touching the others."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ray"),
            "start",
            "--block",
            "--disable-usage-stats",
            *args,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def cluster_gpus(gcs: int, env: dict) -> float | None:
    """The GPUs the cluster's raylets have registered; None while the head does not answer."""
    out = ray_cli("status", f"--address=127.0.0.1:{gcs}", env=env, timeout=60)
    if out.returncode != 0:
        return None
    found = re.search(r"/(\d+(?:\.\d+)?) GPU", out.stdout)
    return float(found.group(1)) if found else 0.0


def rows_on_disk(folder: Path) -> int:
    """Rows in the files the running job has finished writing; a file still being written has no
    footer yet, so it is left alone (read_predictions would move it aside as cut short)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 0
    for path in folder.glob("*.parquet"):
        try:
            rows += pq.read_metadata(path).num_rows
        except (OSError, pa.ArrowInvalid):
            continue
    return rows


def test_a_bulk_job_submitted_with_ray_job_submit_survives_a_lost_node(tmp_path):
    """`ray job submit` of mexa_ray.bulk to a cluster of `ray start` processes (a head and two
    GPU workers); the expert's actor pool spans both workers; one worker is killed once results
    are on disk, a new one joins, and the job still finishes with every item exactly once
    (Ray Data restarts lost actors and retries their tasks)."""
    from mexa_ray.bulk.store import predictions_dir, read_predictions

    n = 60
    media = tmp_path / "notes"
    media.mkdir()
    with (tmp_path / "items.jsonl").open("w") as f:
        for i in range(n):
            (media / f"note{i}.txt").write_text(f"Note {i}: the meeting is on Tuesday.")
            f.write(
                json.dumps(
                    {
                        "id": f"n{i}",
                        "question": "What day is the meeting?",
                        "options": ["Monday", "Tuesday"],
                        "answer": "Tuesday",
                        "media": [{"type": "text", "path": f"note{i}.txt"}],
                    }
                )
                + "\n"
            )
    lean = {"ray_actor_options": {"num_cpus": 0.1}}
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "bulk",
                "router": {"kind": "embedding", "deployment": lean, "bulk": {"batch_size": 4}},
                "aggregator": {"kind": "evidence", "deployment": lean, "bulk": {"batch_size": 4}},
                "experts": [
                    {
                        "name": "reader",
                        "backend": "synthetic",
                        "modalities": ["text"],
                        "skills": ["T1"],
                        "description": "Reads the note.",
                        "timeout_s": 10,
                        "settings": {
                            "delay_s": 0.6,
                            "with_node": True,
                            "text": "The note says the meeting is on Tuesday.",
                        },
                        # two GPUs per actor and two per worker: one actor on each worker
                        "bulk": {"actors": 2, "batch_size": 2, "num_cpus": 0.1, "num_gpus": 2},
                    }
                ],
            }
        )
    )
    gcs, dashboard = pick_free_port(), pick_free_port()
    temp = tempfile.mkdtemp(prefix="mxj", dir="/tmp")  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    head = start_node(
        env,
        "--head",
        f"--port={gcs}",
        f"--dashboard-port={dashboard}",
        "--include-dashboard=true",
        "--num-cpus=4",
        "--num-gpus=0",
        f"--temp-dir={temp}",
    )
    worker = [f"--address=127.0.0.1:{gcs}", "--num-cpus=4", "--num-gpus=2"]
    workers: list[subprocess.Popen] = []
    address = ["--address", f"http://127.0.0.1:{dashboard}"]
    out = tmp_path / "out"
    try:
        # workers join once the head answers (a busy machine can take a while to bring it up);
        # one whose `ray start` gave up meanwhile is started again
        joined = time.time() + 180
        while cluster_gpus(gcs, env) is None:
            assert time.time() < joined, "the head node never came up"
            time.sleep(1)
        workers += [start_node(env, *worker), start_node(env, *worker)]
        while cluster_gpus(gcs, env) != 4:
            assert time.time() < joined, f"the workers did not join: {cluster_gpus(gcs, env)} GPUs"
            for i, node in enumerate(workers):
                if node.poll() is not None:
                    workers[i] = start_node(env, *worker)
            time.sleep(1)
        submitted = None
        for _ in range(60):  # the dashboard takes a while to answer
            submitted = ray_cli(
                "job",
                "submit",
                *address,
                "--no-wait",
                "--submission-id",
                "mexa-bulk",
                "--",
                sys.executable,
                "-m",
                "mexa_ray.bulk",
                "--benchmark",
                "generic",
                "--annotations",
                str(tmp_path / "items.jsonl"),
                "--media-root",
                str(media),
                "--out",
                str(out),
                "--config",
                str(tmp_path / "config.yaml"),
                env=env,
            )
            if submitted.returncode == 0:
                break
            time.sleep(2)
        assert submitted.returncode == 0, submitted.stderr[-2000:]
        deadline = time.time() + 300
        while not (written_before := rows_on_disk(predictions_dir(out))):
            assert time.time() < deadline, ray_cli(
                "job", "logs", "mexa-bulk", *address, env=env
            ).stdout[-3000:]
            time.sleep(0.5)
        stop_node(workers[0])  # lost mid-job, with its expert actor and any tasks on it
        workers.append(start_node(env, *worker))
        status = ""
        while time.time() < deadline:
            status = ray_cli("job", "status", "mexa-bulk", *address, env=env).stdout.upper()
            if "SUCCEEDED" in status or "FAILED" in status or "STOPPED" in status:
                break
            time.sleep(2)
        logs = ray_cli("job", "logs", "mexa-bulk", *address, env=env).stdout
        assert "SUCCEEDED" in status, logs[-3000:]
        rows = read_predictions(out).to_pylist()
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)) == n  # every item exactly once
        assert 0 < written_before < n  # the node was lost mid-job
        assert {r["status"] for r in rows} == {"ok"} and {r["answer"] for r in rows} == {"Tuesday"}
        nodes = {
            re.search(r"\(node (\w+)\)", rep["text"]).group(1)
            for r in rows
            for rep in json.loads(r["reports"])
        }
        assert len(nodes) >= 2  # the expert's pool ran on more than one node
        print(
            f"bulk job: {n} items once each after a lost node ({written_before} written "
            f"before the loss); the expert ran on {len(nodes)} nodes"
        )
    finally:
        for node in workers:
            stop_node(node)
        stop_node(head, signal.SIGTERM)


#: the first expert node; like cluster.yaml's frontend nodes, it can also host an ingress replica
EXPERTS_A = {
    "num_cpus": 8,
    "num_gpus": 3,
    "object_store_memory": SMALL,
    "resources": {"expert_slot": 1000, "spread_slot": 1, "a_slot": 1, "frontend_slot": 100},
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head and three workers shaped like cluster.yaml's node types: two GPU expert nodes
    (expert_slot; `spread_slot` lets a test put one replica on each) and an LRM node. The head
    and the first expert node are frontend nodes (frontend_slot)."""
    import ray
    from ray import serve
    from ray.cluster_utils import Cluster

    c = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 8,
            "resources": {"head_slot": 100, "frontend_slot": 100},
            "object_store_memory": SMALL,
        },
    )
    workers = {
        "experts-a": c.add_node(**EXPERTS_A),
        "experts-b": c.add_node(
            num_cpus=8,
            num_gpus=3,
            object_store_memory=SMALL,
            resources={"expert_slot": 1000, "spread_slot": 1},
        ),
        "lrm": c.add_node(
            num_cpus=8, num_gpus=2, object_store_memory=SMALL, resources={"lrm_slot": 1000}
        ),
    }
    ray.init(address=c.address, log_to_driver=False)
    port = pick_free_port()
    # every raylet here shares 127.0.0.1: one proxy, on the head (a real cluster runs one per
    # node behind its load balancer)
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
    media = tmp_path_factory.mktemp("cluster-media")
    (media / "note.txt").write_text("A short note.")
    yield c, workers, f"http://127.0.0.1:{port}", media
    serve.shutdown()
    ray.shutdown()
    c.shutdown()


def synthetic(data: dict, delay_s: float = 0.05) -> dict:
    """The config's structure and resources, its experts made synthetic (text in, a sleep)."""
    data["router"] = {"kind": "embedding", "deployment": data["router"]["deployment"]}
    data["aggregator"] = {"kind": "evidence", "deployment": data["aggregator"]["deployment"]}
    for e in data["experts"]:
        e.update(
            backend="synthetic",
            model=None,
            modalities=["text"],
            skills=["T1"],
            settings={"delay_s": delay_s},
            batching=None,
        )
    return data


def ask(base: str, experts: list[str], media, deadline_s: float = 30) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/reason",
        timeout=deadline_s + 30,
        json={
            "question": "What does the note say?",
            "experts": experts,
            "deadline_s": deadline_s,
            "media": [{"type": "text", "path": str(media / "note.txt")}],
        },
    )


def test_gpu_cluster_replicas_run_where_their_resources_say(cluster, capsys):
    from ray import serve

    c, workers, base, media = cluster
    data = synthetic(load_config("gpu-cluster").model_dump(mode="json"))
    data["experts"][1]["deployment"]["ray_actor_options"]["num_gpus"] = 1  # a second whole GPU
    # one LRM node here, with two GPUs: room for one of the reasoning model's replicas
    data["aggregator"]["deployment"]["autoscaling_config"]["min_replicas"] = 1
    data["media"]["roots"] = [str(media)]
    config = parse_config(data)
    deploy(config)
    try:
        names = [e.name for e in config.experts]
        assert ask(base, names, media).status_code == 200
        cards = {c["name"]: c for c in httpx.get(f"{base}/v1/experts").json()["experts"]}
        expert_nodes = {workers["experts-a"].node_id, workers["experts-b"].node_id}
        taken: dict[tuple[str, str], list[tuple[str, float]]] = {}
        for spec in config.experts:
            [replica] = cards[spec.name]["replicas"]
            assert replica["state"] == "RUNNING"
            actor = spec.deployment.ray_actor_options
            if "expert_slot" in actor.get("resources", {}):
                assert (
                    replica["node_id"] in expert_nodes
                    and "expert_slot" in replica["node_resources"]
                )
            gpus = float(actor.get("num_gpus", 0))
            # the ids Ray gave are the ones the process sees
            assert len(replica["gpu_ids"]) == (max(1, int(gpus)) if gpus else 0)
            assert (replica["cuda_visible_devices"] or "") == ",".join(replica["gpu_ids"])
            for gpu in replica["gpu_ids"]:
                taken.setdefault((replica["node_id"], gpu), []).append((spec.name, gpus))
        # a whole-GPU expert has its card to itself
        for holders in taken.values():
            if any(share >= 1 for _, share in holders):
                assert len(holders) == 1, holders
        # the reasoning model's replica is on the LRM node with its two GPUs
        [lrm] = asyncio.run(placements(config.name, role="aggregator"))["aggregator"]
        assert lrm["node_id"] == workers["lrm"].node_id and len(lrm["gpu_ids"]) == 2
        # the same, as `mexa experts --url` prints it for a person
        from mexa_ray.cli import main

        capsys.readouterr()
        assert main(["experts", "--url", base]) == 0
        printed = capsys.readouterr().out
        vision = cards["vision"]["replicas"][0]
        [line] = [ln for ln in printed.splitlines() if f"replica {vision['replica']}:" in ln]
        assert f"RUNNING on node {vision['node_id'][:12]}" in line
        assert "expert_slot" in line and line.endswith(f"GPUs {vision['gpu_ids'][0]}")
        print(
            {
                name: [(r["node_id"][:8], r["gpu_ids"]) for r in card["replicas"]]
                for name, card in cards.items()
            }
        )
    finally:
        serve.delete(config.name)


def small_app(name: str, media, experts: list[dict], **extra) -> AppConfig:
    """Ingress, orchestrator and aggregator on the head (they must outlive a worker)."""
    head = {"ray_actor_options": {"num_cpus": 0.1, "resources": {"head_slot": 1}}}
    return parse_config(
        {
            "name": name,
            "request_deadline_s": 30,
            "router": {"kind": "embedding", "deployment": head},
            "aggregator": {"kind": "evidence", "deployment": head},
            "media": {"roots": [str(media)]},
            "ingress": {"deployment": head},
            "experts": [
                {
                    "backend": "synthetic",
                    "modalities": ["text"],
                    "skills": ["T1"],
                    "description": f"Synthetic {e['name']}.",
                    **e,
                }
                for e in experts
            ],
            **extra,
        }
    )


def replica_nodes(app: str) -> dict[str, list[str]]:
    """Each deployment's live replicas, as the ids of the nodes they run on."""
    from ray.util.state import list_actors

    out: dict[str, list[str]] = {}
    for actor in list_actors(filters=[("state", "=", "ALIVE")], limit=1000):
        name = actor.name or ""
        if name.startswith(f"SERVE_REPLICA::{app}#"):
            out.setdefault(name.split("#")[1], []).append(actor.node_id)
    return out


def test_the_control_path_survives_the_loss_of_its_node(cluster):
    """The control path replicated as docs/cluster.md says (two replicas of the ingress, the
    orchestrator and the aggregator, one per node; the ingress on the frontend nodes, where the
    proxy is): the node holding one of each, one replica of two experts and the only replica of
    a third is lost under load. Every request is answered within its deadline, none fails:
    calls in flight at a lost replica are sent again to the survivor, the proxy keeps to the
    ingress on its own node, and only the expert without a survivor is missing, until a new
    node with the lost one's resources joins and full answers return."""
    from ray import serve

    c, workers, base, media = cluster
    lean = {"num_cpus": 0.1}

    def apart(resource: str, **actor) -> dict:
        return {
            "num_replicas": 2,
            "max_replicas_per_node": 1,
            "ray_actor_options": {**lean, **actor, "resources": {resource: 1}},
        }

    config = parse_config(
        {
            "name": "control-path",
            "request_deadline_s": 8,
            "router": {"kind": "embedding", "deployment": apart("expert_slot")},
            "aggregator": {"kind": "evidence", "deployment": apart("expert_slot")},
            "media": {"roots": [str(media)]},
            "ingress": {"deployment": apart("frontend_slot")},
            "experts": [
                {
                    "name": name,
                    "backend": "synthetic",
                    "modalities": ["text"],
                    "skills": ["T1"],
                    "description": f"Synthetic {name}.",
                    "timeout_s": 6,
                    "settings": {"delay_s": 0.3},
                    "deployment": deployment,
                }
                for name, deployment in (
                    ("left", apart("expert_slot", num_gpus=0.5)),
                    ("right", apart("expert_slot", num_gpus=0.5)),
                    # one replica, on the node that will be lost: its answers degrade
                    (
                        "single",
                        {
                            "ray_actor_options": {
                                **lean,
                                "num_gpus": 0.5,
                                "resources": {"a_slot": 1},
                            }
                        },
                    ),
                )
            ],
        }
    )
    deploy(config)
    try:
        lost = workers["experts-a"]
        placed = replica_nodes(config.name)
        for deployment in ("ingress", "orchestrator", "aggregator", "expert-left"):
            assert lost.node_id in placed[deployment] and len(set(placed[deployment])) == 2

        outcomes: list[tuple[float, int, list[str]]] = []

        def one(_: int) -> None:
            sent = time.time()
            r = ask(base, ["left", "right", "single"], media, deadline_s=8)
            missing = [m["expert"] for m in r.json().get("missing", [])] if r.is_success else []
            outcomes.append((time.time() - sent, r.status_code, missing))

        with ThreadPoolExecutor(6) as pool:
            burst = pool.map(one, range(72))
            time.sleep(2.0)
            lost_at = time.time()
            c.remove_node(lost)
            list(burst)
        statuses = sorted({status for _, status, _ in outcomes})
        slowest = max(elapsed for elapsed, _, _ in outcomes)
        degraded = sum("single" in missing for _, _, missing in outcomes)
        print(
            f"control path, lost node: {len(outcomes)} requests, statuses {statuses}, "
            f"{sum(not m for _, s, m in outcomes if s == 200)} full, {degraded} without the "
            f"expert whose one replica was lost, slowest {slowest:.1f}s"
        )
        assert len(outcomes) == 72 and statuses == [200]
        # the experts with a replica on the surviving node are never missing; the one whose
        # only replica was lost is, in some answers (not a failed request)
        assert all(set(missing) <= {"single"} for _, _, missing in outcomes)
        assert degraded >= 1
        assert slowest < 8 + 2  # the deadline holds while replicas are lost

        # a node with the lost one's resources joins; Serve puts the missing replicas on it
        workers["experts-a"] = c.add_node(**EXPERTS_A)
        while True:
            placed = replica_nodes(config.name)
            if all(len(set(placed.get(d, []))) == 2 for d in ("ingress", "orchestrator")):
                break
            assert time.time() - lost_at < 180, f"not two nodes again three minutes on: {placed}"
            time.sleep(1.0)
        while True:  # and the lost expert's replica too: full answers again
            r = ask(base, ["left", "right", "single"], media, deadline_s=8)
            if r.status_code == 200 and not r.json()["missing"]:
                break
            assert time.time() - lost_at < 180, "no full answer three minutes after the loss"
            time.sleep(1.0)
        print(f"control path on two nodes, full answers again {time.time() - lost_at:.1f}s on")
    finally:
        serve.delete(config.name)


def test_an_autoscaled_expert_grows_over_nodes_and_shrinks_back(cluster):
    from ray import serve

    c, workers, base, media = cluster
    config = small_app(
        "autoscale",
        media,
        [
            {
                "name": "elastic",
                "timeout_s": 20,
                "settings": {"delay_s": 0.5},
                "deployment": {
                    "max_ongoing_requests": 2,
                    "autoscaling_config": {
                        "min_replicas": 1,
                        "max_replicas": 2,
                        "target_ongoing_requests": 1,
                        "upscale_delay_s": 0.5,
                        "downscale_delay_s": 3,
                        "look_back_period_s": 1,
                        "metrics_interval_s": 0.2,
                    },
                    # one replica per expert node (spread_slot): growing means a second node
                    "ray_actor_options": {
                        "num_cpus": 0.1,
                        "num_gpus": 1,
                        "resources": {"expert_slot": 1, "spread_slot": 1},
                    },
                },
            },
        ],
    )
    deploy(config)

    def running() -> int:
        status = serve.status().applications[config.name].deployments["expert-elastic"]
        return status.replica_states.get("RUNNING", 0)

    try:
        assert running() == 1
        statuses: list[int] = []
        grown_at = None
        started = time.time()
        with ThreadPoolExecutor(8) as pool:
            stop = started + 25
            futures = [
                pool.submit(
                    lambda: [
                        statuses.append(ask(base, ["elastic"], media, deadline_s=25).status_code)
                        for _ in iter(lambda: time.time() < stop, False)
                    ]
                )
                for _ in range(8)
            ]
            while time.time() < stop:
                if grown_at is None and running() == 2:
                    grown_at = time.time() - started
                time.sleep(0.25)
            for f in futures:
                f.result()
        assert grown_at is not None, "the expert never reached max_replicas under the burst"
        assert statuses and set(statuses) == {200}, "a request failed while it grew"
        nodes = {
            r["node_id"]
            for r in asyncio.run(placements(config.name))["elastic"]
            if r["state"] == "RUNNING"
        }
        assert len(nodes) == 2
        idle_from = time.time()
        while running() > 1:
            assert time.time() - idle_from < 90, "the expert did not shrink back when idle"
            time.sleep(0.5)
        print(
            f"autoscaling: 1 -> 2 replicas {grown_at:.1f}s into the burst "
            f"({len(statuses)} requests, all 200); back to 1 "
            f"{time.time() - idle_from:.1f}s after it"
        )
    finally:
        serve.delete(config.name)
