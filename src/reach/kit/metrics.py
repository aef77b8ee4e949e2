"""Prometheus metrics: what a Reach process counts, and their text exposition for ``/metrics``.

Each server process counts in its own memory; with several worker processes (the environment
variable ``PROMETHEUS_MULTIPROC_DIR`` set before this module is first imported, as ``reach serve
--workers`` does) each writes its counts to files in that directory and the exposition adds up
every process's, the exited ones' included.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from reach.kit.middleware import Call

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Any other method a caller makes up is counted as "other": labels must stay few.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# From a cached size (about a millisecond) to a long bulk call.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter(
    "reach_requests",
    "HTTP calls answered, by operation (the route's operation id or path template), API"
    " version, method and status.",
    ["operation", "api_version", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "reach_request_duration_seconds",
    "Time to answer an HTTP call, by operation.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
RATE_LIMIT_REFUSALS = Counter(
    "reach_rate_limit_refusals",
    "Calls refused with 429 (a client's rate limit, or a limit on failed authentication), by"
    " operation.",
    ["operation"],
)
SIZES_COMPUTED = Counter(
    "reach_sizes_computed",
    "Sizes of segments and audiences computed (compute-sizes and estimate-size).",
)
MEMBERSHIP_CACHE_HITS = Counter(
    "reach_membership_cache_hits",
    "Segment members found in the membership cache.",
)
MEMBERSHIP_CACHE_MISSES = Counter(
    "reach_membership_cache_misses",
    "Segment members computed because the membership cache did not hold them.",
)
LOOKALIKES_PENDING = Gauge(
    "reach_lookalikes_pending",
    "Lookalikes waiting for a model, as of the lookalike worker's last scan.",
    # Only the process that runs the worker scans: the others keep 0.
    multiprocess_mode="livemax",
)


def multiprocess() -> bool:
    """Whether this process counts in files shared with the other worker processes."""
    return MULTIPROCESS_DIRECTORY in os.environ


def observe_call(call: Call) -> None:
    """Count one HTTP call (an observer of ``TraceMiddleware``)."""
    method = call.method if call.method in METHODS else "other"
    REQUESTS.labels(call.operation, call.api_version or "", method, str(call.status)).inc()
    REQUEST_SECONDS.labels(call.operation).observe(call.seconds)
    if call.status == 429:
        RATE_LIMIT_REFUSALS.labels(call.operation).inc()


def exposition(*collectors: Collector) -> bytes:
    """Every metric in the text format: this process's (or every worker process's, added up)
    and those that ``collectors`` compute at the time of asking."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess():
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        # This process's metrics, and the process and runtime collectors of the client library.
        registry.register(REGISTRY)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


def process_exited(pid: int) -> None:
    """A worker process ended: its live gauges are dropped (its counts stay in the totals)."""
    if multiprocess():
        _multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
