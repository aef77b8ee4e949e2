"""The Spark build benchmark: end to end on a tiny store it finds the two builds identical and
reports them measured; its comparison sees a changed bitmap, key or array."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from benchmarks.common import ROOT
from benchmarks.scale_data import Plan, generate
from benchmarks.spark_build import compare_builds, progress_steps
from pyroaring import BitMap

from reach.engine.bitmaps import Family, write_family
from reach.engine.index import IndexBuilder, current_build
from reach.engine.store import Store

PLAN = Plan(users=2000, days=3, end_date=date(2026, 12, 2))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spark-build") / "data"
    generate(PLAN, out)
    return out


@pytest.fixture(scope="module")
def build(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB build of the store, on a hard-linked copy of it."""
    copy = tmp_path_factory.mktemp("duckdb")
    shutil.copytree(data_dir / "store", copy / "store", copy_function=os.link)
    IndexBuilder(Store(copy / "store"), copy).build()
    found = current_build(copy)
    assert found is not None
    return found


def spark_or_skip() -> None:
    pytest.importorskip("pyspark", reason="the spark engine needs the spark extra (pyspark)")
    from reach.engine.spark import java_missing

    if java_missing():
        pytest.skip("the spark engine needs Java 17 or later (JAVA_HOME or the PATH)")


@pytest.fixture(scope="module")
def report(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    spark_or_skip()
    root = tmp_path_factory.mktemp("run")
    out = root / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.spark_build",
            "--store",
            str(data_dir),
            "--work",
            str(root / "work"),
            "--master",
            "local[1]",
            "--spark-driver-memory",
            "1g",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return found


def test_a_run_finds_the_spark_build_identical_to_the_duckdb_build(
    report: dict[str, Any],
) -> None:
    assert report["identical"] is True
    comparison = report["comparison"]
    assert comparison["differences"] == 0
    assert comparison["shards"] == 1
    assert comparison["bitmaps"] > comparison["families"] > 0
    assert comparison["arrays"] > 0
    events = report["store"]["rows"]["events"]
    for engine in ("duckdb", "spark"):
        assert report["builds"][engine]["status"] == "ok"
        assert report["builds"][engine]["events"] == events
        assert report["builds"][engine]["events_per_s"] > 0


def test_a_run_measures_the_jvm_and_the_driver_as_one_tree(report: dict[str, Any]) -> None:
    spark, duckdb = report["builds"]["spark"], report["builds"]["duckdb"]
    assert spark["command"] == "reach index build --engine spark --master local[1]"
    # The driver's memory reached the JVM through spark-defaults.conf.
    assert "-Xmx1g" in spark["jvm_memory_options"]
    assert 0 < spark["driver_peak_rss_mib"] < spark["peak_rss_mib"]
    assert 0 < spark["jvm_peak_rss_mib"] < spark["peak_rss_mib"]
    assert duckdb["jvm_peak_rss_mib"] == 0
    assert duckdb["driver_peak_rss_mib"] == duckdb["peak_rss_mib"] > 0
    # The JVM's CPU time is collected too: it does most of the work.
    assert spark["cpu_s_by_role_sampled"]["jvm"] > spark["cpu_s_by_role_sampled"]["driver"]
    assert spark["cpu_s"] >= spark["cpu_s_by_role_sampled"]["jvm"]
    steps = [step["step"] for step in spark["steps"]]
    assert "shard 1/1: identity graph" in steps
    assert steps.index("shard 1/1: location pings") < steps.index("shard 1/1: identity graph")


def test_progress_lines_give_each_step_once_and_keep_log_lines_apart() -> None:
    segments = [
        "\x1b[?25l",
        "\x1b[2Kindex ━━━━━━━━━━          ━━━━ 0:00:00",
        "\x1b[2Kindex      ━━━━━━━━━━    0:00:01",
        "WARN Utils: Set SPARK_LOCAL_IP if you need to bind to another address",
        "\x1b[2Kshard 1/2: atoms visitors ━━━━╸━━━━━━━━━━━━━━━ 0:00:12",
        "\x1b[2Kshard 1/2: atoms visitors                      0:00:13",
        "\x1b[2Kshard 1/2: relation in_market_hits             0:00:14",
    ]
    steps, other = progress_steps(segments)
    assert steps == ["index", "shard 1/2: atoms visitors", "shard 1/2: relation in_market_hits"]
    assert other == ["WARN Utils: Set SPARK_LOCAL_IP if you need to bind to another address"]


def copy_of(build: Path, tmp_path: Path) -> Path:
    target = tmp_path / build.name
    shutil.copytree(build, target)
    return target


def test_the_comparison_of_a_build_with_its_copy_finds_nothing(build: Path, tmp_path: Path) -> None:
    check = compare_builds(build, copy_of(build, tmp_path)).report()
    assert check["identical"] is True
    assert check["families"] == check["families_byte_identical"] > 0
    assert check["bitmaps"] > 0
    assert check["arrays"] > 0


@dataclass
class Changed:
    """A copy of a build, and one of its shard's daily families with members, to change."""

    build: Path
    shard: Path
    family_path: Path
    family: Family


def changed_copy(build: Path, tmp_path: Path) -> Changed:
    copy = copy_of(build, tmp_path)
    shard = next((copy / "shards").iterdir())
    for path in sorted((shard / "days").rglob("*.bin")):
        family = Family(path.with_suffix(""))
        if any(len(family.get(key)) > 1 for key in family.entries()):
            return Changed(copy, shard, path.with_suffix(""), family)
    raise AssertionError("no daily family with members")


def test_the_comparison_finds_a_member_missing_from_a_daily_bitmap(
    build: Path, tmp_path: Path
) -> None:
    changed = changed_copy(build, tmp_path)
    keys = changed.family.entries()
    target = next(key for key in keys if len(changed.family.get(key)) > 1)
    bitmaps = {key: BitMap(changed.family.get(key)) for key in keys}
    bitmaps[target].remove(bitmaps[target].max())
    write_family(changed.family_path, bitmaps.items())
    check = compare_builds(build, changed.build).report()
    assert check["identical"] is False
    assert check["differences"] == 1
    [difference] = check["first_differences"]
    assert str(changed.family_path.relative_to(changed.shard)) in difference
    assert repr(target) in difference
    assert "1 differ" in difference


def test_the_comparison_finds_a_key_missing_and_a_changed_array(
    build: Path, tmp_path: Path
) -> None:
    changed = changed_copy(build, tmp_path)
    keys = changed.family.entries()
    write_family(changed.family_path, ((k, BitMap(changed.family.get(k))) for k in keys[1:]))
    array = next((changed.shard / "identities").glob("*.npy"))
    values = np.load(array)
    values[0] = values[-1]
    np.save(array, values)
    found = compare_builds(build, changed.build).report()["first_differences"]
    assert any(f"key {keys[0]!r} only in the DuckDB build" in d for d in found), found
    assert any(str(array.relative_to(changed.shard)) in d for d in found), found
