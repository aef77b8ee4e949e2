"""The engine benchmark: its options, cold workload, verdicts, and a run over a small store."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from benchmarks.engine import (
    COLD_AUDIENCE_LEAVES,
    SampleCheck,
    build_workload,
    cold_audiences,
    export_sample,
    judge,
    main,
    parse_options,
)
from benchmarks.scale_data import Plan, generate
from pyroaring import FrozenBitMap

from reach.audience import algebra

END = date(2026, 12, 2)
PLAN = Plan(users=3000, days=5, end_date=END, seed=1, chunk_users=1000, advertisers=2)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scale")
    generate(PLAN, out)
    (out / "scale_data.json").write_text(
        json.dumps({"plan": {**PLAN.__dict__, "end_date": END.isoformat()}})
    )
    return out


class TestOptions:
    def test_a_store_gives_its_users_days_and_advertisers(self, data_dir: Path) -> None:
        options = parse_options(["--store", str(data_dir), "--shard-span", "1024"])
        assert (options.users, options.days, options.advertisers) == (3000, 5, 2)
        assert options.store == data_dir.resolve()
        assert options.shard_span == 1024

    def test_sizes_that_contradict_the_store_are_refused(
        self, data_dir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit):
            parse_options(["--store", str(data_dir), "--users", "100"])
        assert "the store has 3000" in capsys.readouterr().err

    def test_a_directory_without_a_store_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(SystemExit):
            parse_options(["--store", str(tmp_path)])

    def test_quick_without_a_store_is_the_small_demo(self) -> None:
        options = parse_options(["--quick"])
        assert (options.users, options.days, options.advertisers) == (200_000, 30, 5)
        assert options.store is None


class TestColdWorkload:
    def test_cold_audiences_are_distinct_valid_and_of_ten_segments(self) -> None:

        audiences = cold_audiences(random.Random(5), 3, 60)
        assert len(audiences) == 60
        texts = {json.dumps(a.tree, sort_keys=True) for a in audiences.values()}
        assert len(texts) == 60
        for audience in audiences.values():
            node = audience.node()
            assert algebra.check(node, 3, lambda _id: True) == []
            leaves = algebra.segment_ids(node)
            assert len(leaves) == COLD_AUDIENCE_LEAVES
            assert {leaf.split("/")[0] for leaf in leaves} == {str(audience.advertiser)}

    def test_the_workload_is_the_same_for_a_seed_and_keeps_its_warm_pools(self) -> None:
        options = parse_options(["--quick", "--cold-audiences", "12"])
        first, again = build_workload(options), build_workload(options)
        assert first.audiences == again.audiences
        assert first.locations == again.locations
        warm = first.probes("audience", warm_only=True)
        assert len(warm) == 2 * options.advertisers
        assert len(first.probes("audience")) == len(warm) + 12
        other = build_workload(parse_options(["--quick", "--cold-audiences", "12", "--seed", "7"]))
        assert other.audiences != first.audiences


class TestVerdicts:
    def test_each_comparison_and_a_value_not_measured(self) -> None:
        verdicts = judge(
            {
                "cold_audience_size_p50_ms": 60.0,
                "segment_size_p50_ms": 5.0,
                "index_build_events_per_s": 5_000_000,
                "oracle_speedup_audiences_min": None,
            }
        )
        assert verdicts["cold_audience_size_p50_ms"]["met"] is True  # <= 60
        assert verdicts["segment_size_p50_ms"]["met"] is False  # < 5
        assert verdicts["index_build_events_per_s"]["met"] is True  # >= 5M
        assert verdicts["oracle_speedup_audiences_min"]["met"] is None


class TestSample:
    def test_the_export_holds_only_the_sampled_users_by_their_ids(
        self, data_dir: Path, tmp_path: Path
    ) -> None:
        rows, ids = export_sample(data_dir / "store", tmp_path, 1000)
        assert ids == {n: f"u{n}" for n in range(1000)}
        assert rows["users"] == 1000
        for name in ("events-sample.parquet", "pings-sample.parquet", "behavioral.parquet"):
            users = set(pq.read_table(tmp_path / name, columns=["user_id"])["user_id"].to_pylist())
            assert users
            assert users <= set(ids.values()), name
        assert rows["products"] > 0

    def test_a_member_missing_on_either_side_is_a_mismatch(self) -> None:
        check = SampleCheck({0: "u0", 1: "u1", 2: "u2"}, FrozenBitMap(range(3)))
        check.check("Location", "same", FrozenBitMap([1, 2, 7]), {"u1", "u2"})
        assert check.mismatches == []
        check.check("Location", "differs", FrozenBitMap([1]), {"u1", "u2"})
        assert [m["key"] for m in check.mismatches] == ["differs"]
        assert check.mismatches[0]["only_oracle"] == ["u2"]
        assert check.compared["Location"]["definitions"] == 2


def test_a_quick_run_over_a_small_store(data_dir: Path, tmp_path: Path) -> None:
    """The whole benchmark over a store of benchmarks/scale_data.py: servers, engine, oracle."""
    out = tmp_path / "report.json"
    argv = ["--store", str(data_dir), "--quick", "--budget", "0.5", "--shard-span", "1024"]
    argv += ["--cold-audiences", "8", "--oracle-sample", "2000", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    results = report["results"]
    assert results["store"]["rows"]["users"] == PLAN.users
    assert results["index"]["full"]["shards"] == 3
    oracle = results["oracle"]
    assert oracle["mismatches"] == []
    assert {"Retargeting", "InMarket", "Location", "Behavioral", "Audience"} <= set(
        oracle["compared"]
    )
    assert results["http_vs_engine"]["mismatches"] == []
    assert results["http"]["cold_server"]["server"]["membership_cache_mib"] == 0
    assert results["http"]["cold_server"]["cache"].get("hits", 0) == 0
    cold_audiences_asked = results["http"]["cold_server"]["cold"]["audience"]["calls"]
    assert cold_audiences_asked == 2 * PLAN.advertisers + 8
    assert report["targets"]["sizes_agree"]["met"] is True
    assert report["targets"]["oracle_speedup_audiences_min"]["met"] is None
