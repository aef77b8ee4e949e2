"""Health, readiness and metrics endpoints, for load balancers, orchestrators and Prometheus.

None of them asks for a token, counts against a rate limit or enters the sandbox journal, and
none shows anything sensitive: no path, no URL, no secret, no error text of the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from sqlalchemy.exc import SQLAlchemyError

from reach.db import Database
from reach.engine.query import IndexProvider
from reach.kit import ratelimit
from reach.kit.clock import Clock
from reach.kit.metrics import CONTENT_TYPE, exposition
from reach.kit.problems import ServiceUnavailable
from reach.kit.ratelimit import Counts
from reach.kit.sizes import data_age
from reach.kit.wire import JsonResponse
from reach.schema import SchemaNotCurrent, require_current_schema

router = APIRouter(include_in_schema=False)
metrics_router = APIRouter(include_in_schema=False)

OK = "ok"
FAILING = "failing"
NO_STORE = {"Cache-Control": "no-store"}
STORE_SILENT = "the store does not answer"


@dataclass(frozen=True)
class Check:
    """One check of readiness: ``ok`` or ``failing``, and what a reader needs to know."""

    status: str
    details: dict[str, Any]

    def wire(self) -> dict[str, Any]:
        return {"status": self.status} | self.details


class BoundedCheck:
    """A check that asks something outside the process (``_check``, in one thread of its
    own), with a deadline beyond the timeouts of what it asks, so a probe never hangs. A check
    still running when the next probe comes is waited for, not doubled: what does not answer
    holds one thread, however often readiness is asked."""

    # What did not answer, as the deadline's detail names it.
    subject = "the store"

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reach-readiness")
        self._running: Future[Check] | None = None

    def _check(self) -> Check:
        raise NotImplementedError

    def _late(self) -> dict[str, Any]:
        """The details of a check that missed its deadline."""
        return {"detail": f"{self.subject} did not answer within {self.deadline:g} seconds"}

    async def __call__(self) -> Check:
        if self._running is None or self._running.done():
            self._running = self._executor.submit(self._check)
        try:
            return await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(self._running)), self.deadline
            )
        except TimeoutError:
            return Check(FAILING, self._late())

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class StoreCheck(BoundedCheck):
    """Whether the metadata store answers and has this Reach's schema: one small query, under
    the store's own timeouts."""

    def __init__(self, database: Database) -> None:
        self.database = database
        timeouts = database.timeouts
        super().__init__(timeouts.connect + timeouts.lock + 1)

    def _check(self) -> Check:
        # A SQLite store moved away is not created again: it does not answer until it is back.
        if self.database.missing:
            return Check(FAILING, {"detail": STORE_SILENT})
        try:
            require_current_schema(self.database)
        except SchemaNotCurrent:
            return Check(
                FAILING,
                {"detail": "the store's schema is not this Reach's: run `reach db upgrade`"},
            )
        except (SQLAlchemyError, OSError):
            return Check(FAILING, {"detail": STORE_SILENT})
        return Check(OK, {})


class RateLimitStoreCheck(BoundedCheck):
    """Whether the store of the rate-limit counts can count (every API call needs it): Redis
    answers a PING, the shared file's write lock can be taken, each under the timeout of one
    call; memory always can. Names the kind of store, never where it is."""

    subject = "the rate-limit store"

    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        # Connecting and answering may each take the timeout.
        super().__init__(2 * ratelimit.STORE_TIMEOUT_SECONDS + 1)

    def _check(self) -> Check:
        try:
            self.counts.ping()
        except (ServiceUnavailable, OSError):
            # OSError: the shared file cannot even be opened.
            return Check(
                FAILING,
                {"kind": self.counts.kind, "detail": "the rate-limit store does not answer"},
            )
        return Check(OK, {"kind": self.counts.kind})

    def _late(self) -> dict[str, Any]:
        return {"kind": self.counts.kind} | super()._late()


def index_check(indexes: IndexProvider) -> Check:
    """The index in service; none yet is no failure (the API answers without one)."""
    index = indexes.current()
    if index is None:
        return Check(OK, {"detail": "no index yet"})
    return Check(OK, {"buildId": index.build_id, "asOf": index.as_of.isoformat()})


def lookalike_check(state: str) -> Check:
    """The lookalike worker: ``running``, or ``standby`` where another process runs it."""
    return Check(FAILING if state == "stopped" else OK, {"state": state})


@router.get("/healthz")
async def healthz() -> JsonResponse:
    """The process is alive and answers."""
    return JsonResponse({"status": "ok"}, headers=NO_STORE)


@router.get("/readyz")
async def readyz(request: Request) -> JsonResponse:
    """Whether this process can serve the API: 200 when every check is ok, else 503."""
    state = request.app.state
    # The two stores are asked side by side: a probe waits for the slower only.
    store, rate_limit_store = await asyncio.gather(state.store_check(), state.rate_limit_check())
    checks = {
        "store": store,
        "index": index_check(state.indexes),
        "lookalikeWorker": lookalike_check(state.lookalike_worker.health()),
        "rateLimitStore": rate_limit_store,
    }
    ready = all(check.status == OK for check in checks.values())
    return JsonResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": {name: check.wire() for name, check in checks.items()},
        },
        status_code=200 if ready else 503,
        headers=NO_STORE,
    )


class IndexMetrics:
    """Metrics of the index in service, computed when Prometheus asks (the same in every
    process: all read the one published build)."""

    def __init__(self, indexes: IndexProvider, clock: Clock) -> None:
        self.indexes = indexes
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        index = self.indexes.current()
        if index is None:
            return
        # As old as the size warnings count it (REACH_INDEX_MAX_AGE_HOURS).
        yield GaugeMetricFamily(
            "reach_index_age_seconds",
            "Seconds since the end of the newest day of data in the index in service.",
            value=data_age(index.as_of, self.clock.now()).total_seconds(),
        )
        yield GaugeMetricFamily(
            "reach_index_built_timestamp_seconds",
            "When the index in service was built (Unix time).",
            value=index.built_at.timestamp(),
        )
        yield InfoMetricFamily(
            "reach_index",
            "The index in service.",
            value={"build_id": index.build_id, "as_of": index.as_of.isoformat()},
        )


@metrics_router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus's text exposition of every metric (docs/operations.md, Metrics)."""
    body = exposition(request.app.state.index_metrics)
    return Response(body, media_type=CONTENT_TYPE, headers=NO_STORE)
