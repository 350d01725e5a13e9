"""Builds the Serve application from an AppConfig: one deployment per expert, then the
aggregator, the selector (given every expert's handle) and the HTTP ingress."""

from __future__ import annotations

import os

from ray.serve import Application

from deployments.aggregator import Aggregator
from deployments.expert import ExpertDeployment
from deployments.ingress import Ingress
from deployments.selector import Selector
from mexa_ray.config import AppConfig, load_config


def expert_deployment_name(expert: str) -> str:
    return f"expert-{expert}"


def build_app(config: AppConfig) -> Application:
    skills = config.skill_catalogue()
    experts = {
        spec.name: ExpertDeployment.options(name=expert_deployment_name(spec.name),
                                            **spec.deployment.serve_options()).bind(spec, skills)
        for spec in config.experts
    }
    aggregator = Aggregator.options(
        name="aggregator", **config.aggregator.deployment.serve_options()).bind(config)
    selector = Selector.options(
        name="selector", **config.router.deployment.serve_options()).bind(config, experts, aggregator)
    return Ingress.options(
        name="ingress", **ingress_options(config)).bind(config, selector)


def ingress_options(config: AppConfig) -> dict:
    """The ingress's Serve options; the API keys variable, when the caller's environment has it,
    travels to the ingress replicas in their runtime_env (on any node of a cluster)."""
    options = config.ingress.deployment.serve_options()
    keys = os.environ.get(config.ingress.api_keys_env)
    if keys:
        actor = options["ray_actor_options"]
        env = dict(actor.get("runtime_env", {}).get("env_vars", {}))
        env[config.ingress.api_keys_env] = keys
        actor["runtime_env"] = {**actor.get("runtime_env", {}), "env_vars": env}
    return options


def app_builder(args: dict) -> Application:
    """For `serve run deployments.app:app_builder config=path.yaml` and Serve config files."""
    return build_app(load_config(args.get("config")))
