"""cluster.yaml must pass Ray's own cluster-launcher validation (ray-schema.json)."""

from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.util import fillout_defaults, validate_config

CLUSTER = Path(__file__).resolve().parents[1] / "cluster.yaml"


def test_cluster_yaml_is_a_valid_ray_cluster_config():
    config = fillout_defaults(yaml.safe_load(CLUSTER.read_text()))
    validate_config(config)
    types = config["available_node_types"]
    assert config["head_node_type"] in types
    assert any("expert_slot" in t["resources"] for t in types.values())


def test_the_validator_does_catch_mistakes():
    config = yaml.safe_load(CLUSTER.read_text())
    config["available_node_types"]["head"]["resources"] = {"CPU": 0.5}  # must be integers
    with pytest.raises(Exception, match="integer"):
        validate_config(fillout_defaults(config))


RAYSERVICE = Path(__file__).resolve().parents[1] / "deployments" / "rayservice.yaml"


def _custom_resources(group: dict) -> dict[str, float]:
    """A KubeRay group's custom resources: rayStartParams.resources is a JSON object written
    as a quoted string."""
    import json

    raw = group.get("rayStartParams", {}).get("resources")
    return json.loads(json.loads(raw)) if raw else {}


def test_kuberay_rayservice_matches_the_serve_config_and_can_place_every_deployment():
    import ray
    from ray.serve.schema import ServeDeploySchema

    from mexa_ray.config import load_config
    from mexa_ray.serving.serve_config import serve_config

    manifest = yaml.safe_load(RAYSERVICE.read_text())
    assert manifest["apiVersion"] == "ray.io/v1" and manifest["kind"] == "RayService"
    assert manifest["metadata"]["name"]
    spec = manifest["spec"]
    # the Serve part is exactly what `mexa build-config --config gpu-cluster` prints (KubeRay
    # owns the HTTP port, so no http_options), and Serve's own schema accepts it
    served = yaml.safe_load(spec["serveConfigV2"])
    expected = serve_config(load_config("gpu-cluster"), "gpu-cluster")
    del expected["http_options"]
    assert served == expected, (
        "regenerate serveConfigV2 with mexa build-config --config gpu-cluster"
    )
    ServeDeploySchema.model_validate(served)

    cluster = spec["rayClusterConfig"]
    assert cluster["rayVersion"] == ray.__version__
    head = cluster["headGroupSpec"]
    groups = cluster["workerGroupSpecs"]
    assert len({g["groupName"] for g in groups}) == len(groups)
    pods = [head["template"]["spec"]] + [g["template"]["spec"] for g in groups]
    for pod in pods:
        (container,) = pod["containers"]
        assert container["name"] and container["image"] == pods[0]["containers"][0]["image"]
        mounts = {m["name"] for m in container.get("volumeMounts", [])}
        assert mounts <= {v["name"] for v in pod.get("volumes", [])}
    for g in groups:
        assert 0 <= g["minReplicas"] <= g["replicas"] <= g["maxReplicas"]
    head_ports = {p["containerPort"] for p in head["template"]["spec"]["containers"][0]["ports"]}
    assert {6379, 8000, 8265} <= head_ports

    def gpus(group: dict) -> float:
        limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
        return float(limits.get("nvidia.com/gpu", 0))

    # every deployment fits one pod of some group: its custom resources are there and the
    # pod has at least the GPUs (and CPUs) one replica asks for
    for d in served["applications"][0]["deployments"]:
        actor = d.get("ray_actor_options", {})
        wanted = actor.get("resources", {})
        fits = [
            g["groupName"]
            for g in groups
            if set(wanted) <= set(_custom_resources(g)) and gpus(g) >= actor.get("num_gpus", 0)
        ]
        if not wanted and not actor.get("num_gpus"):
            continue  # CPU-only: the head takes it
        assert fits, f"deployment {d['name']} fits no worker group"
    # and the media root the app config names is mounted wherever media is read
    roots = load_config("gpu-cluster").media.roots
    for pod in [head["template"]["spec"], groups[0]["template"]["spec"]]:
        mounted = {m["mountPath"] for m in pod["containers"][0].get("volumeMounts", [])}
        assert set(roots) <= mounted


RAYJOB = Path(__file__).resolve().parents[1] / "jobs" / "rayjob.yaml"


def test_kuberay_rayjob_runs_the_bulk_job_on_the_rayservice_pods():
    import shlex

    from mexa_ray.bulk.job import add_arguments

    job = yaml.safe_load(RAYJOB.read_text())
    assert job["apiVersion"] == "ray.io/v1" and job["kind"] == "RayJob"
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:3] == ["python", "-m", "mexa_ray.bulk"]
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(argv[3:])  # exits (SystemExit) on an argument the job lacks
    assert args.benchmark and args.out
    served = yaml.safe_load(RAYSERVICE.read_text())["spec"]["rayClusterConfig"]
    cluster = job["spec"]["rayClusterSpec"]
    assert cluster["rayVersion"] == served["rayVersion"]

    def shape(c: dict) -> list:
        return [
            (
                g["groupName"],
                g["rayStartParams"].get("resources"),
                g["template"]["spec"]["containers"][0]["resources"],
                g["template"]["spec"]["containers"][0]["image"],
            )
            for g in c["workerGroupSpecs"]
        ]

    # the job's GPU pods are the service's (its frontend pods serve HTTP only: the job has none)
    service_gpu_groups = [g for g in shape(served) if "nvidia.com/gpu" in g[2]["limits"]]
    assert shape(cluster) == service_gpu_groups
    from mexa_ray.config import load_config

    load_config(args.config)  # the config the job names exists
