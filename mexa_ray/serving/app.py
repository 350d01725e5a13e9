"""Builds the Serve application from an AppConfig: one deployment per expert (or per expert
group, answering for each of its members), then the
aggregator, the orchestrator (given every expert's handle and the aggregator's) and the HTTP
ingress."""

from __future__ import annotations

import os

from ray.serve import Application

from mexa_ray.config import (
    AppConfig,
    DeploymentSettings,
    Overrides,
    expert_deployment_name,
    group_deployment_name,
    load_config,
)
from mexa_ray.serving.aggregator import Aggregator
from mexa_ray.serving.expert import ExpertDeployment
from mexa_ray.serving.ingress import Ingress
from mexa_ray.serving.orchestrator import Orchestrator


def build_app(config: AppConfig) -> Application:
    # @serve.deployment makes each class a Deployment, which has .options; Serve's hints keep the
    # class's own type, hence the attr-defined ignores
    skills = config.skill_catalogue()
    experts = {}
    for spec in config.experts:
        if config.group_of(spec.name) is None:
            experts[spec.name] = ExpertDeployment.options(  # type: ignore[attr-defined]
                name=expert_deployment_name(spec.name), **serve_kwargs(config, spec.deployment)
            ).bind([spec], skills, config.spool, config.request_deadline_s)
    for group in config.expert_groups:
        members = [config.expert(name) for name in group.experts]
        bound = ExpertDeployment.options(  # type: ignore[attr-defined]
            name=group_deployment_name(group.name), **serve_kwargs(config, group.deployment)
        ).bind(members, skills, config.spool, config.request_deadline_s)
        experts.update(dict.fromkeys(group.experts, bound))
    aggregator = Aggregator.options(  # type: ignore[attr-defined]
        name="aggregator", **serve_kwargs(config, config.aggregator.deployment)
    ).bind(config)
    orchestrator = Orchestrator.options(  # type: ignore[attr-defined]
        name="orchestrator", **serve_kwargs(config, config.router.deployment)
    ).bind(config, experts, aggregator)
    return Ingress.options(  # type: ignore[attr-defined]
        name="ingress", **ingress_kwargs(config)
    ).bind(config, orchestrator)


def serve_kwargs(
    config: AppConfig,
    settings: DeploymentSettings,
    *,
    ingress: bool = False,
    env: dict[str, str] | None = None,
) -> dict:
    """A deployment's `Deployment.options(...)` kwargs: its own settings, plus the app's replica
    environment (and `env`) in its runtime_env and its access-log switch (`config.serve`)."""
    kwargs = settings.serve_kwargs()
    actor = kwargs["ray_actor_options"]
    runtime_env = dict(actor.get("runtime_env", {}))
    env_vars = {**config.serve.replica_env, **runtime_env.get("env_vars", {}), **(env or {})}
    if env_vars:
        actor["runtime_env"] = {**runtime_env, "env_vars": env_vars}
    access = config.serve.access_log
    kwargs["logging_config"] = {
        "enable_access_log": access == "all" or (access == "ingress" and ingress)
    }
    return kwargs


def ingress_kwargs(config: AppConfig) -> dict:
    """The ingress's Serve kwargs; the API keys variable, when the caller's environment has it,
    travels to the ingress replicas in their runtime_env (on any node of a cluster)."""
    keys = os.environ.get(config.ingress.api_keys_env)
    return serve_kwargs(
        config,
        config.ingress.deployment,
        ingress=True,
        env={config.ingress.api_keys_env: keys} if keys else None,
    )


def app_builder(args: dict) -> Application:
    """For `serve run mexa_ray.serving.app:app_builder config=path.yaml` and Serve config files
    (`no_gpus` and `model_dir` args as `mexa serve --no-gpus --model-dir` take them)."""
    overrides = Overrides.of(bool(args.get("no_gpus")), args.get("model_dir"))
    return build_app(load_config(args.get("config"), overrides))
