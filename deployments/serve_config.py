"""The Serve config file (`serve deploy serve_config.yaml`) for an app config.

The app config stays the one source of truth: the file names it in `args.config` and
`deployments.app:app_builder` builds the app from it. The `deployments` section repeats each
deployment's scaling and resources, so an operator sees them, and can tune them for a rollout,
in the file Serve reads. Keys are never written: set MEXA_API_KEYS in the ingress's runtime_env
on the cluster (or in the environment of `mexa serve`).
"""

from __future__ import annotations

from typing import Any

from deployments.app import expert_deployment_name
from mexa_ray.config import AppConfig, DeploymentSettings


def _deployment(name: str, settings: DeploymentSettings) -> dict[str, Any]:
    return {"name": name, **settings.serve_options()}


def serve_config(config: AppConfig, config_ref: str, host: str = "0.0.0.0",
                 port: int = 8000) -> dict[str, Any]:
    """`config_ref` is how the cluster finds the app config: a packaged name or a path there."""
    deployments = [_deployment("ingress", config.ingress.deployment),
                   _deployment("selector", config.router.deployment),
                   _deployment("aggregator", config.aggregator.deployment)]
    deployments += [_deployment(expert_deployment_name(s.name), s.deployment)
                    for s in config.experts]
    return {
        "proxy_location": "EveryNode",
        "http_options": {"host": host, "port": port},
        "applications": [{
            "name": config.name, "route_prefix": "/",
            "import_path": "deployments.app:app_builder",
            "args": {"config": config_ref},
            "deployments": deployments,
        }],
    }
