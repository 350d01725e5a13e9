"""`mexa build-config`: a Serve config file Serve's own schema accepts, naming exactly the
deployments the app builds, kept in sync with the committed example."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from ray.serve.schema import ServeDeploySchema

from deployments.app import app_builder
from deployments.serve_config import serve_config
from mexa_ray.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def test_generated_config_is_valid_and_matches_the_app():
    config = load_config("gpu-1x80gb")
    data = serve_config(config, "gpu-1x80gb")
    schema = ServeDeploySchema.model_validate(data)
    (app,) = schema.applications
    assert app.import_path == "deployments.app:app_builder" and app.args == {"config": "gpu-1x80gb"}
    # the builder Serve will call builds the same deployments, with the same settings
    built = app_builder(app.args)
    names = {built._bound_deployment.name}
    names |= {d.name for d in _children(built._bound_deployment)}
    assert names == {d.name for d in app.deployments}
    by_name = {d["name"]: d for d in data["applications"][0]["deployments"]}
    lrm = by_name["aggregator"]
    assert lrm["ray_actor_options"] == config.aggregator.deployment.ray_actor_options
    assert by_name["selector"]["max_ongoing_requests"] == config.router.deployment.max_ongoing_requests


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
    out = subprocess.run([sys.executable, "-m", "mexa_ray.cli", "build-config"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (ROOT / "deployments" / "serve_config.yaml").read_text()
    ServeDeploySchema.model_validate(yaml.safe_load(out.stdout))
