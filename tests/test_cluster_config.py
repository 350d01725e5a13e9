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
