"""Logs and metrics of the Serve replicas.

Serve writes each replica's log lines with the id of the request being served (the
`x-request-id` an HTTP client sent, or one the proxy made up, carried through every handle call),
but only for its own `ray.serve` logger. The library logs under `mexa_ray`; `adopt_library_logs`
hands those records to Serve's handlers so that they get the request id too. The metrics are
per expert, on top of Serve's per-deployment ones, and reach Ray's Prometheus endpoint.
"""

from __future__ import annotations

import logging

from ray.serve import metrics
from ray.serve.context import _get_serve_request_context

from mexa_ray.media.spool import SpoolStats

SERVE_LOGGER = "ray.serve"
LIBRARY_LOGGER = "mexa_ray"

#: seconds; an expert's report takes from milliseconds (analytic) to a minute (a large model)
LATENCY_BOUNDARIES = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]


def adopt_library_logs() -> None:
    """Send the library's log records through this replica's Serve handlers (its log file, with
    the request id); call in a deployment's constructor, after Serve set up its logger."""
    serve_logger = logging.getLogger(SERVE_LOGGER)
    library = logging.getLogger(LIBRARY_LOGGER)
    library.handlers = list(serve_logger.handlers)
    library.setLevel(serve_logger.level)
    library.propagate = False


def current_request_id() -> str:
    """Serve's id for the request being handled ('' outside a request)."""
    return _get_serve_request_context().request_id


class ExpertMetrics:
    """Per-expert counters and latency, tagged `expert` (and `skill` / `kind`); Serve adds the
    application, deployment and replica tags."""

    def __init__(self) -> None:
        # Ray hints tag_keys as tuple[str] (a tuple of one key) where it takes any number: the
        # two-key tuples below are ignored for that alone
        self.selections = metrics.Counter(
            "mexa_expert_selections",
            description="Times the router chose an expert for a query.",
            tag_keys=("expert", "skill"),  # type: ignore[arg-type]
        )
        self.requests = metrics.Counter(
            "mexa_expert_requests",
            description="Reports an expert was asked for.",
            tag_keys=("expert",),
        )
        self.failures = metrics.Counter(
            "mexa_expert_failures",
            description="Expert calls that gave no report, by kind: failed, timeout, "
            "unscheduled, cancelled.",
            tag_keys=("expert", "kind"),  # type: ignore[arg-type]
        )
        self.latency = metrics.Histogram(
            "mexa_expert_latency_s",
            description="Seconds an expert took to write its report.",
            boundaries=LATENCY_BOUNDARIES,
            tag_keys=("expert",),
        )
        self.memory_peak = metrics.Gauge(
            "mexa_expert_memory_peak_bytes",
            description="An expert replica's peak memory: the CUDA allocator's high-water mark "
            "where it runs a model on a GPU, else its resident set's.",
            tag_keys=("expert", "device"),  # type: ignore[arg-type]
        )


class SpoolMetrics:
    """The node's media spool as one replica sees it: its size and files now, and the files it
    evicted and refused (`mexa_ray.media.spool`)."""

    def __init__(self) -> None:
        self.bytes = metrics.Gauge("mexa_spool_bytes", description="Bytes in the media spool.")
        self.files = metrics.Gauge("mexa_spool_files", description="Files in the media spool.")
        self.evicted = metrics.Counter(
            "mexa_spool_evicted", description="Spool files removed for age or the size cap."
        )
        self.refused = metrics.Counter(
            "mexa_spool_refused", description="Files the spool refused (cap or disk floor)."
        )
        self._seen = SpoolStats()

    def record(self, stats: SpoolStats) -> None:
        self.bytes.set(stats.bytes)
        self.files.set(stats.files)
        if stats.evicted > self._seen.evicted:
            self.evicted.inc(stats.evicted - self._seen.evicted)
        if stats.refused > self._seen.refused:
            self.refused.inc(stats.refused - self._seen.refused)
        self._seen = SpoolStats(stats.files, stats.bytes, stats.evicted, stats.refused)
