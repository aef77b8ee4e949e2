"""The console benchmark over a tiny store: it writes and indexes the store, drives the builder
in Chromium and reports cold and warm edits side by side (no timing is judged here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks.console import main, parse_options, windows

from tests.console.conftest import REQUIRE_BROWSER, chromium_path


def test_the_fresh_segments_are_distinct_definitions() -> None:
    picked = windows(44)
    assert len(picked) == len(set(picked)) == 44
    assert all(0 <= low < high <= 30 for low, high, _ in picked)


def test_too_many_edits_are_refused() -> None:
    with pytest.raises(SystemExit):
        parse_options(["--data", "x", "--edits", "100000"])


def test_a_run_over_a_tiny_store(tmp_path: Path) -> None:
    if chromium_path() is None:
        if REQUIRE_BROWSER:
            pytest.fail("Chromium is not installed (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    out = tmp_path / "console.json"
    argv = ["--data", str(tmp_path / "data"), "--users", "3000", "--days", "4"]
    assert main([*argv, "--edits", "3", "--workers", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["benchmark"] == "console"
    assert report["options"]["users"] == 3000
    results = report["results"]
    # The tree of 8 nodes and 4 segments, one more of each after an added segment.
    for label, edits, nodes in (("cold", 3, 9), ("warm", 3, 9), ("remove", 6, 8)):
        measured = results[label]
        assert measured["edits"] == edits
        assert set(measured["edit_to_sizes_ms"]) >= {"p50", "p90", "max"}
        # One sizes call per edit, each asking the whole tree and the overlap matrix.
        assert measured["sizes_calls"] == edits
        assert measured["tree_nodes"] == nodes
        assert measured["overlap_cells"] == (nodes - 4) ** 2
    replayed = results["sizes_endpoint_without_browser"]
    assert replayed["calls"] >= 12  # the page's sizes calls, asked again without a browser
    assert set(report["targets"]) == {"cold_p50_ms", "warm_p50_ms"}
    for target in report["targets"].values():
        assert isinstance(target["met"], bool)
    assert report["environment"]["cpu_count"] >= 1
