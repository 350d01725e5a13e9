"""Changes made to a config as it loads (`--no-gpus`, `--model-dir`), its files left as they
are."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import Field

from mexa_ray.config.schema import DEFAULT_NUM_CPUS, _Strict


class Overrides(_Strict):
    """Changes made to a config as it loads, to run it somewhere it was not written for, with
    its files left as they are (`--no-gpus`, `--model-dir` on the CLI)."""

    no_gpus: bool = Field(
        default=False,
        description="the config's structure without GPUs (CI, a laptop trying a GPU config with "
        "small models): every num_gpus 0 (bulk blocks' too), node-type custom "
        "resources and max_replicas_per_node dropped, `device: cuda` made `auto`, and "
        "each replica's CPU reservation capped at `cpu_cap`",
    )
    cpu_cap: float = Field(
        default=0.1, gt=0, description="with no_gpus, the most CPUs a replica reserves"
    )
    model_dir: Path | None = Field(
        default=None,
        description='a folder of local model copies: a model id "org/name" loads from '
        "model_dir/org/name where that folder exists (an air-gapped cluster's "
        "shared disk; the tests' tiny models)",
    )

    @classmethod
    def of(cls, no_gpus: bool = False, model_dir: str | Path | None = None) -> Overrides | None:
        """The overrides CLI flags (or Serve config args) ask for; None when they ask none."""
        if not no_gpus and not model_dir:
            return None
        return cls(no_gpus=no_gpus, model_dir=Path(model_dir) if model_dir else None)

    def as_args(self) -> dict[str, Any]:
        """The flags as `serve deploy` args, so the cluster loads the config the same way."""
        args: dict[str, Any] = {"no_gpus": True} if self.no_gpus else {}
        if self.model_dir is not None:
            args["model_dir"] = str(self.model_dir)
        return args

    def apply(self, data: dict) -> dict:
        data = copy.deepcopy(data)
        for section in ("router", "aggregator", "ingress"):
            part = data.get(section)
            if isinstance(part, dict):
                self._deployment(part)
                self._model(part, "llm")
        if isinstance(data.get("embedding"), dict):
            self._model(data, "embedding")
        for group in data.get("expert_groups") or []:
            if isinstance(group, dict):
                self._deployment(group)
        for expert in data.get("experts") or []:
            if isinstance(expert, dict):
                self._deployment(expert)
                self._model(expert, "model")
                if self.no_gpus and isinstance(expert.get("bulk"), dict):
                    expert["bulk"].pop("num_gpus", None)
        return data

    def _deployment(self, part: dict) -> None:
        if not self.no_gpus:
            return
        deployment = part.setdefault("deployment", {})
        if not isinstance(deployment, dict):
            return
        actor = dict(deployment.get("ray_actor_options") or {})
        actor["num_gpus"] = 0
        actor.pop("resources", None)
        actor["num_cpus"] = min(float(actor.get("num_cpus", DEFAULT_NUM_CPUS)), self.cpu_cap)
        deployment["ray_actor_options"] = actor
        # a cluster's placement: on one machine, replicas kept apart could never all start
        deployment.pop("max_replicas_per_node", None)

    def _model(self, part: dict, key: str) -> None:
        spec = part.get(key)
        if spec is None:
            return
        spec = {"model": spec} if isinstance(spec, str) else spec
        if not isinstance(spec, dict):
            return
        model = spec.get("model")
        if (
            self.model_dir is not None
            and isinstance(model, str)
            and not model.startswith(("pypi:", "/", "."))
        ):
            local = Path(self.model_dir).expanduser() / model
            if local.is_dir():
                spec = {**spec, "model": str(local.resolve())}
        if self.no_gpus and spec.get("device") == "cuda":
            spec = {**spec, "device": "auto"}
        part[key] = spec
