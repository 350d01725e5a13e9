"""Joining a Ray cluster, or starting a local one in this process (the embedded default)."""

from __future__ import annotations

import logging
import os

import ray


def connect(quiet: bool = True) -> None:
    """Join the cluster at RAY_ADDRESS, or start a local Ray in this process; no-op if joined."""
    if ray.is_initialized():
        return
    kwargs: dict = {
        "include_dashboard": False,
        "log_to_driver": not quiet,
        "logging_level": logging.WARNING if quiet else logging.INFO,
    }
    if not os.environ.get("RAY_ADDRESS"):
        # small containers: keep the object store off most of /dev/shm
        kwargs["object_store_memory"] = int(os.environ.get("MEXA_OBJECT_STORE_BYTES", 512 * 2**20))
    ray.init(**kwargs)
