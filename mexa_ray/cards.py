"""Expert cards as users see them (`mexa experts`, `GET /v1/experts`)."""

from __future__ import annotations

from mexa_ray.config import AppConfig


def expert_cards(config: AppConfig) -> list[dict]:
    catalogue = config.skill_catalogue()
    cards = []
    for spec in config.experts:
        dep = spec.deployment
        cards.append({
            "name": spec.name,
            "backend": spec.backend,
            "model": spec.model.label if spec.model else None,
            "modalities": list(spec.modalities),
            "skills": [{"id": sid, "name": catalogue[sid].name} for sid in spec.skills],
            "description": spec.description,
            "timeout_s": spec.timeout_s,
            "resources": {
                "num_cpus": dep.ray_actor_options.get("num_cpus", 1),
                "num_gpus": dep.ray_actor_options.get("num_gpus", 0),
                "replicas": (dep.autoscaling_config and
                             f"{dep.autoscaling_config.get('min_replicas', 1)}-"
                             f"{dep.autoscaling_config.get('max_replicas', 1)} (autoscaling)")
                            or str(dep.num_replicas or 1),
            },
        })
    return cards
