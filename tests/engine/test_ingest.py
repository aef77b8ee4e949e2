"""Ingestion: every row checked, rejects reported with their reason, files whole or not at all."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reach.engine.identities import key
from reach.engine.ingest import IngestError, Ingestor
from reach.engine.store import Store
from reach.reference.countries import alpha2_codes
from reach.reference.taxonomy import taxonomy

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


@pytest.fixture
def ingest(store: Store) -> Callable[[str, Path], Any]:
    ingestor = Ingestor(
        store,
        countries=sorted(alpha2_codes()),
        interests=list(taxonomy().interests),
        clock=lambda: NOW,
    )
    return ingestor.ingest


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_ndjson(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def rows(store: Store, kind: str) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        store.create_views(con)
        return con.execute(f"SELECT * FROM {kind} ORDER BY ALL").fetchall()


def rejects(path: Path | None) -> list[tuple[str, str]]:
    assert path is not None
    with path.open(encoding="utf-8") as handle:
        return [(row["row"], row["reason"]) for row in csv.DictReader(handle)]


@pytest.fixture
def catalogue(tmp_path: Path, ingest: Callable[[str, Path], Any]) -> None:
    ingest("brands", write_csv(tmp_path / "brands.csv", ["brand_id", "name"], [[1, "Nike"]]))
    ingest(
        "products",
        write_csv(
            tmp_path / "products.csv",
            ["advertiser_id", "product_id", "brand_id", "interest_id", "price", "price_range"],
            [[7, "p1", 1, "187", 20, "Low"], [7, "p2", "", "", 300, "High"]],
        ),
    )
    ingest(
        "users",
        write_csv(
            tmp_path / "users.csv",
            ["user_id", "country", "gender", "buying_power"],
            [["a", "fr", "Female", "High"], ["b", "DE", "", ""]],
        ),
    )


class TestRowChecks:
    def test_bad_rows_are_reported_with_their_reason(
        self, tmp_path: Path, ingest: Callable[[str, Path], Any], store: Store, catalogue: None
    ) -> None:
        events = write_ndjson(
            tmp_path / "events.ndjson",
            [
                {
                    "time": "2026-11-20T10:00:00Z",
                    "user_id": "a",
                    "advertiser_id": 7,
                    "kind": "view",
                    "product_id": "p1",
                    "price": None,
                },
                {
                    "time": "2026-11-20T10:00:00Z",
                    "user_id": "zz",
                    "advertiser_id": 7,
                    "kind": "view",
                    "product_id": "p1",
                    "price": None,
                },
                {
                    "time": "2026-11-20T10:00:00Z",
                    "user_id": "a",
                    "advertiser_id": 7,
                    "kind": "click",
                    "product_id": "p1",
                    "price": None,
                },
                {
                    "time": "2026-11-20T10:00:00Z",
                    "user_id": "a",
                    "advertiser_id": 7,
                    "kind": "sale",
                    "product_id": None,
                    "price": 3,
                },
                {
                    "time": "2026-11-20T10:00:00Z",
                    "user_id": "a",
                    "advertiser_id": 8,
                    "kind": "view",
                    "product_id": "p1",
                    "price": None,
                },
                {
                    "time": "2026-12-30T10:00:00Z",
                    "user_id": "a",
                    "advertiser_id": 7,
                    "kind": "visit",
                    "product_id": None,
                    "price": None,
                },
                {
                    "time": "not a time",
                    "user_id": "a",
                    "advertiser_id": 7,
                    "kind": "visit",
                    "product_id": None,
                    "price": None,
                },
                {
                    "time": "2026-11-21T10:00:00Z",
                    "user_id": "b",
                    "advertiser_id": 7,
                    "kind": "sale",
                    "product_id": "p2",
                    "price": -1,
                },
                {
                    "time": "2026-11-21T23:00:00-05:00",
                    "user_id": "b",
                    "advertiser_id": 7,
                    "kind": "visit",
                    "product_id": None,
                    "price": None,
                },
            ],
        )
        report = ingest("events", events)
        assert (report.accepted, report.rejected) == (2, 7)
        assert rejects(report.rejects) == [
            ("2", "unknown user_id"),
            ("3", "kind must be view, visit, basket or sale"),
            ("4", "product_id is required for view, basket and sale"),
            ("5", "unknown product of this advertiser"),
            ("6", "time is more than one day in the future"),
            ("7", "time is missing or not a timestamp"),
            ("8", "price must be a number >= 0"),
        ]
        stored = rows(store, "events")
        # Days are UTC dates: 23:00 at -05:00 is the next day.
        assert [(r[1], r[3], str(r[-1])) for r in stored] == [
            (0, "view", "2026-11-20"),
            (1, "visit", "2026-11-22"),
        ]
        assert report.days == ["2026-11-20", "2026-11-22"]

    def test_reference_kinds(
        self, tmp_path: Path, ingest: Callable[[str, Path], Any], store: Store
    ) -> None:
        ingest(
            "brands",
            write_csv(
                tmp_path / "b.csv",
                ["brand_id", "name"],
                [[1, "Nike"], [1, "Again"], ["x", "Bad"], [2, ""]],
            ),
        )
        assert rows(store, "brands") == [(1, "Nike")]
        report = ingest(
            "users",
            write_csv(
                tmp_path / "u.csv",
                ["user_id", "country", "gender", "buying_power"],
                [
                    ["a", "XX", "", ""],
                    ["b", "fr", "Other", ""],
                    ["c", "fr", "", "Huge"],
                    ["d", "gb", "", ""],
                ],
            ),
        )
        assert [r for _, r in rejects(report.rejects)] == [
            "country is not an ISO 3166-1 alpha-2 code",
            "gender must be Male or Female",
            "buying_power must be Low, Medium, High or VeryHigh",
        ]
        assert rows(store, "users") == [(0, "d", "GB", None, None)]

    def test_identity_digests(
        self, tmp_path: Path, ingest: Callable[[str, Path], Any], store: Store, catalogue: None
    ) -> None:
        digest = "A" * 64
        report = ingest(
            "identities",
            write_csv(
                tmp_path / "i.csv",
                ["user_id", "identifier_type", "digest"],
                [
                    ["a", "email", digest],
                    ["a", "email", "someone@example.com"],
                    ["b", "madid", "6F9619FF-8B86-D011-B42D-00C04FC964FF"],
                    ["b", "madid", "not-a-uuid"],
                    ["b", "gum", "abc 123"],
                    ["b", "fax", "1"],
                ],
            ),
        )
        assert report.accepted == 2
        madid = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
        # The key computed by SQL at ingestion is the one contact lists compute in Python.
        assert rows(store, "identities") == [
            (0, "email", "a" * 64, key("email", "a" * 64)),
            (1, "madid", madid, key("madid", madid)),
        ]


class TestFiles:
    def test_the_same_file_twice_is_a_no_op(
        self, tmp_path: Path, ingest: Callable[[str, Path], Any], store: Store
    ) -> None:
        path = write_csv(tmp_path / "b.csv", ["brand_id", "name"], [[1, "Nike"]])
        first = ingest("brands", path)
        second = ingest("brands", path)
        assert (first.skipped, second.skipped) == (False, True)
        assert len(store.manifest().files) == 1

    def test_later_reference_rows_replace_earlier_ones_and_users_keep_their_ordinal(
        self, tmp_path: Path, ingest: Callable[[str, Path], Any], store: Store
    ) -> None:
        header = ["user_id", "country", "gender", "buying_power"]
        ingest(
            "users",
            write_csv(tmp_path / "u1.csv", header, [["a", "FR", "", ""], ["b", "DE", "", ""]]),
        )
        ingest(
            "users",
            write_csv(tmp_path / "u2.csv", header, [["c", "ES", "", ""], ["a", "IT", "Male", ""]]),
        )
        assert rows(store, "users") == [
            (0, "a", "IT", "Male", None),
            (1, "b", "DE", None, None),
            (2, "c", "ES", None, None),
        ]
        assert len(list((store.root / "users").glob("*.parquet"))) == 1

    @pytest.mark.parametrize(
        ("header", "message"),
        [(["brand_id"], "missing column"), (["brand_id", "name", "colour"], "unknown column")],
    )
    def test_wrong_columns_refuse_the_whole_file(
        self,
        tmp_path: Path,
        ingest: Callable[[str, Path], Any],
        store: Store,
        header: list[str],
        message: str,
    ) -> None:
        path = write_csv(tmp_path / "b.csv", header, [[1] * len(header)])
        with pytest.raises(IngestError, match=message):
            ingest("brands", path)
        assert store.manifest().files == []

    def test_unreadable_files_and_kinds(
        self, tmp_path: Path, ingest: Callable[[str, Path], Any]
    ) -> None:
        with pytest.raises(IngestError, match="unknown format"):
            ingest("brands", write_csv(tmp_path / "b.txt", ["brand_id", "name"], []))
        with pytest.raises(IngestError, match="unknown kind"):
            ingest("clicks", tmp_path / "b.txt")
        with pytest.raises(IngestError, match="no such file"):
            ingest("brands", tmp_path / "missing.csv")
        broken = tmp_path / "b.parquet"
        broken.write_bytes(b"PAR1 not really")
        with pytest.raises(IngestError, match="cannot read"):
            ingest("brands", broken)

    def test_a_crash_before_the_commit_leaves_nothing(
        self,
        tmp_path: Path,
        ingest: Callable[[str, Path], Any],
        store: Store,
        catalogue: None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        before = store.manifest()
        events = write_ndjson(
            tmp_path / "e.ndjson",
            [
                {
                    "time": "2026-11-20T10:00:00Z",
                    "user_id": "a",
                    "advertiser_id": 7,
                    "kind": "visit",
                    "product_id": None,
                    "price": None,
                }
            ],
        )

        def crash(_manifest: Any) -> None:
            raise OSError("disk gone")

        monkeypatch.setattr(store, "commit", crash)
        with pytest.raises(OSError, match="disk gone"):
            ingest("events", events)
        monkeypatch.undo()
        assert store.manifest() == before
        assert rows(store, "events") == []
        # The files written before the crash are collected by the next ingestion.
        assert list((store.root / "events").glob("**/*.parquet"))
        ingest("brands", write_csv(tmp_path / "b2.csv", ["brand_id", "name"], [[2, "Adidas"]]))
        assert not list((store.root / "events").glob("**/*.parquet"))
        report = ingest("events", events)
        assert report.accepted == 1

    def test_parquet_and_csv_give_the_same_rows(
        self, tmp_path: Path, store: Store, ingest: Callable[[str, Path], Any]
    ) -> None:
        csv_path = write_csv(
            tmp_path / "brands.csv", ["brand_id", "name"], [[3, "Puma"], [4, "Asics"]]
        )
        with duckdb.connect() as con:
            target = tmp_path / "brands.parquet"
            con.execute(
                "COPY (SELECT 5::BIGINT AS brand_id, 'Lego' AS name) "
                f"TO '{target}' (FORMAT parquet)"
            )
        ingest("brands", csv_path)
        ingest("brands", tmp_path / "brands.parquet")
        assert rows(store, "brands") == [(3, "Puma"), (4, "Asics"), (5, "Lego")]
