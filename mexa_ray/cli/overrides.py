"""The `--config`, `--no-gpus` and `--model-dir` flags that every command loading a config takes,
worded once."""

from __future__ import annotations

import argparse

from mexa_ray.config import Overrides, packaged_configs


def add_config_argument(p: argparse.ArgumentParser, where: str = "") -> None:
    """`--config`; `where` says where a path is read (build-config's file names one on the
    cluster)."""
    p.add_argument(
        "--config",
        metavar="NAME|FILE",
        help=f"app config: a packaged one ({', '.join(packaged_configs())}) or a YAML "
        f"file{where}; default: default",
    )


def add_override_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-gpus",
        action="store_true",
        help="run the config's structure without GPUs: num_gpus 0, node-type "
        "resources and max_replicas_per_node dropped, small CPU shares (to try a GPU "
        "config with small models on one machine)",
    )
    p.add_argument(
        "--model-dir",
        metavar="DIR",
        help="load a model id ORG/NAME from DIR/ORG/NAME where that folder exists "
        "(local copies on a shared disk)",
    )


def overrides_of(args: argparse.Namespace) -> Overrides | None:
    return Overrides.of(getattr(args, "no_gpus", False), getattr(args, "model_dir", None))
