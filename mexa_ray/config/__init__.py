"""The app config: every expert, skill, model and resource setting, loaded from YAML.

Adding an expert is a config entry (and a backend class only when no existing one fits). The
schema is `schema` (pydantic models), reading files and `extends` chains is `loading`, and the
changes made as a config loads to run it elsewhere are `overrides`; the names callers use are
these.
"""

from mexa_ray.config.loading import load_config, merge_configs, packaged_configs, parse_config
from mexa_ray.config.overrides import Overrides
from mexa_ray.config.schema import (
    DEFAULT_NUM_CPUS,
    DEFAULT_REPLICA_ENV,
    AggregatorSpec,
    AppConfig,
    BatchingSpec,
    BulkSpec,
    DeploymentSettings,
    EmbeddingSpec,
    ExpertGroupSpec,
    ExpertSpec,
    IngressSpec,
    MediaSpec,
    ModelSpec,
    RateLimitSpec,
    RouterSpec,
    ServeSpec,
    SkillSpec,
    SpoolSpec,
    Transport,
    expert_deployment_name,
    group_deployment_name,
)

__all__ = [
    "DEFAULT_NUM_CPUS",
    "DEFAULT_REPLICA_ENV",
    "AggregatorSpec",
    "AppConfig",
    "BatchingSpec",
    "BulkSpec",
    "DeploymentSettings",
    "EmbeddingSpec",
    "ExpertSpec",
    "IngressSpec",
    "MediaSpec",
    "ModelSpec",
    "Overrides",
    "RateLimitSpec",
    "RouterSpec",
    "ServeSpec",
    "SkillSpec",
    "SpoolSpec",
    "Transport",
    "ExpertGroupSpec",
    "expert_deployment_name",
    "group_deployment_name",
    "load_config",
    "merge_configs",
    "packaged_configs",
    "parse_config",
]
