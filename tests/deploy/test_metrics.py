"""GET /metrics: Prometheus's text format, counters that follow the calls, labels that name
routes and never raw paths, the index in service, the opt-out, and several processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.builders import SEGMENTS, ManualClock, create_segments, retargeting, sizes
from tests.conftest import ApiUser
from tests.indexed import ADVERTISERS

# An id no test creates: its requests must be counted under their route, never under it.
ODD_ID = "987654321"


def scrape(http: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics`` by name and labels; asked without a token."""
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


class TestRequests:
    def test_calls_are_counted_by_route_version_method_and_status(
        self, api: ApiUser, http: TestClient
    ) -> None:
        before = scrape(http)
        for version in ("2025-01", "2025-04"):
            response = api.get(
                f"/{version}/marketing-solutions/audience-segments/{ODD_ID}/contact-list/statistics"
            )
            assert response.status_code == 404
        http.get(f"/2025-01/marketing-solutions/nothing-here/{ODD_ID}")
        after = scrape(http)

        operation = "GetAudienceSegmentContactListStatistics"
        for version in ("2025-01", "2025-04"):
            labels = {"operation": operation, "api_version": version, "method": "GET"}
            grown = value(after, "reach_requests_total", **labels, status="404") - value(
                before, "reach_requests_total", **labels, status="404"
            )
            assert grown == 1
        assert (
            value(after, "reach_request_duration_seconds_count", operation=operation)
            - value(before, "reach_request_duration_seconds_count", operation=operation)
            == 2
        )
        unmatched = {"operation": "unmatched", "status": "404"}
        assert value(after, "reach_requests_total", **unmatched) == (
            value(before, "reach_requests_total", **unmatched) + 1
        )
        # Raw paths and ids never become label values.
        labels_seen = {v for (_, found) in after for _, v in found}
        assert not any(ODD_ID in label or "nothing-here" in label for label in labels_seen)

    def test_metrics_are_not_counted_against_a_limit(self, http: TestClient) -> None:
        bad = {"Authorization": "Bearer not-a-token"}
        for _ in range(3):
            assert http.get("/metrics", headers=bad).status_code == 200


class TestRateLimitRefusals:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_limit_per_minute": 2}

    def test_429s_are_counted(self, api: ApiUser, http: TestClient) -> None:
        token = api.token()
        before = value(
            scrape(http), "reach_rate_limit_refusals_total", operation="GetCurrentApplication"
        )
        statuses = [
            http.get(
                "/2025-01/marketing-solutions/me", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            for _ in range(4)
        ]
        refused = statuses.count(429)
        assert refused >= 2
        after = value(
            scrape(http), "reach_rate_limit_refusals_total", operation="GetCurrentApplication"
        )
        assert after - before == refused


class TestSizesAndTheIndex:
    @pytest.fixture
    def settings_overrides(self, indexed_settings: dict[str, Any]) -> dict[str, Any]:
        return indexed_settings

    def test_sizes_and_membership_cache(self, sizer: ApiUser, http: TestClient) -> None:
        [segment] = create_segments(sizer, retargeting(ADVERTISERS[0], "recent", 0, 9))
        before = scrape(http)
        sizes(sizer, f"{SEGMENTS}/compute-sizes", segment)
        sizes(sizer, f"{SEGMENTS}/compute-sizes", segment)
        after = scrape(http)

        def grown(name: str) -> float:
            return value(after, name) - value(before, name)

        assert grown("reach_sizes_computed_total") == 2
        # The first size computes the members, the second finds them in the cache.
        assert grown("reach_membership_cache_misses_total") == 1
        assert grown("reach_membership_cache_hits_total") == 1

    def test_the_index_in_service(
        self, app: FastAPI, http: TestClient, clock: ManualClock, sized_data: Path
    ) -> None:
        build_id = (sized_data / "reach" / "index" / "CURRENT").read_text().strip()
        as_of = app.state.indexes.current().as_of
        samples = scrape(http)
        assert value(samples, "reach_index_info", build_id=build_id, as_of=as_of.isoformat()) == 1
        data_end = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=clock.now().tzinfo)
        assert value(samples, "reach_index_age_seconds") == (
            (clock.now() - data_end).total_seconds()
        )
        clock.advance(hours=1)
        assert value(scrape(http), "reach_index_age_seconds") == (
            (clock.now() - data_end).total_seconds()
        )


def test_no_index_no_index_metrics(http: TestClient) -> None:
    names = {name for name, _ in scrape(http)}
    assert "reach_index_age_seconds" not in names
    assert "reach_index_info" not in names


class TestOptOut:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"metrics": False}

    def test_metrics_off_answers_404(self, http: TestClient) -> None:
        response = http.get("/metrics")
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "not-found"


# Two processes count, a third (the server answering /metrics) adds them up; then the two end.
MULTIPROCESS_SCRIPT = textwrap.dedent(
    """
    import json, multiprocessing, sys

    from prometheus_client.parser import text_string_to_metric_families

    from reach.kit import metrics
    from reach.kit.middleware import Call

    def work(pending):
        call = Call("t", "GET", "/x", "SearchAudienceSegments", "2025-01", 200, 0.01)
        metrics.observe_call(call)
        metrics.LOOKALIKES_PENDING.set(pending)

    def scraped():
        return {
            sample.name: sample.value
            for family in text_string_to_metric_families(metrics.exposition().decode())
            for sample in family.samples
            if sample.name in ("reach_requests_total", "reach_lookalikes_pending")
        }

    if __name__ == "__main__":
        context = multiprocessing.get_context("fork")
        workers = [context.Process(target=work, args=(n,)) for n in (3, 5)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        while_alive = scraped()
        for worker in workers:
            metrics.process_exited(worker.pid)
        json.dump({"multiprocess": metrics.multiprocess(), "alive": while_alive,
                   "exited": scraped()}, sys.stdout)
    """
)


def test_several_processes_are_added_up(tmp_path: Path) -> None:
    script = tmp_path / "count.py"
    script.write_text(MULTIPROCESS_SCRIPT)
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = json.loads(done.stdout)
    assert found["multiprocess"] is True
    assert found["alive"] == {"reach_requests_total": 2, "reach_lookalikes_pending": 5}
    # An exited worker's counts stay in the totals; its gauge goes.
    assert found["exited"].get("reach_requests_total") == 2
    assert found["exited"].get("reach_lookalikes_pending", 0) == 0
