"""`mexa build-config`: a Serve config file Serve's own schema accepts, naming exactly the
deployments the app builds, kept in sync with the committed example."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from mexa_ray.config import DEFAULT_REPLICA_ENV, load_config, parse_config
from mexa_ray.serving.app import app_builder
from mexa_ray.serving.serve_config import serve_config

ROOT = Path(__file__).resolve().parents[1]


def test_generated_config_is_valid_and_matches_the_app():
    config = load_config("gpu-1x80gb")
    data = serve_config(config, "gpu-1x80gb")
    schema = ServeDeploySchema.model_validate(data)
    (app,) = schema.applications
    assert app.import_path == "mexa_ray.serving.app:app_builder" and app.args == {
        "config": "gpu-1x80gb"
    }
    # the builder Serve will call builds the same deployments, with the same settings
    built = app_builder(app.args)
    names = {built._bound_deployment.name}
    names |= {d.name for d in _children(built._bound_deployment)}
    assert names == {d.name for d in app.deployments}
    by_name = {d["name"]: d for d in data["applications"][0]["deployments"]}
    lrm = by_name["aggregator"]
    assert lrm["ray_actor_options"] == {
        **config.aggregator.deployment.ray_actor_options,
        "runtime_env": {"env_vars": config.serve.replica_env},
    }
    assert (
        by_name["orchestrator"]["max_ongoing_requests"]
        == config.router.deployment.max_ongoing_requests
    )


def test_replicas_get_the_serve_settings_and_only_the_ingress_logs_each_call():
    def deployments(config) -> dict[str, dict]:
        data = serve_config(config, "x")
        return {d["name"]: d for d in data["applications"][0]["deployments"]}

    config = load_config("analytic")
    by_name = deployments(config)
    assert {n: d["logging_config"]["enable_access_log"] for n, d in by_name.items()} == {
        n: n == "ingress" for n in by_name
    }
    assert all(
        d["ray_actor_options"]["runtime_env"] == {"env_vars": DEFAULT_REPLICA_ENV}
        for d in by_name.values()
    )

    data = config.model_dump()
    data["serve"] = {"access_log": "all", "replica_env": {}}
    data["experts"][0]["deployment"]["ray_actor_options"] = {
        "num_cpus": 1,
        "runtime_env": {"env_vars": {"OMP_NUM_THREADS": "1"}},
    }
    by_name = deployments(parse_config(data))
    assert all(d["logging_config"]["enable_access_log"] for d in by_name.values())
    assert "runtime_env" not in by_name["orchestrator"]["ray_actor_options"]
    expert = by_name[f"expert-{data['experts'][0]['name']}"]["ray_actor_options"]
    assert expert["runtime_env"] == {"env_vars": {"OMP_NUM_THREADS": "1"}}


def _children(bound) -> list:
    """Every deployment bound under an application node."""
    from ray.serve.deployment import Application

    out = []
    for arg in list(bound.init_args) + list(bound.init_kwargs.values()):
        items = arg.values() if isinstance(arg, dict) else [arg]
        for item in items:
            node = item._bound_deployment if isinstance(item, Application) else None
            if node is not None:
                out.append(node)
                out += _children(node)
    return out


def test_committed_example_is_what_the_command_prints():
    out = subprocess.run(
        [sys.executable, "-m", "mexa_ray.cli", "build-config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == (ROOT / "deployments" / "serve_config.yaml").read_text()
    ServeDeploySchema.model_validate(yaml.safe_load(out.stdout))


@pytest.mark.serve
def test_serve_deploy_accepts_the_generated_config_and_serve_status_is_healthy(tmp_path):
    """The operator's path: a Ray head started with `ray start`, the file from `mexa build-config`
    (of the model-free `analytic` config: the default's own file is pinned above, and its models
    are the demo's and the offline tests' business) given to `serve deploy`, `serve status`
    RUNNING with every deployment HEALTHY, then a question over HTTP. The head runs with --block so that stopping it stops only its own Ray."""
    import base64
    import os
    import signal
    import tempfile
    import time

    import httpx
    from conftest import pick_free_port, stop_node

    bin_dir = Path(sys.executable).parent
    gcs, dashboard, http = pick_free_port(), pick_free_port(), pick_free_port()
    temp = tempfile.mkdtemp(prefix="mxl", dir="/tmp")  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    config = tmp_path / "serve_config.yaml"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mexa_ray.cli",
            "build-config",
            "--config",
            "analytic",
            "--port",
            str(http),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    config.write_text(out.stdout)
    head = subprocess.Popen(
        [
            str(bin_dir / "ray"),
            "start",
            "--head",
            "--block",
            f"--port={gcs}",
            f"--dashboard-port={dashboard}",
            "--include-dashboard=true",
            "--num-cpus=4",
            "--num-gpus=0",
            f"--temp-dir={temp}",
            "--disable-usage-stats",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    address = ["-a", f"http://127.0.0.1:{dashboard}"]

    def serve(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(bin_dir / "serve"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tmp_path,
        )

    try:
        deployed = None
        for _ in range(60):  # the dashboard takes a while to answer
            deployed = serve("deploy", str(config), *address)
            if deployed.returncode == 0:
                break
            time.sleep(2)
        assert deployed.returncode == 0, deployed.stderr[-2000:]
        status = {}
        for _ in range(90):
            result = serve("status", *address)
            status = yaml.safe_load(result.stdout or "{}") or {}
            app = status.get("applications", {}).get("mexa", {})
            if app.get("status") in ("RUNNING", "DEPLOY_FAILED", "UNHEALTHY"):
                break
            time.sleep(2)
        app = status["applications"]["mexa"]
        assert app["status"] == "RUNNING", app
        deployments = app["deployments"]
        assert {d["status"] for d in deployments.values()} == {"HEALTHY"}
        assert len(deployments) == 3 + len(load_config("analytic").experts)
        note = base64.b64encode(b"The meeting is on Tuesday.").decode()
        r = httpx.post(
            f"http://127.0.0.1:{http}/v1/reason",
            timeout=120,
            json={
                "question": "What day is the meeting?",
                "options": ["Monday", "Tuesday"],
                "media": [{"type": "text", "data": note, "format": "txt"}],
            },
        )
        assert r.status_code == 200 and r.json()["answer"] == "Tuesday", r.text
    finally:
        stop_node(head, signal.SIGTERM)  # its own process group: this Ray only
