"""``reach backup create`` then ``reach backup restore`` into a new data directory and store:
the restored Reach answers as the original did, and damaged or unsuitable backups are refused."""

from __future__ import annotations

import json
import shutil
import stat
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from reach.app import create_app
from reach.cli import app as cli
from reach.cli.backup import back_up
from reach.config import Settings
from reach.engine.store import Store
from reach.lookalike.service import Lookalikes
from reach.lookalike.worker import LookalikeWorker
from tests.builders import (
    AUDIENCES,
    SEGMENTS,
    ManualClock,
    audience,
    create_segments,
    item,
    leaf,
    retargeting,
    sizes,
    sizes_by_id,
)
from tests.conftest import POSTGRES_ADMIN, ApiUser, ContractClient, segments
from tests.contact_list.test_operations import amend, amendment
from tests.indexed import ADVERTISERS

ADVERTISER = ADVERTISERS[0]


@pytest.fixture
def settings_overrides(sized_data: Path, tmp_path: Path) -> dict[str, Any]:
    """A data directory of its own (a copy of the indexed store and index), and the server key
    generated into it, as a production Reach has it."""
    data_dir = tmp_path / "reach"
    for folder in ("store", "index"):
        shutil.copytree(sized_data / "reach" / folder, data_dir / folder)
    return {
        "data_dir": data_dir,
        "secret_key": None,
        "min_reported_size": 0,
        "rate_limit_per_minute": 0,
    }


@pytest.fixture
def source_env(
    app: FastAPI, settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str | None]:
    """The environment of ``reach`` commands run on the original Reach."""
    monkeypatch.delenv("REACH_SECRET_KEY", raising=False)
    return {
        "REACH_DATA_DIR": str(settings.data_dir),
        "REACH_DATABASE_URL": database_url,
        "REACH_SECRET_KEY": None,
    }


@dataclass
class Target:
    """Where a backup is restored: a new data directory and, on PostgreSQL, a new database."""

    data_dir: Path
    database_url: str | None

    @property
    def env(self) -> dict[str, str | None]:
        return {
            "REACH_DATA_DIR": str(self.data_dir),
            "REACH_DATABASE_URL": self.database_url,
            "REACH_SECRET_KEY": None,
        }

    def settings(self, **values: Any) -> Settings:
        return Settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            secret_key=None,
            lookalike_processes=0,
            min_reported_size=0,
            rate_limit_per_minute=0,
            **values,
        )


@pytest.fixture
def target(backend: str, tmp_path: Path) -> Iterator[Target]:
    if backend == "sqlite":
        # The store goes where a Reach without REACH_DATABASE_URL keeps it: in the data dir.
        yield Target(tmp_path / "restored", None)
        return
    name = f"reach_restore_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield Target(tmp_path / "restored", f"{base}/{name}")
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reach(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def succeeds(env: dict[str, str | None], *args: str) -> Result:
    result = reach(env, *args)
    assert result.exit_code == 0, result.output
    return result


def refused(env: dict[str, str | None], *args: str) -> str:
    """The one-line reason a command gave for refusing (exit status 1)."""
    result = reach(env, *args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    return " ".join(result.stderr.split())


@pytest.fixture
def worker(app: FastAPI) -> LookalikeWorker:
    """The server's worker, which builds only when the test says so (``run_once``)."""
    app.state.lookalikes = Lookalikes(app.state.lookalikes.results, lambda: None)
    found: LookalikeWorker = app.state.lookalike_worker
    return found


@dataclass
class Original:
    """What was made through the API before the backup."""

    segment_ids: list[str]
    audience_id: str
    contact_list: str
    lookalike: str


def answers(user: ApiUser, original: Original) -> dict[str, Any]:
    """What a client sees: its segments, their sizes, the audience's size, the list's match."""
    found = sorted(
        (s["id"], s["attributes"]["name"], s["attributes"]["type"])
        for s in segments(user, advertiserIds=[str(ADVERTISER)])
    )
    sized = sizes_by_id(sizes(user, f"{SEGMENTS}/compute-sizes", *original.segment_ids))
    audience_sizes = user.post(
        f"{AUDIENCES}/compute-sizes", {"data": [{"id": original.audience_id}]}
    ).json()
    statistics = user.get(f"{SEGMENTS}/{original.contact_list}/contact-list/statistics")
    assert statistics.status_code == 200, statistics.text
    return {
        "segments": found,
        "sizes": sized,
        "audience": sizes_by_id(audience_sizes),
        "statistics": statistics.json()["data"]["attributes"],
    }


@pytest.fixture
def original(sizer: ApiUser, worker: LookalikeWorker) -> Original:
    visitors, buyers, crm = create_segments(
        sizer,
        retargeting(ADVERTISER, "visitors", 0, 30),
        retargeting(ADVERTISER, "buyers", 0, 30, "Buyers"),
        item(ADVERTISER, "crm", contactList={}),
    )
    identifiers = [f"user{n}@example.com" for n in range(1, 301)] + ["nobody@example.org"]
    amend(sizer, crm, amendment(identifiers))
    [look] = create_segments(
        sizer, item(ADVERTISER, "look", lookalike={"seedSegmentId": visitors, "targetSize": 300})
    )
    assert [b.segment_id for b in worker.run_once().built] == [int(look)]
    created = sizer.post(
        f"{AUDIENCES}/create",
        {"data": [audience(ADVERTISER, "a", {"and": [leaf(visitors), {"not": leaf(buyers)}]})]},
    ).json()
    return Original([visitors, buyers, crm, look], created["data"][0]["id"], crm, look)


def results(root: Path) -> dict[str, bytes]:
    """The lookalike results under ``root``: one folder per lookalike (the files beside them
    coordinate the running builders and are no result)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.glob("*/*"))
        if p.is_file() and not p.name.startswith(".")
    }


def private(root: Path) -> list[str]:
    """What under ``root`` others could read: directories not 0700, files not 0600."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            found.append(f"{path.relative_to(root)}: {oct(mode)}")
    return found


def test_a_restored_reach_answers_as_the_original(
    app: FastAPI,
    http: ContractClient,
    sizer: ApiUser,
    original: Original,
    settings: Settings,
    source_env: dict[str, str | None],
    target: Target,
    tmp_path: Path,
    clock: ManualClock,
) -> None:
    before = answers(sizer, original)
    assert all(size for size in before["sizes"].values()), before
    assert before["statistics"]["numberOfMatches"] > 0

    succeeds(source_env, "backup", "create", str(tmp_path / "backup"))
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["server_key_kept"] is True
    assert manifest["index_build"] == (settings.data_dir / "index" / "CURRENT").read_text()
    assert private(tmp_path / "backup") == []
    succeeds(source_env, "backup", "check", str(tmp_path / "backup"))

    restored = succeeds(target.env, "backup", "restore", str(tmp_path / "backup"))
    assert "note" not in restored.stderr, restored.stderr
    assert private(target.data_dir) == []
    # The lookalike's result comes back with the index build it was made over: the restored
    # server sizes it at once, training nothing again.
    found = results(target.data_dir / "lookalikes")
    assert found == results(settings.data_dir / "lookalikes")
    assert found

    application = create_app(target.settings(size_privacy="exact"), clock=clock)
    try:
        with ContractClient(application) as client:
            # The same client credentials work, and every answer is the same.
            user = ApiUser(client, sizer.credentials)
            assert answers(user, original) == before
    finally:
        application.state.database.dispose()

    # Noisy sizes are drawn per question, server key and index build: all three came back.
    # (The lookalike is left out: its model is named by the privacy mode too, so in this mode
    # it is another model, which each server would start training now.)
    plain = [i for i in original.segment_ids if i != original.lookalike]
    noisy = [
        create_app(settings.model_copy(update={"size_privacy": "noisy"}), clock=clock),
        create_app(target.settings(), clock=clock),
    ]
    try:
        seen = []
        for application in noisy:
            with ContractClient(application) as client:
                user = ApiUser(client, sizer.credentials)
                seen.append(sizes_by_id(sizes(user, f"{SEGMENTS}/compute-sizes", *plain)))
        assert seen[0] == seen[1]
        assert seen[0] != {i: before["sizes"][i] for i in plain}
    finally:
        for application in noisy:
            application.state.database.dispose()


@pytest.fixture
def backup(sizer: ApiUser, source_env: dict[str, str | None], tmp_path: Path) -> Path:
    create_segments(sizer, retargeting(ADVERTISER, "visitors", 0, 30))
    succeeds(source_env, "backup", "create", str(tmp_path / "backup"))
    return tmp_path / "backup"


def nothing_restored(target: Target) -> bool:
    return not target.data_dir.exists() or not any(target.data_dir.iterdir())


def test_a_backup_without_its_manifest_is_refused(backup: Path, target: Target) -> None:
    (backup / "manifest.json").unlink()
    reason = refused(target.env, "backup", "restore", str(backup))
    assert "is not a complete backup" in reason
    assert "interrupted" in reason
    assert nothing_restored(target)
    assert "is not a complete backup" in refused(target.env, "backup", "check", str(backup))


def test_a_damaged_file_is_refused_and_nothing_is_restored(backup: Path, target: Target) -> None:
    damaged = next(p for p in sorted((backup / "data" / "store").rglob("*.parquet")))
    content = bytearray(damaged.read_bytes())
    content[len(content) // 2] ^= 0xFF
    damaged.write_bytes(bytes(content))
    name = damaged.relative_to(backup).as_posix()
    reason = refused(target.env, "backup", "restore", str(backup))
    assert f"{name} does not match its checksum" in reason
    assert nothing_restored(target)
    assert f"{name} does not match its checksum" in refused(
        target.env, "backup", "check", str(backup)
    )


def test_a_damaged_store_dump_is_refused(backup: Path, target: Target, backend: str) -> None:
    dump = backup / ("metadata.sqlite" if backend == "sqlite" else "metadata.pgdump")
    with dump.open("ab") as handle:
        handle.write(b"\0")
    assert f"{dump.name} does not match its checksum" in refused(
        target.env, "backup", "restore", str(backup)
    )
    assert not (target.data_dir / "reach.db").exists()


def test_a_data_dir_in_use_is_replaced_only_with_force(
    backup: Path, target: Target, sizer: ApiUser, clock: ManualClock, tmp_path: Path
) -> None:
    succeeds(target.env, "backup", "restore", str(backup))
    # The directory (and, on PostgreSQL, the database) now hold a Reach.
    assert "is not empty" in refused(target.env, "backup", "restore", str(backup))
    # Contact lists on a volume the hosts share, linked from the data directory.
    shared = tmp_path / "shared-lists"
    (shared / "999").mkdir(parents=True)
    shutil.rmtree(target.data_dir / "lists", ignore_errors=True)
    (target.data_dir / "lists").symlink_to(shared)
    succeeds(target.env, "backup", "restore", "--force", str(backup))
    # What the backup did not hold is gone from the Reach folders it replaced; a linked
    # folder stays a link, its content replaced.
    assert (target.data_dir / "lists").is_symlink()
    assert not (shared / "999").exists()
    application = create_app(target.settings(size_privacy="exact"), clock=clock)
    try:
        with ContractClient(application) as client:
            user = ApiUser(client, sizer.credentials)
            assert [s["attributes"]["name"] for s in segments(user)] == ["visitors"]
    finally:
        application.state.database.dispose()


def test_a_backup_of_a_newer_schema_is_refused(backup: Path, target: Target) -> None:
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["database"]["schema_revision"] = ["99990101_9999"]
    (backup / "manifest.json").write_text(json.dumps(manifest))
    reason = refused(target.env, "backup", "restore", str(backup))
    assert "migrated by a newer Reach (revision 99990101_9999)" in reason
    assert nothing_restored(target)


def test_a_backup_of_the_other_store_kind_is_refused(
    backup: Path, target: Target, backend: str, tmp_path: Path
) -> None:
    other = (
        f"sqlite:///{tmp_path / 'elsewhere.db'}"
        if backend == "postgresql"
        else "postgresql+psycopg://postgres@127.0.0.1:5432/none"
    )
    reason = refused(target.env | {"REACH_DATABASE_URL": other}, "backup", "restore", str(backup))
    assert f"The backup holds a {backend} store" in reason


def test_a_backup_goes_into_a_new_directory(
    backup: Path, source_env: dict[str, str | None]
) -> None:
    assert "is not an empty directory" in refused(source_env, "backup", "create", str(backup))


def test_a_key_from_the_environment_is_left_to_the_operator(
    sizer: ApiUser,
    source_env: dict[str, str | None],
    settings: Settings,
    target: Target,
    tmp_path: Path,
) -> None:
    key = settings.signing_key().decode()
    created = succeeds(
        source_env | {"REACH_SECRET_KEY": key}, "backup", "create", str(tmp_path / "b")
    )
    assert "not in the backup" in " ".join(created.stderr.split())
    assert not (tmp_path / "b" / "secret.key").exists()
    assert all(
        key.encode() not in p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    restored = succeeds(target.env, "backup", "restore", str(tmp_path / "b"))
    assert "set REACH_SECRET_KEY to that key" in " ".join(restored.stderr.split())
    assert not (target.data_dir / "secret.key").exists()


def test_without_pg_dump_the_backup_says_what_to_install(
    backup: Path,
    backend: str,
    source_env: dict[str, str | None],
    tmp_path: Path,
) -> None:
    if backend != "postgresql":
        pytest.skip("pg_dump backs up PostgreSQL stores only")
    empty = tmp_path / "bin"
    empty.mkdir()
    reason = refused(source_env | {"PATH": str(empty)}, "backup", "create", str(tmp_path / "b"))
    assert "pg_dump is not installed" in reason
    assert "postgresql-client" in reason
    assert not (tmp_path / "b").exists()


def test_a_backup_waits_for_an_ingestion_under_way(
    sizer: ApiUser, settings: Settings, tmp_path: Path
) -> None:
    store = Store(settings.data_dir / "store")
    finished = threading.Event()

    def backup() -> None:
        back_up(settings, tmp_path / "b")
        finished.set()

    with store.locked():  # as an ingestion holds it
        thread = threading.Thread(target=backup)
        thread.start()
        assert not finished.wait(1)
        # The ingestion's last file, written while the backup waits, is in it.
        (store.root / "late.parquet").write_bytes(b"rows")
    thread.join()
    assert finished.is_set()
    assert (tmp_path / "b" / "data" / "store" / "late.parquet").read_bytes() == b"rows"


def test_a_store_that_cannot_be_read_is_named(
    backend: str, source_env: dict[str, str | None], tmp_path: Path
) -> None:
    missing = (
        f"sqlite:///{tmp_path / 'missing.db'}"
        if backend == "sqlite"
        else POSTGRES_ADMIN.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0]
        + f"/reach_missing_{uuid.uuid4().hex[:12]}"
    )
    env = source_env | {"REACH_DATABASE_URL": missing}
    reason = refused(env, "backup", "create", str(tmp_path / "b"))
    assert ("There is no store at" if backend == "sqlite" else "cannot be read") in reason
    assert not (tmp_path / "b").exists()


def test_a_backup_without_the_index_says_to_build_it(
    sizer: ApiUser, source_env: dict[str, str | None], target: Target, tmp_path: Path
) -> None:
    succeeds(source_env, "backup", "create", "--no-index", str(tmp_path / "b"))
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["index_build"] is None
    assert not any(name.startswith("data/index/") for name in manifest["files"])
    assert any(name.startswith("data/store/") for name in manifest["files"])
    restored = succeeds(target.env, "backup", "restore", str(tmp_path / "b"))
    assert "run `reach index build`" in " ".join(restored.stderr.split())
    assert not (target.data_dir / "index").exists()
