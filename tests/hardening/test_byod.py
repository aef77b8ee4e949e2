"""Hardening of bring-your-own-data: a rejected file can be stored once its cause is fixed, the
rejects report can be corrected and fed back, the command line says where the report is and
how to retry, and the tutorial of docs/data-model.md runs as written."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from reach.cli import app as cli
from reach.engine.ingest import Ingestor, IngestReport, file_sha256
from reach.engine.store import Store
from reach.reference.countries import alpha2_codes
from reach.reference.taxonomy import taxonomy
from reach.testing import running_server
from tests.engine.test_ingest import write_csv

ROOT = Path(__file__).parents[2]
DATA_MODEL = ROOT / "docs" / "data-model.md"
OPERATIONS = ROOT / "docs" / "operations.md"
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
USERS = ["user_id", "country", "gender", "buying_power"]
PRODUCTS = ["advertiser_id", "product_id", "brand_id", "interest_id", "price", "price_range"]
EVENTS = ["time", "user_id", "advertiser_id", "kind", "product_id", "price"]
# How the docs name a rejects report; the name a report really gets is checked against it.
DOCUMENTED_REPORT = "store/rejects/<name>-<hash>.csv"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def visits(*users: str) -> list[list[Any]]:
    return [[f"2026-11-2{n}T10:00:00Z", user, 7, "visit", "", ""] for n, user in enumerate(users)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "data" / "store")


@pytest.fixture
def ingest(store: Store) -> Callable[[str, Path], IngestReport]:
    return Ingestor(
        store,
        countries=sorted(alpha2_codes()),
        interests=list(taxonomy().interests),
        clock=lambda: NOW,
    ).ingest


def stored(store: Store, kind: str) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        store.create_views(con)
        return con.execute(f"SELECT * FROM {kind} ORDER BY ALL").fetchall()


def rejected_product(tmp_path: Path, ingest: Callable[[str, Path], IngestReport]) -> Path:
    """The rejects report of a products file whose second row has an unknown price range."""
    products = write_csv(
        tmp_path / "products.csv",
        PRODUCTS,
        [[7, "p1", "", "", 10, "Low"], [7, "p2", "", "", 20, "Cheap"]],
    )
    report = ingest("products", products).rejects
    assert report is not None
    return report


class TestRetryingARejectedFile:
    def test_a_file_rejected_whole_is_stored_once_its_cause_is_fixed(
        self, tmp_path: Path, ingest: Callable[[str, Path], IngestReport], store: Store
    ) -> None:
        events = write_csv(tmp_path / "events.csv", EVENTS, visits("a", "b"))
        # Loaded before its users: every row refers to an unknown user.
        early = ingest("events", events)
        assert (early.accepted, early.rejected) == (0, 2)
        ingest("users", write_csv(tmp_path / "users.csv", USERS, [["a", "FR", "", ""]] * 1))
        ingest("users", write_csv(tmp_path / "more.csv", USERS, [["b", "DE", "", ""]]))

        again = ingest("events", events)

        assert not again.skipped
        assert (again.accepted, again.rejected) == (2, 0)
        assert len(stored(store, "events")) == 2

    def test_running_a_partly_rejected_file_again_stores_only_the_rows_rejected_before(
        self, tmp_path: Path, ingest: Callable[[str, Path], IngestReport], store: Store
    ) -> None:
        ingest("users", write_csv(tmp_path / "users.csv", USERS, [["a", "FR", "", ""]]))
        events = write_csv(tmp_path / "events.csv", EVENTS, visits("a", "late", "a"))
        first = ingest("events", events)
        assert (first.accepted, first.rejected) == (2, 1)
        ingest("users", write_csv(tmp_path / "late.csv", USERS, [["late", "FR", "", ""]]))

        retry = ingest("events", events)
        third = ingest("events", events)

        assert (retry.skipped, retry.accepted, retry.rejected) == (False, 1, 0)
        assert len(stored(store, "events")) == 3
        assert third.skipped

    def test_rows_still_rejected_on_a_retry_keep_their_row_numbers(
        self, tmp_path: Path, ingest: Callable[[str, Path], IngestReport]
    ) -> None:
        events = write_csv(tmp_path / "events.csv", EVENTS, visits("x", "y", "z"))
        ingest("events", events)
        ingest("users", write_csv(tmp_path / "users.csv", USERS, [["y", "FR", "", ""]]))

        retry = ingest("events", events)

        assert (retry.accepted, retry.rejected) == (1, 2)
        assert retry.rejects is not None
        assert [r["row"] for r in read_csv(retry.rejects)] == ["1", "3"]


class TestTheRejectsReport:
    def test_a_corrected_report_can_be_ingested(
        self, tmp_path: Path, ingest: Callable[[str, Path], IngestReport], store: Store
    ) -> None:
        report = rejected_product(tmp_path, ingest)
        rows = read_csv(report)
        assert [(r["row"], r["reason"]) for r in rows] == [
            ("2", "price_range must be Low, Medium or High")
        ]
        rows[0]["price_range"] = "Low"
        corrected = tmp_path / "corrected.csv"
        with corrected.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

        fed_back = ingest("products", corrected)

        assert (fed_back.accepted, fed_back.rejected) == (1, 0)
        assert [r[1] for r in stored(store, "products")] == ["p1", "p2"]

    def test_a_corrected_copy_kept_beside_the_reports_is_ingested_not_deleted(
        self, tmp_path: Path, ingest: Callable[[str, Path], IngestReport], store: Store
    ) -> None:
        report = rejected_product(tmp_path, ingest)
        fixed = report.with_name("products-fixed.csv")
        fixed.write_text(report.read_text(encoding="utf-8").replace("Cheap", "Low"), "utf-8")

        fed_back = ingest("products", fixed)

        assert (fed_back.accepted, fed_back.rejected) == (1, 0)
        assert fixed.exists() and report.exists()
        assert [r[1] for r in stored(store, "products")] == ["p1", "p2"]

    def test_the_report_numbers_rows_from_the_first_after_the_header(
        self, tmp_path: Path, ingest: Callable[[str, Path], IngestReport]
    ) -> None:
        users = write_csv(tmp_path / "users.csv", USERS, [["a", "FR", "", ""], ["b", "ZZ", "", ""]])
        report = ingest("users", users).rejects
        assert report is not None

        [row] = read_csv(report)

        assert list(row)[:2] == ["row", "reason"]
        assert row["row"] == "2"
        assert row["user_id"] == "b"

    def test_the_report_has_the_name_the_docs_give_it(
        self, tmp_path: Path, ingest: Callable[[str, Path], IngestReport], store: Store
    ) -> None:
        users = write_csv(tmp_path / "my users.csv", USERS, [["b", "ZZ", "", ""]])

        report = ingest("users", users).rejects

        assert report == store.root / "rejects" / f"my users-{file_sha256(users)[:12]}.csv"
        for page in (DATA_MODEL, OPERATIONS):
            assert DOCUMENTED_REPORT in page.read_text(encoding="utf-8"), page


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("REACH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("REACH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


class TestTheCommandLine:
    def test_one_rejected_row_is_said_with_its_reason_its_report_and_how_to_retry(
        self, cli_env: Path, tmp_path: Path
    ) -> None:
        products = write_csv(
            tmp_path / "products.csv",
            PRODUCTS,
            [[7, "p1", "", "", 10, "Low"], [7, "p2", "", "", 20, "Cheap"]],
        )

        code, output = run("ingest", "products", str(products))

        assert code == 0, output
        [report] = (cli_env / "store" / "rejects").glob("*.csv")
        flat = " ".join(output.split())
        assert "1 rows" not in flat
        assert "above" not in flat
        assert "1 row rejected" in flat
        assert "price_range must be Low, Medium or High (1)" in flat
        assert str(report) in flat
        retry = "To retry: correct the rows in the report and ingest it: reach ingest products"
        assert f"{retry} {report}" in flat

    def test_a_retry_says_what_it_retried(self, cli_env: Path, tmp_path: Path) -> None:
        events = write_csv(tmp_path / "events.csv", EVENTS, visits("a", "b"))
        code, output = run("ingest", "events", str(events))
        assert code == 0, output
        assert "unknown user_id (2)" in " ".join(output.split())
        assert "Load kinds in order" in " ".join(output.split())
        assert "then run the same command again" in " ".join(output.split())
        run("ingest", "users", str(write_csv(tmp_path / "u.csv", USERS, [["a", "FR", "", ""]])))

        code, output = run("ingest", "events", str(events))

        flat = " ".join(output.split())
        assert code == 0, output
        assert "retried the 2 rows rejected before" in flat
        assert "1 row rejected" in flat

    def test_a_path_with_brackets_is_printed_as_it_is(self, cli_env: Path, tmp_path: Path) -> None:
        """The console reads [...] as markup: a report path must come out whole."""
        folder = tmp_path / "[red]in"
        folder.mkdir()
        users = write_csv(folder / "[b]users.csv", USERS, [["a", "ZZ", "", ""]])

        code, output = run("ingest", "users", str(users))

        assert code == 0, output
        assert "[b]users" in " ".join(output.split())


# --- the tutorial of docs/data-model.md, run as written ------------------------------------

TUTORIAL_BLOCK = re.compile(
    r"^<!-- tutorial(?:: (?P<option>serve|prints (?P<prints>.*?)))? -->\n"
    r"```sh\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
TUTORIAL_HOST = "http://127.0.0.1:8080"
STEP_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Step:
    code: str
    serves: bool
    prints: str | None


def tutorial() -> list[Step]:
    return [
        Step(match["code"], match["option"] == "serve", match["prints"])
        for match in TUTORIAL_BLOCK.finditer(DATA_MODEL.read_text(encoding="utf-8"))
    ]


def shell_environment() -> dict[str, str]:
    """Ours without any REACH_* of the caller, and this installation's ``reach`` first."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REACH_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def exported(steps: list[Step]) -> str:
    """The ``export`` lines of ``steps``: what a reader's shell still has at the next step."""
    return "".join(
        line + "\n"
        for step in steps
        for line in step.code.splitlines()
        if line.startswith("export ")
    )


def server_environment(folder: Path, exports: str) -> dict[str, str]:
    """The environment the tutorial's ``reach serve`` runs with: the exports made so far (a
    relative data directory taken from ``folder``, where the reader runs the commands)."""
    listed = subprocess.run(
        ["bash", "-c", f"set -eu\n{exports}env -0"],
        cwd=folder,
        env=shell_environment(),
        capture_output=True,
        check=True,
    )
    env = dict(item.split("=", 1) for item in listed.stdout.decode().split("\0") if item)
    env["REACH_DATA_DIR"] = str(folder / env["REACH_DATA_DIR"])
    return env


def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    steps = tutorial()
    assert [s.serves for s in steps].count(True) == 1
    assert any(s.prints for s in steps)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    url = TUTORIAL_HOST
    with ExitStack() as stack:
        for number, step in enumerate(steps):
            exports = exported(steps[:number])
            if step.serves:
                env = server_environment(tmp_path, exports)
                url = stack.enter_context(running_server(env, tmp_path / "serve.log")).url
                continue
            completed = subprocess.run(
                [
                    "bash",
                    "-c",
                    f"set -euo pipefail\n{exports}{step.code}".replace(TUTORIAL_HOST, url),
                ],
                cwd=tmp_path,
                env=shell_environment(),
                capture_output=True,
                text=True,
                timeout=STEP_TIMEOUT_SECONDS,
                check=False,
            )
            assert completed.returncode == 0, (step.code, completed.stdout, completed.stderr)
            if step.prints:
                assert step.prints in completed.stdout, (step.code, completed.stdout)
