"""The Serve config file (`serve deploy serve_config.yaml`) for an app config.

The app config stays the one source of truth: the file names it in `args.config` and
`mexa_ray.serving.app:app_builder` builds the app from it. The `deployments` section repeats each
deployment's scaling and resources, so an operator sees them, and can tune them for a rollout,
in the file Serve reads. Keys are never written: set MEXA_API_KEYS in the ingress's runtime_env
on the cluster (or in the environment of `mexa serve`).
"""

from __future__ import annotations

from typing import Any, Literal

from mexa_ray.config import AppConfig, DeploymentSettings, Overrides
from mexa_ray.serving import hops
from mexa_ray.serving.app import serve_kwargs

#: where Serve runs its HTTP proxies: one on every node that has a replica (a cluster's load
#: balancer spreads clients over them), or the head's alone
ProxyLocation = Literal["EveryNode", "HeadOnly"]


def http_options(config: AppConfig, host: str, port: int) -> dict[str, Any]:
    """Serve's HTTP options for the app. The proxy's own timeout is a backstop a little past the
    request's deadline: the ingress answers 504 itself by the deadline plus `hops.GRACE_S`, so
    a request is never left waiting in the proxy (as it would be without a timeout, while a lost
    ingress replica is replaced)."""
    return {
        "host": host,
        "port": port,
        "request_timeout_s": config.request_deadline_s + 2 * hops.GRACE_S,
    }


def _deployment(config: AppConfig, name: str, settings: DeploymentSettings) -> dict[str, Any]:
    # the same kwargs the app is built with: Serve lets the file's entry replace them
    return {"name": name, **serve_kwargs(config, settings, ingress=name == "ingress")}


def serve_config(
    config: AppConfig,
    config_ref: str,
    host: str = "0.0.0.0",
    port: int = 8000,
    overrides: Overrides | None = None,
    proxy_location: ProxyLocation = "EveryNode",
) -> dict[str, Any]:
    """`config_ref` is how the cluster finds the app config: a packaged name or a path there."""
    deployments = [_deployment(config, name, d) for name, _, d in config.deployments()]
    return {
        "proxy_location": proxy_location,
        "http_options": http_options(config, host, port),
        "applications": [
            {
                "name": config.name,
                "route_prefix": "/",
                "import_path": "mexa_ray.serving.app:app_builder",
                "args": {"config": config_ref, **(overrides.as_args() if overrides else {})},
                "deployments": deployments,
            }
        ],
    }
