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
        # Serve gives a new HTTP proxy 5 s to answer its first ready check, and that time
        # includes starting its worker process: on a busy 2-core machine it takes longer, the
        # controller kills the proxy as unhealthy and `serve.start` fails. A Ray this process
        # starts inherits this environment (a cluster's nodes, or a Ray already started here
        # with `ray start`, keep their own).
        os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")
    if quiet:
        quiet_driver_logs()
    ray.init(**kwargs)


#: driver-side loggers whose lines are Ray's and Serve's own progress, not the user's business
#: unless asked (`--verbose`): Ray 2.60's notice that token authentication is on, and Serve's
#: "Started Serve", "Application ... is ready" and router lines
DRIVER_NOISE = ("ray._private.authentication", "ray.serve")


def quiet_driver_logs() -> None:
    """This process's Ray and Serve progress lines down to errors; a real failure still shows
    (as an exception), and each replica's log file keeps everything."""
    for name in DRIVER_NOISE:
        logging.getLogger(name).setLevel(logging.ERROR)


def quiet_ray_data() -> None:
    """Ray Data's own console output down to warnings, and its progress bars only on a terminal:
    without `-v`, a job's stderr holds what went wrong, not ~90 INFO lines of plan and stats
    (Ray Data's log file in the session directory keeps them)."""
    import sys

    from ray.data import DataContext

    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.setLevel(logging.WARNING)
    DataContext.get_current().enable_progress_bars = sys.stderr.isatty()
