"""Starting the app on a local (in-process) Ray, and talking to it through its handle."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx
import ray
from ray import serve
from ray.exceptions import RayTaskError
from ray.serve.handle import DeploymentHandle

from mexa_ray.config import AppConfig
from mexa_ray.ray_runtime import connect
from mexa_ray.serving.app import build_app
from mexa_ray.serving.hops import raise_callers_error
from mexa_ray.serving.serve_config import ProxyLocation, http_options
from mexa_ray.serving.transport import client


def start(
    config: AppConfig,
    *,
    http: bool = False,
    host: str = "127.0.0.1",
    port: int = 8000,
    quiet: bool = True,
    proxy_location: ProxyLocation = "EveryNode",
) -> DeploymentHandle:
    """Connect to Ray, deploy the app (with HTTP proxies if asked); returns the ingress handle.
    Serve already running on the cluster keeps its own proxy settings."""
    connect(quiet)
    logging_config = {"log_level": "WARNING" if quiet else "INFO"}
    if http:
        try:
            serve.start(
                proxy_location=proxy_location,
                http_options=http_options(config, host, port),
                logging_config=logging_config,
            )
        except (TimeoutError, ray.exceptions.ActorDiedError) as exc:
            # Serve waits a fixed 60 s (a constant of Ray's) for its first HTTP proxy, and fails
            # if the controller restarts it meanwhile; on a loaded machine a proxy's worker can
            # take that long to start. The controller keeps starting proxies, so deploying goes
            # on and HTTP answers once one is up.
            reason = str(exc).splitlines()[0]
            print(
                f"mexa-ray: HTTP proxy not up yet ({reason}); deploying meanwhile", file=sys.stderr
            )
    else:
        serve.start(proxy_location="Disabled", logging_config=logging_config)
    return deploy(config)


def wait_ready(url: str, poll_s: float = 0.5) -> dict:
    """Poll the app's readiness route over HTTP (through Serve's proxy, as a load balancer
    would) until it answers 200; its body. Waits as long as it takes: the experts' models load
    at their own pace, and Ctrl-C interrupts."""
    local = re.sub(r"//(0\.0\.0\.0|\[?::\]?)(?=:)", "//127.0.0.1", url)  # bound everywhere
    with httpx.Client(base_url=local, timeout=10, trust_env=False) as http:  # no HTTP_PROXY
        while True:
            try:
                r = http.get("/readyz")
                if r.status_code == 200:
                    return r.json()
            except httpx.HTTPError:
                pass  # the proxy is not up yet
            time.sleep(poll_s)


def deploy(config: AppConfig, route_prefix: str | None = "/") -> DeploymentHandle:
    """Deploy the app on the running Serve; the ingress handle, called the way the config's
    `serve.transport` says."""
    handle = serve.run(build_app(config), name=config.name, route_prefix=route_prefix)
    return client(handle, config.serve.transport)


def ask(handle: DeploymentHandle, payload: dict, timeout_s: float = 300.0) -> dict:
    """Answer one /v1/reason body through the ingress handle (no HTTP); bad input raises the
    library's MexaError, as it would be answered 4xx over HTTP."""
    try:
        return handle.answer.remote(payload).result(timeout_s=timeout_s)
    except RayTaskError as exc:
        raise_callers_error(exc)
        raise


#: what Ray prints while Serve shuts down on purpose: its controller's pending calls fail as it
#: is killed ("Task ServeController.graceful_shutdown failed ... killed by `ray.kill`")
SHUTDOWN_NOISE = re.compile(
    r"ServeController\.\w+ failed|killed by `ray\.kill`|"
    r"infinite retries remaining"
)


def stop() -> None:
    """Shut Serve and Ray down; Ray's messages about the shutdown itself are dropped, anything
    else printed meanwhile reaches stderr."""
    with _filtered_stderr(SHUTDOWN_NOISE):
        serve.shutdown()
        ray.shutdown()


@contextlib.contextmanager
def _filtered_stderr(noise: re.Pattern) -> Iterator[None]:
    """Collect what this process writes to fds 1 and 2 (Ray's threads print there directly,
    its driver messages to stdout), then pass every line that is not noise on to stderr."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile() as held:
        for fd in saved:
            os.dup2(held.fileno(), fd)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            held.seek(0)
            kept = [
                line
                for line in held.read().decode(errors="replace").splitlines(True)
                if not noise.search(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
