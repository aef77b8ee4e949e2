"""Engine benchmark: demo data through ingestion and index build, then sizes: engine, HTTP, SQL."""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from pyroaring import AbstractBitMap, FrozenBitMap
from rich.table import Table

# Run as a script (`python benchmarks/engine.py`), the repository root is not on the path yet;
# it also holds the oracle of the test suite (tests/engine/oracle.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.engine.oracle import Oracle

from benchmarks.common import (
    HOST,
    REACH,
    ROOT,
    BenchmarkError,
    Http,
    Phase,
    Server,
    add_advertisers,
    console,
    distribution,
    get_token,
    git,
    json_headers,
    machine_busy_seconds,
    machine_facts,
    proc_status,
    run_benchmark,
    run_cli,
    start_server,
)
from reach.audience import algebra
from reach.config import Settings
from reach.engine.demo_data import BRANDS, CITIES, FIRST_ADVERTISER_ID, TASTES
from reach.engine.index import current_build, ordinal_range
from reach.engine.query import Index
from reach.engine.store import create_views
from reach.reference.taxonomy import taxonomy

T = TypeVar("T")
DEFAULT_OUT = ROOT / "benchmarks" / "reports" / "engine.json"
API = "/2025-01/marketing-solutions"
# The load order of docs/data-model.md.
KINDS = ("brands", "products", "users", "identities", "events", "pings", "behavioral")
# Windows of the server (its defaults, set explicitly for every `reach` process) and the oracle.
PROSPECTING_LOOKBACK_DAYS = 90
LOCATION_LOOKBACK_DAYS = 30
IN_MARKET_DAYS = 90
SEGMENT_KINDS = ("Retargeting", "Prospecting", "InMarket", "Location", "Behavioral")
WIRE_KEY = {
    "Retargeting": "retargeting",
    "Prospecting": "prospecting",
    "InMarket": "inMarket",
    "Location": "location",
    "Behavioral": "behavioral",
}
BEHAVIORAL_CATEGORIES = ("Lifestyles", "LifeEvents", "Seasonal", "BuyingPatterns")
ESTIMATE_POINTS = 100
# Audiences whose whole engine members are also restricted to the oracle's sample.
AUDIENCES_CHECKED_WHOLE = 10
KM_PER_DEGREE = 111.32
# The events of the extra day, by kind (view, visit, basket, sale).
EXTRA_DAY_KINDS = ("view", "visit", "basket", "sale")
EXTRA_DAY_SHARES = (0.55, 0.3, 0.1, 0.05)
# Timed repetitions of one engine call when it is compared with the oracle.
ENGINE_REPEATS = 15
# The fewest timed calls an operation makes, whatever its time budget.
MIN_TIMED_CALLS = 30
TARGETS: dict[str, tuple[str, float]] = {
    "index_build_events_per_s": (">=", 5_000_000),
    "index_build_peak_rss_gib": ("<=", 8),
    "segment_size_p50_ms": ("<", 5),
    "audience_size_p50_ms": ("<", 20),
    "audience_size_p99_ms": ("<", 50),
    "in_market_estimate_p50_ms": ("<", 50),
    "location_estimate_p50_ms": ("<", 50),
    # Cold: each definition asked once of a server without a membership cache (issue 13: at
    # 100M users).
    "cold_segment_size_p50_ms": ("<=", 20),
    "cold_audience_size_p50_ms": ("<=", 60),
    "cold_audience_size_p99_ms": ("<=", 150),
    "cold_location_estimate_p50_ms": ("<=", 50),
    "server_peak_rss_gib": ("<", 4),
    "oracle_speedup_audiences_min": (">=", 100),
}
# Distinct definitions asked once each in the cold pass, beyond the workload's.
COLD_AUDIENCES = 200
COLD_ESTIMATES = 100
# Users of the sample whose members the oracle computes in --store mode: ordinals below this.
ORACLE_SAMPLE_USERS = 200_000
# The workload's roles of each advertiser's segments (build_workload).
ROLES = ("R1", "R2", "R3", "R4", "P1", "P2", "M1", "M2", "L1", "L2", "B1")
COLD_AUDIENCE_LEAVES = 10


# --- options --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    users: int
    days: int
    advertisers: int
    seed: int
    work: Path | None
    keep: bool
    reuse: bool
    out: Path
    quick: bool
    segment_calls: int
    audience_calls: int
    in_market_calls: int
    location_calls: int
    budget_s: float
    store: Path | None = None
    shard_span: int | None = None
    cold_audiences: int = COLD_AUDIENCES
    cold_estimates: int = COLD_ESTIMATES
    oracle_sample: int = ORACLE_SAMPLE_USERS


def store_plan(data_dir: Path) -> dict[str, Any]:
    """The plan benchmarks/scale_data.py wrote beside a store (scale_data.json)."""
    plan: dict[str, Any] = json.loads((data_dir / "scale_data.json").read_text(encoding="utf-8"))[
        "plan"
    ]
    return plan


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=(
            "Generate demo data, ingest it and build the index with the `reach` CLI (or build"
            " the index of a store written by benchmarks/scale_data.py), then time sizes cold"
            " and warm, engine-direct and over HTTP against `reach serve`, and check them with"
            " the SQL oracle; write a JSON report."
        )
    )
    parser.add_argument("--users", type=int, default=None, help="Users (default 10,000,000).")
    parser.add_argument("--days", type=int, default=None, help="Days of events (default 90).")
    parser.add_argument(
        "--advertisers", type=int, default=None, help="Advertisers (ids 1001...; default 20)."
    )
    parser.add_argument("--seed", type=int, default=42, help="Seed of data and workload.")
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help=(
            "A data directory holding store/ (and scale_data.json) written by"
            " benchmarks/scale_data.py: no generation, no ingestion; it is only read. Users,"
            " days and advertisers are the store's."
        ),
    )
    parser.add_argument(
        "--shard-span",
        type=int,
        default=None,
        help="Users per shard, passed to `reach index build` (default: its own).",
    )
    parser.add_argument(
        "--cold-audiences",
        type=int,
        default=None,
        help=f"Distinct 10-segment audiences asked once each (default {COLD_AUDIENCES}).",
    )
    parser.add_argument(
        "--oracle-sample",
        type=int,
        default=ORACLE_SAMPLE_USERS,
        help="With --store: the oracle checks the users of ordinals below this.",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="Work directory (data, store, index, logs). Default: a new temp dir under /tmp.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the work directory at the end.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help=(
            "Skip generation and ingestion when --work already holds them (same --users, --days,"
            " --advertisers, --seed); the index is still built from scratch. With --store: reuse"
            " the index --work holds when it was built from the same store and shard span."
            " Implies --keep."
        ),
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Where the report goes.")
    parser.add_argument(
        "--budget",
        type=float,
        default=180.0,
        help=(
            "Seconds of timed calls per operation and way of asking; past it an operation stops"
            f" (after at least {MIN_TIMED_CALLS} calls)."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            "Smoke run: few timed calls and cold definitions; without --store also 200,000"
            " users, 30 days, 5 advertisers."
        ),
    )
    args = parser.parse_args(argv)
    calls = (2000, 500, 300, 100)
    cold = (args.cold_audiences or COLD_AUDIENCES, COLD_ESTIMATES)
    sizes = {"users": 10_000_000, "days": 90, "advertisers": 20}
    if args.quick:
        sizes = {"users": 200_000, "days": 30, "advertisers": 5}
        calls = (200, 100, 40, 20)
        cold = (args.cold_audiences or 40, 40)
    if args.store is not None:
        if not (args.store / "store" / "manifest.json").is_file():
            parser.error(f"--store {args.store}: no store/manifest.json there")
        try:
            plan = store_plan(args.store)
        except (OSError, ValueError, KeyError):
            parser.error(f"--store {args.store}: no scale_data.json of benchmarks/scale_data.py")
        sizes = {name: int(plan[name]) for name in sizes}
        for name, value in sizes.items():
            given = getattr(args, name)
            if given is not None and given != value:
                parser.error(f"--{name} {given}: the store has {value}")
    for name, value in sizes.items():
        if getattr(args, name) is None or args.quick:
            setattr(args, name, value)
    for name in ("users", "days", "advertisers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.days < 2:
        parser.error("--days must be at least 2")
    if args.seed < 0:
        parser.error("--seed must not be negative")
    if args.reuse and args.work is None:
        parser.error("--reuse needs --work DIR (a temp dir holds nothing to reuse)")
    if args.cold_audiences is not None and args.cold_audiences < 0:
        parser.error("--cold-audiences must not be negative")
    if args.oracle_sample < 1:
        parser.error("--oracle-sample must be at least 1")
    return Options(
        users=args.users,
        days=args.days,
        advertisers=args.advertisers,
        seed=args.seed,
        work=args.work.resolve() if args.work else None,
        keep=args.keep or args.reuse,
        reuse=args.reuse,
        out=args.out,
        quick=args.quick,
        segment_calls=calls[0],
        audience_calls=calls[1],
        in_market_calls=calls[2],
        location_calls=calls[3],
        budget_s=args.budget,
        store=args.store.resolve() if args.store else None,
        shard_span=args.shard_span,
        cold_audiences=cold[0],
        cold_estimates=cold[1],
        oracle_sample=args.oracle_sample,
    )


# --- `reach` commands, measured -------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    """Wall time, CPU time and peak RSS (from wait4) of one finished `reach` command."""

    command: str
    wall_s: float
    user_cpu_s: float
    system_cpu_s: float
    peak_rss_mib: float
    machine_cpu_busy_s: float
    stdout: str

    def report(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.user_cpu_s + self.system_cpu_s, 3),
            "user_cpu_s": round(self.user_cpu_s, 3),
            "system_cpu_s": round(self.system_cpu_s, 3),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            # Everything the machine ran meanwhile: well above cpu_s means other load.
            "machine_cpu_busy_s": round(self.machine_cpu_busy_s, 3),
            "other_processes_cpu_s": round(
                max(self.machine_cpu_busy_s - self.user_cpu_s - self.system_cpu_s, 0.0), 3
            ),
        }


class Children:
    """Runs `reach` commands one at a time, each in its own process group, logs in ``logs``."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.current: subprocess.Popen[bytes] | None = None

    def run(self, label: str, *args: str, program: Sequence[str] = (str(REACH),)) -> ChildRun:
        """``reach`` with ``args`` (or ``program`` with them), to its end."""
        out_path, err_path = self.logs / f"{label}.out", self.logs / f"{label}.err"
        shown = " ".join(
            [Path(program[0]).name, *program[1:], *(a if len(a) < 80 else "..." for a in args)]
        )
        with out_path.open("wb") as out, err_path.open("wb") as err:
            machine_before = machine_busy_seconds()
            started = time.perf_counter()
            process = subprocess.Popen(
                [*program, *args],
                env=self.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.current = process
            # wait4, not Popen.wait: it also gives this child's CPU time and peak RSS.
            _, status, usage = os.wait4(process.pid, 0)
            self.current = None
            wall = time.perf_counter() - started
            machine = machine_busy_seconds() - machine_before
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            tail = "\n".join(err_path.read_text(errors="replace").splitlines()[-15:])
            raise BenchmarkError(f"{shown} failed ({process.returncode}):\n{tail}")
        return ChildRun(
            command=shown,
            wall_s=wall,
            user_cpu_s=usage.ru_utime,
            system_cpu_s=usage.ru_stime,
            peak_rss_mib=usage.ru_maxrss / 1024,  # KiB on Linux
            machine_cpu_busy_s=machine,
            stdout=out_path.read_text(errors="replace"),
        )

    def kill(self) -> None:
        """Stop a command still running (the run failed or was interrupted)."""
        process, self.current = self.current, None
        if process is not None and process.returncode is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
                os.waitpid(process.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


# --- measuring this process -----------------------------------------------------------------


@dataclass
class Here:
    """Wall time, CPU time and memory of a phase that runs in this process."""

    started: float = 0.0
    cpu_before: float = 0.0
    machine_before: float = 0.0
    rss_before_kib: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    machine_cpu_s: float = 0.0
    memory_after_kib: dict[str, int] = field(default_factory=dict)

    def __enter__(self) -> Here:
        self.rss_before_kib = proc_status(os.getpid())["VmRSS"]
        self.started = time.perf_counter()
        self.cpu_before = time.process_time()
        self.machine_before = machine_busy_seconds()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall_s = time.perf_counter() - self.started
        self.cpu_s = time.process_time() - self.cpu_before
        self.machine_cpu_s = machine_busy_seconds() - self.machine_before
        self.memory_after_kib = proc_status(os.getpid())

    def report(self) -> dict[str, float]:
        """Times, and the memory of this process as the phase ended."""
        memory = self.memory_after_kib or proc_status(os.getpid())
        return {
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "machine_cpu_busy_s": round(self.machine_cpu_s, 3),
            "rss_before_mib": round(self.rss_before_kib / 1024, 1),
            "rss_after_mib": round(memory["VmRSS"] / 1024, 1),
            "process_peak_rss_mib": round(memory["VmHWM"] / 1024, 1),
        }


def mib(size: int) -> float:
    return round(size / 2**20, 1)


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def evict_page_cache(root: Path) -> int:
    """Drop the (clean) pages of every file under ``root`` from the page cache, so that a
    first call reads from disk as after a reboot; returns the bytes concerned."""
    total = 0
    for path in root.rglob("*"):
        if path.is_file():
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(descriptor)
            total += path.stat().st_size
    return total


# --- the work directory ---------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    root: Path
    created: bool  # by this run: removed whole at the end (unless kept)

    @property
    def data(self) -> Path:
        """The generated input files (and the extra day): what the oracle reads."""
        return self.root / "data"

    @property
    def reach(self) -> Path:
        """REACH_DATA_DIR: store, index and the metadata database."""
        return self.root / "reach"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    @property
    def base_manifest(self) -> Path:
        """The store's manifest before the extra day, so that --reuse can go back to it."""
        return self.root / "manifest-before-extra-day.json"

    @property
    def manifest(self) -> Path:
        return self.reach / "store" / "manifest.json"

    @property
    def extra_events(self) -> Path:
        return self.data / "events-extra-day.parquet"

    def state(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return {}
        state: dict[str, Any] = json.loads(self.state_path.read_text(encoding="utf-8"))
        return state

    def save_state(self, state: dict[str, Any]) -> None:
        self.state_path.write_text(json.dumps(state, indent=1), encoding="utf-8")

    @property
    def source(self) -> Path:
        return self.root / "source"

    def remove(self) -> None:
        if self.created:
            shutil.rmtree(self.root, ignore_errors=True)
            return
        for name in ("data", "reach", "logs", "source"):
            shutil.rmtree(self.root / name, ignore_errors=True)
        for path in (self.state_path, self.base_manifest, self.root / "advertisers.csv"):
            path.unlink(missing_ok=True)


def open_work(options: Options) -> Work:
    if options.work is None:
        return Work(Path(tempfile.mkdtemp(prefix="reach-engine-bench-")), created=True)
    created = not options.work.exists()
    options.work.mkdir(parents=True, exist_ok=True)
    return Work(options.work, created=created)


def manifest_files(path: Path) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["files"]
    return files


def input_files(work: Work, kind: str) -> list[Path]:
    """The generated files of a kind (``events-00000.parquet``...; not the extra day)."""
    if kind in ("events", "pings"):
        return sorted(work.data.glob(f"{kind}-[0-9]*.parquet"))
    return [work.data / f"{kind}.parquet"]


def parquet_rows(paths: Sequence[Path]) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in paths)


# --- data: generation, ingestion, index builds ----------------------------------------------


def generate_phase(
    options: Options, work: Work, children: Children, state: dict[str, Any]
) -> tuple[dict[str, Any], date]:
    params = {
        "users": options.users,
        "days": options.days,
        "advertisers": options.advertisers,
        "seed": options.seed,
    }
    previous = state.get("generated", {})
    if options.reuse and previous.get("params") == params and work.data.is_dir():
        console.log(f"generate: reusing {work.data}")
        end = date.fromisoformat(previous["end_date"])
        report: dict[str, Any] = {"reused": True}
    else:
        for stale in (work.data, work.reach):
            shutil.rmtree(stale, ignore_errors=True)
        work.base_manifest.unlink(missing_ok=True)
        state.clear()
        work.save_state(state)
        # The data ends yesterday (UTC), so that the extra day (today) is no future data.
        end = datetime.now(UTC).date() - timedelta(days=1)
        console.log(
            f"generate: {options.users:,} users, {options.days} days,"
            f" {options.advertisers} advertisers (up to {end})"
        )
        run = children.run(
            "generate",
            "demo-data",
            "--users",
            str(options.users),
            "--days",
            str(options.days),
            "--advertisers",
            str(options.advertisers),
            "--seed",
            str(options.seed),
            "--out",
            str(work.data),
            "--end-date",
            end.isoformat(),
        )
        report = {"reused": False, **run.report()}
        state["generated"] = {"params": params, "end_date": end.isoformat()}
        work.save_state(state)
    rows = {kind: parquet_rows(input_files(work, kind)) for kind in KINDS}
    report |= {
        "end_date": end.isoformat(),
        "rows": rows,
        "files": {kind: len(input_files(work, kind)) for kind in KINDS},
        "input_mib": mib(sum(p.stat().st_size for k in KINDS for p in input_files(work, k))),
    }
    return report, end


def ingest_phase(
    work: Work, children: Children, state: dict[str, Any], reuse: bool
) -> dict[str, Any]:
    """Every kind through `reach ingest`, in the documented order; the metadata database is new
    in every run (the brands ingestion fills its brand catalogue)."""
    if reuse and state.get("ingested") and work.base_manifest.exists() and work.manifest.exists():
        console.log("ingest: reusing the store (its manifest as before the extra day)")
        shutil.copyfile(work.base_manifest, work.manifest)
        for stale in work.reach.glob("reach.db*"):
            stale.unlink()
        shutil.rmtree(work.reach / "index", ignore_errors=True)
        upgrade = children.run("db-upgrade", "db", "upgrade")
        # A no-op for the store (the file is known) that still syncs the API's brand catalogue.
        sync = children.run(
            "brands-sync", "ingest", "brands", *map(str, input_files(work, "brands"))
        )
        return {"reused": True, "db_upgrade": upgrade.report(), "brand_sync": sync.report()}
    shutil.rmtree(work.reach, ignore_errors=True)
    state.pop("ingested", None)
    work.save_state(state)
    upgrade = children.run("db-upgrade", "db", "upgrade")
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        files = input_files(work, kind)
        console.log(f"ingest: {kind} ({len(files)} file(s))")
        run = children.run(f"ingest-{kind}", "ingest", kind, *map(str, files))
        stored = [f for f in manifest_files(work.manifest) if f["kind"] == kind]
        accepted = sum(int(f["accepted"]) for f in stored)
        kinds[kind] = {
            "files": len(files),
            "rows_accepted": accepted,
            "rows_rejected": sum(int(f["rejected"]) for f in stored),
            "rows_per_s": round(accepted / run.wall_s),
            **run.report(),
        }
    shutil.copyfile(work.manifest, work.base_manifest)
    state["ingested"] = True
    work.save_state(state)
    store = work.reach / "store"
    return {
        "reused": False,
        "db_upgrade": upgrade.report(),
        "kinds": kinds,
        "wall_s_total": round(sum(k["wall_s"] for k in kinds.values()), 3),
        "store_mib": mib(tree_bytes(store)),
    }


BUILT = re.compile(
    r"(\d+) days built, (\d+) reused, (\d+) shard\(s\), (\d+) reused, ([\d,]+) events in"
    r" ([\d.]+) s"
)


def index_build(
    children: Children, label: str, work: Work, shard_span: int | None = None
) -> dict[str, Any]:
    span = ("--shard-span", str(shard_span)) if shard_span else ()
    run = children.run(label, "index", "build", *span)
    found = BUILT.search(" ".join(run.stdout.split()))
    if found is None:
        raise BenchmarkError(f"cannot read the outcome of `reach index build`: {run.stdout!r}")
    build = current_build(work.reach)
    if build is None:
        raise BenchmarkError("`reach index build` published no index")
    meta = json.loads((build / "index.json").read_text(encoding="utf-8"))
    return {
        "build_id": meta["build_id"],
        "as_of": meta["as_of"],
        "days_in_index": len(meta["days"]),
        "days_built": int(found[1]),
        "days_reused": int(found[2]),
        "shards": int(found[3]),
        "shards_reused": int(found[4]),
        "shard_span": meta["shard_span"],
        "events_computed": int(found[5].replace(",", "")),
        "builder_reported_s": float(found[6]),
        "index_mib": mib(tree_bytes(build)),
        **run.report(),
    }


def write_extra_day(work: Work, day: date, rows: int, seed: int) -> int:
    """One more day of events, in the input format, of known users and products."""
    rng = np.random.default_rng([seed, 20250101])
    users = pq.read_table(work.data / "users.parquet", columns=["user_id"])["user_id"]
    products = pq.read_table(
        work.data / "products.parquet", columns=["advertiser_id", "product_id", "price"]
    )
    user = rng.integers(0, len(users), rows)
    product = rng.integers(0, products.num_rows, rows)
    kind = rng.choice(len(EXTRA_DAY_KINDS), size=rows, p=EXTRA_DAY_SHARES)
    visit, sale = kind == EXTRA_DAY_KINDS.index("visit"), kind == EXTRA_DAY_KINDS.index("sale")
    midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    seconds = midnight + np.sort(rng.integers(0, 86_400, rows))
    prices = products["price"].to_numpy()[product]
    table = pa.table(
        {
            "time": pa.array(seconds * 1_000_000, pa.timestamp("us", tz="UTC")),
            "user_id": users.take(pa.array(user)),
            "advertiser_id": products["advertiser_id"].take(pa.array(product)),
            "kind": pa.array(list(EXTRA_DAY_KINDS), pa.string()).take(pa.array(kind)),
            "product_id": products["product_id"].take(pa.array(product, mask=visit)),
            "price": pa.array(prices, pa.float64(), mask=~sale),
        }
    )
    partial = work.extra_events.with_name(work.extra_events.name + ".partial")
    pq.write_table(table, partial, compression="zstd")
    os.replace(partial, work.extra_events)
    return int(table.num_rows)


def builds_phase(
    work: Work, children: Children, events: int, end: date, options: Options
) -> dict[str, Any]:
    seed, days = options.seed, options.days
    shutil.rmtree(work.reach / "index", ignore_errors=True)
    console.log(f"index build from scratch ({events:,} events)")
    full = index_build(children, "index-build-full", work, options.shard_span)
    full["events_ingested"] = events
    full["events_per_s"] = round(events / full["wall_s"])
    extra_day = end + timedelta(days=1)
    with Here() as writing:
        extra_rows = write_extra_day(work, extra_day, max(1, round(events / days)), seed)
    console.log(f"incremental: {extra_rows:,} events of {extra_day} ingested, then a new build")
    ingested = children.run("ingest-extra-day", "ingest", "events", str(work.extra_events))
    entry = manifest_files(work.manifest)[-1]
    incremental = index_build(children, "index-build-incremental", work, options.shard_span)
    incremental["events_per_s_of_new_days"] = round(
        incremental["events_computed"] / incremental["wall_s"]
    )
    return {
        "full": full,
        "extra_day": {
            "day": extra_day.isoformat(),
            "rows_written": extra_rows,
            "write": writing.report(),
            "ingest": {
                "rows_accepted": entry["accepted"],
                "rows_rejected": entry["rejected"],
                **ingested.report(),
            },
        },
        "incremental": incremental,
    }


# --- a store written by benchmarks/scale_data.py ---------------------------------------------

# The API checks brand ids against its catalogue: a child copies the store's brands into it (as
# `reach ingest brands` does, without writing to the store).
SYNC_BRANDS = (
    "from reach.cli.context import context\n"
    "from reach.cli.data import store_of, sync_brands\n"
    "with context() as ctx:\n"
    "    print(sync_brands(ctx, store_of(ctx)))\n"
)


def store_phase(options: Options, work: Work, children: Children) -> tuple[dict[str, Any], date]:
    """The store of --store, linked into the work directory (only read: the index and the
    metadata database are the work directory's), a new metadata database, the brands."""
    assert options.store is not None
    source = options.store / "store"
    work.reach.mkdir(parents=True, exist_ok=True)
    link = work.reach / "store"
    if link.is_symlink() or link.exists():
        if not (link.is_symlink() and link.resolve() == source.resolve()):
            raise BenchmarkError(f"{link} exists and is not a link to {source}")
    else:
        link.symlink_to(source, target_is_directory=True)
    for stale in work.reach.glob("reach.db*"):
        stale.unlink()
    console.log(f"store: {source} (read only), a new metadata database, its brands")
    upgrade = children.run("db-upgrade", "db", "upgrade")
    brands = children.run("brands-sync", "-c", SYNC_BRANDS, program=(sys.executable,))
    plan = store_plan(options.store)
    entries = manifest_files(source / "manifest.json")
    current = json.loads((source / "manifest.json").read_text(encoding="utf-8"))["current"]
    report = {
        "store": str(options.store),
        "written_by": "benchmarks/scale_data.py",
        "plan": plan,
        "rows": {k: sum(int(f["accepted"]) for f in entries if f["kind"] == k) for k in KINDS},
        "files": {kind: len(current.get(kind, [])) for kind in KINDS},
        "store_mib": {kind: mib(tree_bytes(source / kind)) for kind in KINDS},
        "store_mib_total": mib(tree_bytes(source)),
        "db_upgrade": upgrade.report(),
        "brands_synced": int(brands.stdout.split()[-1]),
    }
    return report, date.fromisoformat(plan["end_date"])


def store_build_phase(
    options: Options, work: Work, children: Children, events: int, state: dict[str, Any]
) -> dict[str, Any]:
    """One build from scratch (the store cannot take an extra day: it is only read); with
    --reuse, the index of a previous run over the same store and shard span."""
    params = {"store": str(options.store), "shard_span": options.shard_span}
    previous = state.get("store_build")
    build = current_build(work.reach)
    skipped = "--store is only read: no extra day is ingested into it"
    if (
        options.reuse
        and previous
        and previous["params"] == params
        and build is not None
        and build.name == previous["report"]["build_id"]
    ):
        console.log(f"index: reusing build {build.name}")
        full = previous["report"] | {"reused": True}
        return {"full": full, "incremental": {"skipped": skipped}}
    shutil.rmtree(work.reach / "index", ignore_errors=True)
    console.log(f"index build from scratch ({events:,} events)")
    full = index_build(children, "index-build-full", work, options.shard_span)
    full["events_ingested"] = events
    full["events_per_s"] = round(events / full["wall_s"])
    full["reused"] = False
    state["store_build"] = {"params": params, "report": full}
    work.save_state(state)
    return {"full": full, "incremental": {"skipped": skipped}}


# --- the workload: segments, audiences, estimates -------------------------------------------


@dataclass(frozen=True)
class SegmentSpec:
    key: str  # "1001/R1": advertiser and role
    kind: str
    advertiser: int
    definition: dict[str, Any]  # the wire type object (camelCase)

    @property
    def name(self) -> str:
        return f"bench {self.key}"


@dataclass(frozen=True)
class AudienceSpec:
    key: str
    advertiser: int
    tree: dict[str, Any]  # algebra over segment keys

    @property
    def name(self) -> str:
        return f"bench {self.key}"

    def node(self) -> algebra.Node:
        node, errors = algebra.parse(self.tree)
        if node is None:
            raise BenchmarkError(f"audience {self.key}: {errors}")
        return node

    def wire(self, ids: Mapping[str, str]) -> dict[str, Any]:
        return algebra.to_json(algebra.relabel(self.node(), lambda key: ids[key]))


@dataclass(frozen=True)
class Probe:
    """One timed question: a segment or audience size, or an estimate."""

    operation: str  # segment | audience | in_market_estimate | location_estimate
    key: str
    kind: str
    advertiser: int


@dataclass
class Workload:
    segments: dict[str, SegmentSpec]
    audiences: dict[str, AudienceSpec]
    in_market: dict[str, dict[str, Any]]  # estimate definitions by key
    locations: dict[str, dict[str, Any]]
    # Audiences and estimates asked only in the cold pass, once each (not in the warm pools).
    cold_only: frozenset[str] = frozenset()

    def probes(self, operation: str, *, warm_only: bool = False) -> list[Probe]:
        found: list[Probe]
        if operation == "segment":
            found = [Probe("segment", s.key, s.kind, s.advertiser) for s in self.segments.values()]
        elif operation == "audience":
            found = [
                Probe("audience", a.key, "Audience", a.advertiser) for a in self.audiences.values()
            ]
        elif operation == "in_market_estimate":
            found = [Probe(operation, k, "InMarket", FIRST_ADVERTISER_ID) for k in self.in_market]
        else:
            found = [Probe(operation, k, "Location", FIRST_ADVERTISER_ID) for k in self.locations]
        return [p for p in found if p.key not in self.cold_only] if warm_only else found


OPERATIONS = ("segment", "audience", "in_market_estimate", "location_estimate")


def interest_ids() -> list[str]:
    """Interests of the demo tastes and their parents: products exist below each of them."""
    by_path = {i.path: i.id for i in taxonomy().interests.values()}
    found: set[str] = set()
    for taste in TASTES:
        for path in taste.interests:
            found.add(by_path[path])
            found.add(by_path[path.split(" > ")[0]])
    return sorted(found)


def points(rng: random.Random, count: int) -> list[dict[str, float]]:
    """Points within 15 km of real city centres (the demo's cities, by their weight)."""
    found = []
    for city in rng.choices(CITIES, weights=[c.weight for c in CITIES], k=count):
        distance, bearing = 15 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        north, east = distance * math.cos(bearing), distance * math.sin(bearing)
        latitude = city.latitude + north / KM_PER_DEGREE
        longitude = city.longitude + east / (KM_PER_DEGREE * math.cos(math.radians(city.latitude)))
        found.append({"latitude": round(latitude, 5), "longitude": round(longitude, 5)})
    return found


def location(rng: random.Random, count: int) -> dict[str, Any]:
    return {"pointsOfInterest": points(rng, count), "radiusInKm": rng.randint(5, 20)}


def in_market(
    rng: random.Random, country: str, interests: Sequence[str], mode: str
) -> dict[str, Any]:
    definition: dict[str, Any] = {"country": country}
    if mode in ("brands", "both"):
        picked = rng.sample(range(1, len(BRANDS) + 1), rng.randint(1, 3))
        definition["brandIds"] = [str(b) for b in sorted(picked)]
    if mode in ("interests", "both"):
        definition["interestIds"] = rng.sample(list(interests), rng.randint(1, 2))
    if rng.random() < 0.3:
        definition["priceRange"] = rng.sample(["Low", "Medium", "High"], rng.randint(1, 2))
    if rng.random() < 0.2:
        definition["buyingPower"] = rng.sample(["Low", "Medium", "High", "VeryHigh"], 2)
    if rng.random() < 0.2:
        definition["gender"] = rng.choice(["Male", "Female"])
    return definition


def build_workload(options: Options) -> Workload:
    """Per advertiser: 11 segments of every kind and two 10-segment audiences; pools of
    in-market estimates and of 100-point location estimates. Deterministic for a seed."""
    rng = random.Random(options.seed)
    interests = interest_ids()
    countries = sorted(
        {c.country for c in CITIES},
        key=lambda c: -sum(city.weight for city in CITIES if city.country == c),
    )
    segments: dict[str, SegmentSpec] = {}
    audiences: dict[str, AudienceSpec] = {}
    for number in range(options.advertisers):
        advertiser = FIRST_ADVERTISER_ID + number
        country = countries[number % 8]
        roles: dict[str, tuple[str, dict[str, Any]]] = {
            "R1": ("Retargeting", retargeting("All", 0, 30)),
            "R2": ("Retargeting", retargeting("Buyers", 0, 60)),
            "R3": ("Retargeting", retargeting("NonBuyers", 7, 90)),
            "R4": ("Retargeting", retargeting("All", 0, 7)),
            "P1": ("Prospecting", {"usersType": "Prospects"}),
            "P2": (
                "Prospecting",
                {
                    "usersType": "ProspectsOrNonBuyers",
                    "daysSinceLastVisitMin": 0,
                    "daysSinceLastVisitMax": 30,
                },
            ),
            "M1": ("InMarket", in_market(rng, country, interests, "brands")),
            "M2": ("InMarket", in_market(rng, country, interests, "interests")),
            "L1": ("Location", location(rng, 5)),
            "L2": ("Location", location(rng, 10)),
            "B1": (
                "Behavioral",
                {"category": BEHAVIORAL_CATEGORIES[number % 4]}
                | ({"country": country} if number % 2 == 0 else {}),
            ),
        }
        for role, (kind, definition) in roles.items():
            key = f"{advertiser}/{role}"
            segments[key] = SegmentSpec(key, kind, advertiser, definition)

        def leaf(role: str, advertiser: int = advertiser) -> dict[str, str]:
            return {"audienceSegmentId": f"{advertiser}/{role}"}

        shapes = {
            "A1": (("R1", "R2", "M1", "M2"), ("L1", "L2", "B1"), ("R4", "R3", "P2")),
            "A2": (("R3", "R4", "M1", "M2"), ("L1", "L2", "B1"), ("R2", "P1", "P2")),
        }
        for name, (shopping, place, excluded) in shapes.items():
            tree = {
                "and": [
                    {"or": [leaf(r) for r in shopping]},
                    {"or": [leaf(r) for r in place]},
                    {"not": {"or": [leaf(r) for r in excluded]}},
                ]
            }
            key = f"{advertiser}/{name}"
            audiences[key] = AudienceSpec(key, advertiser, tree)
    modes = ("brands", "interests", "both", "any")
    estimates = {
        f"in-market-{n}": in_market(rng, rng.choice(countries[:8]), interests, modes[n % 4])
        for n in range(40)
    }
    places = {f"location-{n}": location(rng, ESTIMATE_POINTS) for n in range(20)}
    # The cold pass's own definitions come from another stream: the warm pools above stay
    # what they were for a seed.
    cold = random.Random(options.seed + 1013)
    extra_audiences = cold_audiences(cold, options.advertisers, options.cold_audiences)
    extra_in_market = {
        f"in-market-cold-{n}": in_market(cold, cold.choice(countries[:8]), interests, modes[n % 4])
        for n in range(max(options.cold_estimates - len(estimates), 0))
    }
    extra_places = {
        f"location-cold-{n}": location(cold, ESTIMATE_POINTS)
        for n in range(max(options.cold_estimates - len(places), 0))
    }
    return Workload(
        segments,
        audiences | extra_audiences,
        estimates | extra_in_market,
        places | extra_places,
        frozenset([*extra_audiences, *extra_in_market, *extra_places]),
    )


def parts(rng: random.Random, items: Sequence[T], count: int) -> list[list[T]]:
    """``items`` cut at random into ``count`` non-empty runs, in order."""
    cuts = sorted(rng.sample(range(1, len(items)), count - 1))
    bounds = [0, *cuts, len(items)]
    return [list(items[a:b]) for a, b in itertools.pairwise(bounds)]


def cold_audiences(rng: random.Random, advertisers: int, count: int) -> dict[str, AudienceSpec]:
    """``count`` distinct audiences of COLD_AUDIENCE_LEAVES segments each, over the segments
    of one advertiser (in turn), in three and/or/not shapes that keep within the API's default
    depth of 3:

    - and(or(A), or(B), not(or(C)))
    - or(and(or(A), or(B)), and(or(C), not(x), not(y)))
    - and(or(A), not(or(B)), not(or(C)))"""
    found: dict[str, AudienceSpec] = {}
    seen: set[str] = set()
    while len(found) < count:
        number = len(found)
        advertiser = FIRST_ADVERTISER_ID + number % advertisers
        roles = rng.sample(ROLES, COLD_AUDIENCE_LEAVES)
        leaves = [{"audienceSegmentId": f"{advertiser}/{role}"} for role in roles]
        tree: dict[str, Any]
        shape = rng.randrange(3)
        if shape == 0:
            a, b, c = parts(rng, leaves, 3)
            tree = {"and": [{"or": a}, {"or": b}, {"not": {"or": c}}]}
        elif shape == 1:
            a, b, c = parts(rng, leaves[:-2], 3)
            x, y = leaves[-2:]
            tree = {
                "or": [
                    {"and": [{"or": a}, {"or": b}]},
                    {"and": [{"or": c}, {"not": x}, {"not": y}]},
                ]
            }
        else:
            a, b, c = parts(rng, leaves, 3)
            tree = {"and": [{"or": a}, {"not": {"or": b}}, {"not": {"or": c}}]}
        text = json.dumps(tree, sort_keys=True)
        if text in seen:
            continue
        seen.add(text)
        key = f"{advertiser}/C{number:03d}"
        found[key] = AudienceSpec(key, advertiser, tree)
    return found


def retargeting(visitors: str, low: int, high: int) -> dict[str, Any]:
    return {
        "visitorsType": visitors,
        "daysSinceLastVisitMin": low,
        "daysSinceLastVisitMax": high,
    }


# --- asking the engine directly -------------------------------------------------------------


def expand(interests: Sequence[str]) -> list[str]:
    """What the API does before asking the engine: an interest includes its descendants."""
    tree = taxonomy()
    return sorted({d for i in interests for d in tree.descendants(i)})


def engine_segment(
    index: Index, kind: str, advertiser: int, d: Mapping[str, Any]
) -> AbstractBitMap:
    if kind == "Retargeting":
        return index.retargeting(
            advertiser,
            d["visitorsType"],
            d["daysSinceLastVisitMin"],
            d["daysSinceLastVisitMax"],
        )
    if kind == "Prospecting":
        return index.prospecting(
            advertiser,
            d["usersType"],
            d.get("daysSinceLastVisitMin", 0),
            d.get("daysSinceLastVisitMax", PROSPECTING_LOOKBACK_DAYS),
        )
    if kind == "InMarket":
        return index.in_market(
            d["country"],
            [int(b) for b in d.get("brandIds", [])],
            expand(d.get("interestIds", [])),
            d.get("priceRange", []),
            d.get("buyingPower", []),
            d.get("gender"),
        )
    if kind == "Location":
        circle = [(p["latitude"], p["longitude"]) for p in d["pointsOfInterest"]]
        return index.location(circle, d["radiusInKm"])
    if kind == "Behavioral":
        return index.behavioral(d["category"], d.get("country"))
    raise ValueError(kind)


class EngineSizer:
    """Sizes from a published index, in this process, as the size service asks for them."""

    def __init__(self, index: Index, workload: Workload) -> None:
        self.index = index
        self.workload = workload

    def members(self, probe: Probe) -> AbstractBitMap:
        w = self.workload
        if probe.operation == "segment":
            spec = w.segments[probe.key]
            return engine_segment(self.index, spec.kind, spec.advertiser, spec.definition)
        if probe.operation == "audience":
            cache: dict[str, AbstractBitMap] = {}

            def leaf(key: str) -> AbstractBitMap:
                if key not in cache:
                    spec = w.segments[key]
                    cache[key] = engine_segment(
                        self.index, spec.kind, spec.advertiser, spec.definition
                    )
                return cache[key]

            return algebra.evaluate(w.audiences[probe.key].node(), leaf)
        if probe.operation == "in_market_estimate":
            return engine_segment(self.index, "InMarket", 0, w.in_market[probe.key])
        return engine_segment(self.index, "Location", 0, w.locations[probe.key])

    def __call__(self, probe: Probe) -> tuple[float, int]:
        started = time.perf_counter()
        size = len(self.members(probe))
        return 1000 * (time.perf_counter() - started), size


# --- asking the server ----------------------------------------------------------------------


class HttpSizer:
    """Sizes through the API: one item per compute-sizes call, one definition per estimate."""

    def __init__(
        self,
        http: Http,
        token: Callable[[], str],
        workload: Workload,
        segment_ids: Mapping[str, str],
        audience_ids: Mapping[str, str],
    ) -> None:
        self.http = http
        self.token = token
        self.workload = workload
        self.segment_ids = segment_ids
        self.audience_ids = audience_ids
        self._bodies: dict[tuple[str, str], tuple[str, bytes]] = {}

    def request(self, probe: Probe) -> tuple[str, bytes]:
        cached = self._bodies.get((probe.operation, probe.key))
        if cached is not None:
            return cached
        w = self.workload
        body: dict[str, Any]
        if probe.operation == "segment":
            path = f"{API}/audience-segments/compute-sizes"
            body = {"data": [{"id": self.segment_ids[probe.key], "type": "AudienceSegment"}]}
        elif probe.operation == "audience":
            path = f"{API}/audiences/compute-sizes"
            body = {"data": [{"id": self.audience_ids[probe.key], "type": "Audience"}]}
        else:
            path = f"{API}/audience-segments/estimate-size"
            key, pool = (
                ("inMarket", w.in_market)
                if probe.operation == "in_market_estimate"
                else ("location", w.locations)
            )
            attributes = {"advertiserId": str(probe.advertiser), key: pool[probe.key]}
            body = {"data": {"type": "AudienceSegmentSizeEstimation", "attributes": attributes}}
        found = self._bodies[(probe.operation, probe.key)] = (path, orjson.dumps(body))
        return found

    def __call__(self, probe: Probe) -> tuple[float, int]:
        path, body = self.request(probe)
        reply = self.http.request("POST", path, body, json_headers(self.token()))
        if reply.status != 200:
            raise BenchmarkError(
                f"{probe.key}: {path} answered {reply.status} {reply.body[:500]!r}"
            )
        answer = reply.json()
        if answer.get("errors"):
            raise BenchmarkError(f"{probe.key}: {path} answered errors {answer['errors']!r:.500}")
        data = answer["data"]
        item = data[0] if isinstance(data, list) else data
        size = item["attributes"]["size"]
        if not isinstance(size, int):
            raise BenchmarkError(f"{probe.key}: no size in {answer!r:.500}")
        return 1000 * reply.seconds, size


class Tokens:
    """A bearer token, renewed well before it expires."""

    def __init__(self, http: Http, client_id: str, client_secret: str) -> None:
        self.http = http
        self.credentials = (client_id, client_secret)
        self.value = ""
        self.issued = -math.inf

    def __call__(self) -> str:
        if time.monotonic() - self.issued > 300:
            self.value = get_token(self.http, *self.credentials)
            self.issued = time.monotonic()
        return self.value


def api_post(http: Http, token: str, path: str, body: Any) -> Any:
    reply = http.request("POST", f"{API}{path}", orjson.dumps(body), json_headers(token))
    if reply.status != 200:
        raise BenchmarkError(f"{path} answered {reply.status}: {reply.body[:800]!r}")
    answer = reply.json()
    if answer.get("errors"):
        raise BenchmarkError(f"{path} answered errors: {answer['errors']!r:.800}")
    return answer


def ids_by_name(answer: Any) -> dict[str, str]:
    return {item["attributes"]["name"]: item["id"] for item in answer["data"]}


def create_through_api(
    http: Http, token: str, workload: Workload, advertisers: Sequence[int]
) -> tuple[dict[str, str], dict[str, str]]:
    """Segments (Behavioral ones come from the CLI) and audiences; their ids by workload key."""
    items = [
        {
            "type": "AudienceSegment",
            "attributes": {
                "advertiserId": str(s.advertiser),
                "name": s.name,
                WIRE_KEY[s.kind]: s.definition,
            },
        }
        for s in workload.segments.values()
        if s.kind != "Behavioral"
    ]
    by_name: dict[str, str] = {}
    for start in range(0, len(items), 500):
        by_name |= ids_by_name(
            api_post(http, token, "/audience-segments/create", {"data": items[start : start + 500]})
        )
    offset = 0
    while True:
        page = api_post(
            http,
            token,
            f"/audience-segments/search?limit=100&offset={offset}",
            {
                "data": {
                    "attributes": {
                        "advertiserIds": [str(a) for a in advertisers],
                        "audienceSegmentTypes": ["Behavioral"],
                    }
                }
            },
        )
        by_name |= ids_by_name(page)
        offset += 100
        if offset >= page["meta"]["totalItems"]:
            break
    segment_ids = {s.key: by_name[s.name] for s in workload.segments.values()}
    audience_items = [
        {
            "type": "Audience",
            "attributes": {
                "advertiserId": str(a.advertiser),
                "name": a.name,
                "algebra": a.wire(segment_ids),
            },
        }
        for a in workload.audiences.values()
    ]
    made = ids_by_name(api_post(http, token, "/audiences/create", {"data": audience_items}))
    audience_ids = {a.key: made[a.name] for a in workload.audiences.values()}
    return segment_ids, audience_ids


# --- timing ---------------------------------------------------------------------------------


Sizer = Callable[[Probe], tuple[float, int]]


@dataclass
class Timings:
    """What one way of asking (engine-direct or HTTP) measured, and the sizes it saw."""

    report: dict[str, Any] = field(default_factory=dict)
    sizes: dict[tuple[str, str], int] = field(default_factory=dict)
    by_key_ms: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def latency(self, operation: str, stage: str = "timed") -> dict[str, Any]:
        found: dict[str, Any] = self.report[stage][operation]["latency_ms"]
        return found

    def p50(self, operation: str, stage: str = "timed") -> float:
        value: float = self.latency(operation, stage)["p50"]
        return value

    def p99(self, operation: str, stage: str = "timed") -> float:
        value: float = self.latency(operation, stage)["p99"]
        return value

    def record(self, label: str, probe: Probe, size: int) -> None:
        """A size seen: the same question must always get the same size."""
        seen = self.sizes.setdefault((probe.operation, probe.key), size)
        if seen != size:
            raise BenchmarkError(f"{label}: {probe.key} changed size ({seen} then {size})")


def first_touch_probes(workload: Workload) -> list[Probe]:
    """The first call of each kind in a fresh process: segments of the first advertiser, an
    audience of the last one (its segments untouched), then each estimate."""
    segments = workload.probes("segment")
    first = [next(p for p in segments if p.kind == kind) for kind in SEGMENT_KINDS]
    return [
        *first,
        workload.probes("audience", warm_only=True)[-1],
        workload.probes("in_market_estimate")[0],
        workload.probes("location_estimate")[0],
    ]


def schedule(workload: Workload, options: Options) -> dict[str, list[Probe]]:
    """The timed (warm) calls of each operation, drawn at random from the warm pools (the same
    for both ways of asking)."""
    rng = random.Random(options.seed + 7)
    counts = {
        "segment": options.segment_calls,
        "audience": options.audience_calls,
        "in_market_estimate": options.in_market_calls,
        "location_estimate": options.location_calls,
    }
    return {op: rng.choices(workload.probes(op, warm_only=True), k=n) for op, n in counts.items()}


def first_touch(sizer: Sizer, workload: Workload, timings: Timings, label: str) -> dict[str, Any]:
    """The first call of each kind in a fresh process (the index's pages evicted before)."""
    found: dict[str, Any] = {}
    for probe in first_touch_probes(workload):
        ms, size = sizer(probe)
        found[f"{probe.operation}:{probe.kind}"] = {"key": probe.key, "ms": round(ms, 3)}
        timings.record(label, probe, size)
    return found


def timed_calls(
    sizer: Sizer,
    probes: Sequence[Probe],
    phase: Callable[[], Any],
    timings: Timings,
    label: str,
    budget_s: float = math.inf,
) -> dict[str, Any]:
    """``probes`` one after another, each timed; stops past ``budget_s`` (after at least
    MIN_TIMED_CALLS calls)."""
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {}
    deadline = time.perf_counter() + budget_s
    operation = probes[0].operation
    with phase() as measured:
        for probe in probes:
            if len(latencies) >= MIN_TIMED_CALLS and time.perf_counter() > deadline:
                break
            ms, size = sizer(probe)
            timings.record(label, probe, size)
            latencies.append(ms)
            by_kind.setdefault(probe.kind, []).append(ms)
            timings.by_key_ms.setdefault((operation, probe.key), []).append(ms)
    costs = {
        "calls": len(latencies),
        "calls_planned": len(probes),
        "stopped_by_time_budget": len(latencies) < len(probes),
        "latency_ms": distribution(latencies),
        **(
            {"latency_ms_by_kind": {k: distribution(v) for k, v in sorted(by_kind.items())}}
            if len(by_kind) > 1
            else {}
        ),
        **measured.report(len(latencies)),
    }
    ours = sum(costs.get(k, 0.0) for k in ("server_cpu_s", "client_cpu_s", "cpu_s"))
    costs["other_processes_cpu_s"] = round(max(costs["machine_cpu_busy_s"] - ours, 0.0), 3)
    return costs


def cold_pass(
    sizer: Sizer, workload: Workload, phase: Callable[[], Any], timings: Timings, label: str
) -> dict[str, Any]:
    """Every distinct definition asked once, timed: segments first, then audiences (their
    segments' atoms are loaded by then, their members are not kept by a cold sizer), then
    the estimates."""
    found: dict[str, Any] = {}
    for operation in OPERATIONS:
        probes = workload.probes(operation)
        console.log(f"{label}: cold, {len(probes)} distinct {operation} definitions once each")
        found[operation] = timed_calls(sizer, probes, phase, timings, label)
    return found


def warm_pass(
    sizer: Sizer,
    workload: Workload,
    plan: Mapping[str, list[Probe]],
    phase: Callable[[], Any],
    timings: Timings,
    label: str,
    budget_s: float,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An untimed pass over the warm pools (bitmaps load, a server's membership cache fills),
    then the timed calls of each operation, one operation after another; the warm-up's and the
    timed calls' reports."""
    console.log(f"{label}: warm-up over the warm pools")
    started = time.perf_counter()
    touched = 0
    for operation in OPERATIONS:
        for probe in workload.probes(operation, warm_only=True):
            _, size = sizer(probe)
            timings.record(label, probe, size)
            touched += 1
    warm_up = {"calls": touched, "wall_s": round(time.perf_counter() - started, 3)}
    timed: dict[str, Any] = {}
    for operation, probes in plan.items():
        console.log(f"{label}: {len(probes)} timed {operation} calls (warm)")
        timed[operation] = timed_calls(sizer, probes, phase, timings, label, budget_s)
    return warm_up, timed


class HerePhase:
    """`Phase`'s report for work done in this process (engine-direct)."""

    def __init__(self) -> None:
        self.here = Here()

    def __enter__(self) -> HerePhase:
        self.here.__enter__()
        return self

    def __exit__(self, *_: object) -> None:
        self.here.__exit__()

    def report(self, calls: int) -> dict[str, float]:
        return {
            "wall_s": round(self.here.wall_s, 3),
            "cpu_s": round(self.here.cpu_s, 3),
            "cpu_ms_per_call": round(1000 * self.here.cpu_s / max(calls, 1), 3),
            "machine_cpu_busy_s": round(self.here.machine_cpu_s, 3),
        }


COLD_SERVER = "REACH_MEMBERSHIP_CACHE_MIB=0: every segment's members computed at each question"


def membership_cache_mib(env: Mapping[str, str]) -> int:
    """The membership cache a server started with ``env`` keeps (src/reach/config.py)."""
    default: int = Settings.model_fields["membership_cache_mib"].default
    return int(env.get("REACH_MEMBERSHIP_CACHE_MIB", default))


def cache_counters(http: Http) -> dict[str, float]:
    """The server's membership cache hits and misses (its /metrics)."""
    reply = http.request("GET", "/metrics")
    found: dict[str, float] = {}
    if reply.status != 200:
        return found
    for line in reply.body.decode(errors="replace").splitlines():
        name, _, value = line.partition(" ")
        if name in ("reach_membership_cache_hits_total", "reach_membership_cache_misses_total"):
            found[name.removeprefix("reach_membership_cache_").removesuffix("_total")] = float(
                value
            )
    return found


def rss_parts_mib(pid: int) -> dict[str, float]:
    """A process's resident memory by kind: anonymous (its heap: bitmaps, caches) and file
    pages (memory-mapped index files, which the kernel can drop and read again)."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("RssAnon", "RssFile", "RssShmem"):
            found[key] = round(int(rest.split()[0]) / 1024, 1)
    return found


def server_report(
    server: Server, env: Mapping[str, str], rss_at_start_kib: int, start_s: float, evicted: int
) -> dict[str, Any]:
    memory = server.memory_kib()
    return {
        "pid": server.pid,
        "start_s": round(start_s, 3),
        "index_page_cache_evicted_mib": mib(evicted),
        "rss_at_start_mib": round(rss_at_start_kib / 1024, 1),
        "peak_rss_mib": round(memory["VmHWM"] / 1024, 1),
        "rss_at_end_mib": round(memory["VmRSS"] / 1024, 1),
        "rss_at_end_by_kind_mib": rss_parts_mib(server.pid),
        "cpu_s_total": round(server.cpu(), 3),
        "membership_cache_mib": membership_cache_mib(env),
        "command": f"reach serve --host {HOST} --port {server.port}",
        "settings": {k: v for k, v in env.items() if k.startswith("REACH_") and "KEY" not in k},
    }


def started_server(
    env: dict[str, str], work: Work, name: str, stack: ExitStack
) -> tuple[Server, Http, int, float, int]:
    """A server over an index whose pages were evicted from the page cache; its client, its
    RSS at start, how long it took to start and the bytes evicted."""
    build = current_build(work.reach)
    assert build is not None
    evicted = evict_page_cache(build)
    mark = time.perf_counter()
    server = start_server(env, work.logs / f"{name}.log", stack, timeout=120)
    start_s = time.perf_counter() - mark
    console.log(f"{name}: pid {server.pid}, port {server.port}")
    http = Http(server.port)
    stack.callback(http.close)
    return server, http, server.memory_kib()["VmRSS"], start_s, evicted


def stop_server(server: Server) -> None:
    exit_code = server.stop()
    if exit_code not in (0, -signal.SIGTERM):
        console.log(f"[yellow]server exited with {exit_code}[/yellow]\n{server.log_tail()}")


def http_phase(
    options: Options,
    work: Work,
    env: dict[str, str],
    workload: Workload,
    plan: Mapping[str, list[Probe]],
    stack: ExitStack,
) -> tuple[dict[str, Any], Timings, Timings]:
    """Two servers in turn over the same index and metadata database. Cold: no membership
    cache, every definition asked once. Warm: the membership cache on, the warm pools asked
    again and again."""
    advertisers = sorted({s.advertiser for s in workload.segments.values()})
    mark = time.perf_counter()
    console.log(f"setup: {len(advertisers)} advertisers, a client, Behavioral segments (CLI)")
    add_advertisers(env, advertisers, work.root)
    grants = [arg for a in advertisers for arg in ("--advertiser", str(a))]
    credentials = json.loads(run_cli(env, "clients", "create", "--name", "bench", *grants))
    for spec in workload.segments.values():
        if spec.kind == "Behavioral":
            country = spec.definition.get("country")
            run_cli(
                env,
                "behavioral",
                "add",
                "--advertiser",
                str(spec.advertiser),
                "--name",
                spec.name,
                "--category",
                spec.definition["category"],
                *(("--country", country) if country else ()),
            )
    setup_s = time.perf_counter() - mark

    with ExitStack() as cold_stack:
        cold_env = env | {"REACH_MEMBERSHIP_CACHE_MIB": "0"}
        server, http, rss_at_start, start_s, evicted = started_server(
            cold_env, work, "server-cold", cold_stack
        )
        tokens = Tokens(http, credentials["client_id"], credentials["client_secret"])
        mark = time.perf_counter()
        segment_ids, audience_ids = create_through_api(http, tokens(), workload, advertisers)
        create_s = time.perf_counter() - mark
        sizer = HttpSizer(http, tokens, workload, segment_ids, audience_ids)
        cold = Timings()
        touched = first_touch(sizer, workload, cold, "http cold")
        cold_report = cold_pass(sizer, workload, lambda: Phase(server), cold, "http cold")
        cold.report = {
            "server_kind": COLD_SERVER,
            "first_touch_ms": touched,
            "cold": cold_report,
            "cache": cache_counters(http),
            "server": server_report(server, cold_env, rss_at_start, start_s, evicted),
        }
        stop_server(server)

    with ExitStack() as warm_stack:
        server, http, rss_at_start, start_s, evicted = started_server(
            env, work, "server-warm", warm_stack
        )
        tokens = Tokens(http, credentials["client_id"], credentials["client_secret"])
        sizer = HttpSizer(http, tokens, workload, segment_ids, audience_ids)
        warm = Timings()
        touched = first_touch(sizer, workload, warm, "http warm")
        warm_up, timed = warm_pass(
            sizer, workload, plan, lambda: Phase(server), warm, "http warm", options.budget_s
        )
        warm.report = {
            "server_kind": (
                f"membership cache of {membership_cache_mib(env)} MiB: a segment's members are"
                " computed once, then reused by every question"
            ),
            "first_touch_ms": touched,
            "warm_up": warm_up,
            "timed": timed,
            "cache": cache_counters(http),
            "server": server_report(server, env, rss_at_start, start_s, evicted),
        }
        stop_server(server)
    report = {
        "setup_cli_s": round(setup_s, 3),
        "create_through_api_s": round(create_s, 3),
        "segments_created": len(segment_ids),
        "audiences_created": len(audience_ids),
        "cold_server": cold.report,
        "warm_server": warm.report,
        "server": {
            "peak_rss_mib": max(
                cold.report["server"]["peak_rss_mib"], warm.report["server"]["peak_rss_mib"]
            ),
            "rss_at_end_mib": warm.report["server"]["rss_at_end_mib"],
        },
    }
    return report, cold, warm


ENGINE_COLD = (
    "each distinct definition computed once in this process (engine-direct keeps no members);"
    " the index's atoms it reads may already be loaded by earlier questions (the segments' by"
    " the time audiences are asked)"
)
ENGINE_WARM = (
    "the warm pools again and again: atoms loaded and the page cache warm; engine-direct keeps"
    " no members, so every call still computes its segments (a server's membership cache does"
    " not exist here)"
)


def engine_phase(
    work: Work, workload: Workload, plan: Mapping[str, list[Probe]], budget_s: float
) -> tuple[dict[str, Any], Timings, EngineSizer]:
    build = current_build(work.reach)
    assert build is not None
    evicted = evict_page_cache(build)
    with Here() as opening:
        sizer = EngineSizer(Index(build), workload)
    timings = Timings()
    with Here() as everything:
        touched = first_touch(sizer, workload, timings, "engine")
        cold = cold_pass(sizer, workload, HerePhase, timings, "engine")
        warm_up, timed = warm_pass(sizer, workload, plan, HerePhase, timings, "engine", budget_s)
    timings.report = {
        "index_page_cache_evicted_mib": mib(evicted),
        "open_index": opening.report(),
        "shards": len(sizer.index.shards),
        "first_touch_ms": touched,
        "cold_means": ENGINE_COLD,
        "cold": cold,
        "warm_means": ENGINE_WARM,
        "warm_up": warm_up,
        "timed": timed,
        "phase": everything.report(),
        "rss_by_kind_mib": rss_parts_mib(os.getpid()),
    }
    return timings.report, timings, sizer


# --- the oracle -----------------------------------------------------------------------------


class ComposingOracle(Oracle):
    """The test suite's oracle, able to hand out the SQL of a question instead of running it
    (every question goes through ``_members``), so that an audience is one SQL query."""

    _capturing: list[tuple[str, dict[str, Any]]] | None = None

    def _members(self, sql: str, parameters: dict[str, Any]) -> set[str]:
        if self._capturing is not None:
            self._capturing.append((sql, parameters))
            return set()
        return super()._members(sql, parameters)

    def statement(self, ask: Callable[[Oracle], object]) -> tuple[str, dict[str, Any]]:
        self._capturing = []
        try:
            ask(self)
            [(sql, parameters)] = self._capturing
        finally:
            self._capturing = None
        return sql, parameters

    def count(self, sql: str, parameters: dict[str, Any]) -> int:
        row = self.con.execute(sql, parameters).fetchone()
        return int(row[0]) if row else 0


def oracle_question(kind: str, advertiser: int, d: Mapping[str, Any]) -> Callable[[Oracle], Any]:
    if kind == "Retargeting":
        return lambda o: o.retargeting(
            advertiser, d["visitorsType"], d["daysSinceLastVisitMin"], d["daysSinceLastVisitMax"]
        )
    if kind == "Prospecting":
        return lambda o: o.prospecting(
            advertiser,
            d["usersType"],
            d.get("daysSinceLastVisitMin"),
            d.get("daysSinceLastVisitMax"),
        )
    if kind == "InMarket":
        return lambda o: o.in_market(
            d["country"],
            [int(b) for b in d.get("brandIds", [])],
            d.get("interestIds", []),
            d.get("priceRange", []),
            d.get("buyingPower", []),
            d.get("gender"),
        )
    if kind == "Location":
        circle = [(p["latitude"], p["longitude"]) for p in d["pointsOfInterest"]]
        return lambda o: o.location(circle, d["radiusInKm"])
    if kind == "Behavioral":
        return lambda o: o.behavioral(d["category"], d.get("country"))
    raise ValueError(kind)


PARAMETER = re.compile(r"\$([A-Za-z_]\w*)")


def renamed(sql: str, prefix: str) -> str:
    """The query with its parameters ``$name`` renamed ``$<prefix>_name``."""
    return PARAMETER.sub(lambda found: f"${prefix}_{found[1]}", sql)


def compose(
    node: algebra.Node, statements: Mapping[str, tuple[str, dict[str, Any]]]
) -> tuple[str, dict[str, Any]]:
    """One SQL query counting an audience's members: each segment's oracle query as a CTE
    (its parameters renamed apart), combined with UNION, INTERSECT and EXCEPT."""
    names: dict[str, str] = {}
    parameters: dict[str, Any] = {}
    ctes: list[str] = []
    for key in sorted(algebra.segment_ids(node)):
        name = names[key] = f"s{len(names)}"
        sql, given = statements[key]
        ctes.append(f"{name}(user_id) AS ({renamed(sql, name)})")
        parameters |= {f"{name}_{k}": v for k, v in given.items()}

    def sets(node: algebra.Node) -> str:
        if isinstance(node, algebra.Segment):
            return f"SELECT user_id FROM {names[node.id]}"  # noqa: S608
        if isinstance(node, algebra.Or):
            return " UNION ".join(f"({sets(t)})" for t in node.terms)
        if isinstance(node, algebra.Not):
            raise ValueError("a 'not' stands only inside an 'and'")
        positive = " INTERSECT ".join(
            f"({sets(t)})" for t in node.terms if not isinstance(t, algebra.Not)
        )
        for term in node.terms:
            if isinstance(term, algebra.Not):
                positive = f"({positive}) EXCEPT ({sets(term.term)})"
        return positive

    query = f"WITH {', '.join(ctes)} SELECT count(*) FROM ({sets(node)}) AS audience"  # noqa: S608
    return query, parameters


def engine_median_ms(sizer: EngineSizer, probe: Probe) -> float:
    return float(np.median([sizer(probe)[0] for _ in range(ENGINE_REPEATS)]))


def oracle_phase(
    work: Work, workload: Workload, engine: EngineSizer, engine_sizes: Mapping[Any, int]
) -> dict[str, Any]:
    """A few segments of each kind, both estimates and three audiences, through the oracle's
    SQL over the raw files; sizes must equal the engine's exactly."""
    with Here() as opening:
        oracle = ComposingOracle(
            work.data,
            prospecting_lookback_days=PROSPECTING_LOOKBACK_DAYS,
            location_lookback_days=LOCATION_LOOKBACK_DAYS,
        )
    first = FIRST_ADVERTISER_ID
    segment_keys = [f"{first}/{role}" for role in ("R1", "R2", "P2", "M1", "M2", "L2", "B1")]
    probes = [Probe("segment", k, workload.segments[k].kind, first) for k in segment_keys]
    probes += [workload.probes("in_market_estimate")[0], workload.probes("location_estimate")[0]]
    mismatches: list[dict[str, Any]] = []
    questions: list[dict[str, Any]] = []
    for probe in probes:
        if probe.operation == "segment":
            spec = workload.segments[probe.key]
            ask = oracle_question(spec.kind, spec.advertiser, spec.definition)
            definition = spec.definition
        else:
            pool = workload.in_market if probe.kind == "InMarket" else workload.locations
            definition = pool[probe.key]
            ask = oracle_question(probe.kind, 0, definition)
        console.log(f"oracle: {probe.operation} {probe.key} ({probe.kind})")
        started = time.perf_counter()
        size = len(ask(oracle))
        oracle_s = time.perf_counter() - started
        engine_size = engine_sizes[(probe.operation, probe.key)]
        engine_ms = engine_median_ms(engine, probe)
        row = {
            "operation": probe.operation,
            "key": probe.key,
            "kind": probe.kind,
            "oracle_s": round(oracle_s, 3),
            "engine_ms_median": round(engine_ms, 3),
            "speedup": round(1000 * oracle_s / max(engine_ms, 1e-6)),
            "oracle_size": size,
            "engine_size": engine_size,
            "agree": size == engine_size,
        }
        questions.append(row)
        if size != engine_size:
            mismatches.append(row | {"definition": definition})
    audiences: list[dict[str, Any]] = []
    last = max(a.advertiser for a in workload.audiences.values())
    chosen = [f"{first}/A1", f"{first}/A2", f"{last}/A1"]
    for position, key in enumerate(dict.fromkeys(chosen)):
        audience = workload.audiences[key]
        node = audience.node()
        statements = {}
        for leaf in algebra.segment_ids(node):
            segment = workload.segments[leaf]
            statements[leaf] = oracle.statement(
                oracle_question(segment.kind, segment.advertiser, segment.definition)
            )
        sql, parameters = compose(node, statements)
        console.log(f"oracle: audience {key} as one SQL query")
        started = time.perf_counter()
        size = oracle.count(sql, parameters)
        oracle_s = time.perf_counter() - started
        probe = Probe("audience", key, "Audience", audience.advertiser)
        engine_size = engine_sizes[("audience", key)]
        engine_ms = engine_median_ms(engine, probe)
        row = {
            "key": key,
            "leaves": len(algebra.segment_ids(node)),
            "algebra": audience.tree,
            "method": "one SQL query: the leaves' oracle queries as CTEs, UNION/INTERSECT/EXCEPT",
            "oracle_s": round(oracle_s, 3),
            "engine_ms_median": round(engine_ms, 3),
            "speedup": round(1000 * oracle_s / engine_ms),
            "oracle_size": size,
            "engine_size": engine_size,
            "agree": size == engine_size,
        }
        if position == 0:
            # The same audience with Python sets over the oracle's member sets: checks the
            # composed SQL, and shows what evaluating in Python costs.
            console.log(f"oracle: audience {key} with Python sets")
            started = time.perf_counter()
            members = {leaf: oracle_members(oracle, workload, leaf) for leaf in statements}
            by_sets = len(algebra.evaluate(node, members.__getitem__))
            row["python_sets"] = {
                "oracle_s": round(time.perf_counter() - started, 3),
                "size": by_sets,
                "agree": by_sets == engine_size,
            }
            if by_sets != engine_size:
                mismatches.append({"key": key, "python_sets_size": by_sets, "engine": engine_size})
        audiences.append(row)
        if size != engine_size:
            mismatches.append(row)
    speedups = [a["speedup"] for a in audiences]
    return {
        "data": str(work.data),
        "open": opening.report(),
        "segments_and_estimates": questions,
        "audiences": audiences,
        "audience_speedup_min": min(speedups),
        "audience_speedup_median": float(np.median(speedups)),
        "mismatches": mismatches,
    }


def oracle_members(oracle: Oracle, workload: Workload, key: str) -> set[str]:
    spec = workload.segments[key]
    found: set[str] = oracle_question(spec.kind, spec.advertiser, spec.definition)(oracle)
    return found


# --- the oracle on a sample of a store ------------------------------------------------------

# Each input file of tests/engine/oracle.py from the stored tables (views of reach.engine.store):
# the users of ordinals below $n and their rows, named by their stored user_id.
SAMPLE_FILES = {
    "brands": ("brands.parquet", "SELECT brand_id, name FROM brands"),
    "products": (
        "products.parquet",
        "SELECT advertiser_id, product_id, brand_id, interest_id, price, price_range FROM products",
    ),
    "users": (
        "users.parquet",
        "SELECT user_id, country, gender, buying_power FROM users WHERE ordinal < $n",
    ),
    "events": (
        "events-sample.parquet",
        "SELECT e.time, u.user_id, e.advertiser_id, e.kind, e.product_id, e.price"
        " FROM events AS e JOIN users AS u USING (ordinal) WHERE e.ordinal < $n",
    ),
    "pings": (
        "pings-sample.parquet",
        "SELECT p.time, u.user_id, p.latitude, p.longitude"
        " FROM pings AS p JOIN users AS u USING (ordinal) WHERE p.ordinal < $n",
    ),
    "behavioral": (
        "behavioral.parquet",
        "SELECT u.user_id, b.category, b.country, b.start_date, b.end_date"
        " FROM behavioral AS b JOIN users AS u USING (ordinal) WHERE b.ordinal < $n",
    ),
}


def export_sample(store: Path, out: Path, users: int) -> tuple[dict[str, int], dict[int, str]]:
    """The rows of the users of ordinals below ``users`` as the oracle's input files in
    ``out`` (only the stored files whose ordinals reach below it are read); the rows per kind
    and the sample's user ids by ordinal."""
    manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))["current"]
    files: dict[str, list[str]] = {}
    for kind in SAMPLE_FILES:
        names = [store / name for name in manifest.get(kind, [])]
        if kind not in ("brands", "products"):
            ranges = {path: ordinal_range(path) for path in names}
            names = [p for p in names if (r := ranges[p]) is not None and r[0] < users]
        files[kind] = [str(p) for p in names]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rows: dict[str, int] = {}
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        create_views(con, files)
        for kind, (name, sql) in SAMPLE_FILES.items():
            table = con.sql(sql, params={"n": users} if "$n" in sql else None).to_arrow_table()
            pq.write_table(table, out / name, compression="zstd")
            rows[kind] = table.num_rows
        found = con.execute(
            "SELECT ordinal, user_id FROM users WHERE ordinal < $n", {"n": users}
        ).fetchall()
    return rows, {int(ordinal): str(user) for ordinal, user in found}


@dataclass
class SampleCheck:
    """Members of the engine, restricted to the sample, against the oracle's over the sample."""

    user_ids: dict[int, str]
    sample: FrozenBitMap
    compared: dict[str, dict[str, int]] = field(default_factory=dict)
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    def check(self, kind: str, key: str, engine: AbstractBitMap, oracle: set[str]) -> None:
        restricted = engine & self.sample
        ours = {self.user_ids[o] for o in restricted}
        counts = self.compared.setdefault(kind, {"definitions": 0, "members": 0, "empty": 0})
        counts["definitions"] += 1
        counts["members"] += len(oracle)
        counts["empty"] += not oracle
        if ours != oracle:
            self.mismatches.append(
                {
                    "kind": kind,
                    "key": key,
                    "engine": len(ours),
                    "oracle": len(oracle),
                    "only_engine": sorted(ours - oracle)[:5],
                    "only_oracle": sorted(oracle - ours)[:5],
                }
            )


def sample_oracle_phase(
    options: Options, work: Work, workload: Workload, engine: EngineSizer
) -> dict[str, Any]:
    """Every segment, estimate and audience of the workload, on the users of ordinals below
    --oracle-sample: the oracle's SQL over their rows (exported from the store) against the
    engine's members (over every user) restricted to them. Membership of every kind depends
    only on a user's own rows, except Prospecting, whose advertiser countries come from every
    user's events: an advertiser's Prospecting is compared only when the sample gives it the
    countries the index has."""
    assert options.store is not None
    users = min(options.oracle_sample, options.users)
    console.log(f"oracle: exporting the users of ordinals below {users:,} from the store")
    with Here() as exporting:
        rows, user_ids = export_sample(options.store / "store", work.data, users)
    with Here() as opening:
        oracle = ComposingOracle(
            work.data,
            prospecting_lookback_days=PROSPECTING_LOOKBACK_DAYS,
            location_lookback_days=LOCATION_LOOKBACK_DAYS,
        )
    index = engine.index
    if oracle.as_of != index.as_of:
        raise BenchmarkError(f"oracle: the sample ends {oracle.as_of}, the index {index.as_of}")
    pairs = oracle.con.execute(
        "SELECT DISTINCT e.advertiser_id, upper(u.country) FROM event_days AS e"
        " JOIN users AS u USING (user_id) WHERE e.day <= $as_of",
        {"as_of": oracle.as_of},
    ).fetchall()
    sampled: dict[int, set[str]] = {}
    for advertiser, country in pairs:
        sampled.setdefault(int(advertiser), set()).add(str(country))
    advertisers = sorted({s.advertiser for s in workload.segments.values()})
    countries = {
        a: sampled.get(a, set()) == {c.upper() for c in index.advertiser_countries(a)}
        for a in advertisers
    }
    check = SampleCheck(user_ids, FrozenBitMap(range(users)))
    skipped: list[dict[str, Any]] = []
    oracle_sets: dict[str, set[str]] = {}
    restricted: dict[str, AbstractBitMap] = {}
    timer = {"oracle_s": 0.0, "engine_s": 0.0}

    def timed(what: str, ask: Callable[[], T]) -> T:
        started = time.perf_counter()
        found = ask()
        timer[what] += time.perf_counter() - started
        return found

    console.log(f"oracle: {len(workload.segments)} segments on the sample")
    for spec in workload.segments.values():
        if spec.kind == "Prospecting" and not countries[spec.advertiser]:
            skipped.append({"key": spec.key, "why": "advertiser countries differ in the sample"})
            continue
        probe = Probe("segment", spec.key, spec.kind, spec.advertiser)
        members = timed("engine_s", partial(engine.members, probe))
        restricted[spec.key] = members & check.sample
        ask = oracle_question(spec.kind, spec.advertiser, spec.definition)
        oracle_sets[spec.key] = timed("oracle_s", partial(ask, oracle))
        check.check(spec.kind, spec.key, members, oracle_sets[spec.key])
    console.log("oracle: estimates on the sample")
    for operation in ("in_market_estimate", "location_estimate"):
        for probe in workload.probes(operation):
            pool = workload.in_market if probe.kind == "InMarket" else workload.locations
            members = timed("engine_s", partial(engine.members, probe))
            ask = oracle_question(probe.kind, 0, pool[probe.key])
            check.check(
                f"{probe.kind} estimate",
                probe.key,
                members,
                timed("oracle_s", partial(ask, oracle)),
            )
    console.log(f"oracle: {len(workload.audiences)} audiences on the sample")
    whole = 0
    for audience in workload.audiences.values():
        node = audience.node()
        leaves = algebra.segment_ids(node)
        missing = sorted(leaf for leaf in leaves if leaf not in oracle_sets)
        if missing:
            skipped.append({"key": audience.key, "why": f"uses {', '.join(missing)} (skipped)"})
            continue
        members = algebra.evaluate(node, restricted.__getitem__)
        if whole < AUDIENCES_CHECKED_WHOLE:
            # The engine's audience over every user, restricted afterwards, is the same set.
            probe = Probe("audience", audience.key, "Audience", audience.advertiser)
            if (engine.members(probe) & check.sample) != members:
                check.mismatches.append(
                    {
                        "kind": "Audience",
                        "key": audience.key,
                        "why": "restricted late or early differ",
                    }
                )
            whole += 1
        check.check(
            "Audience", audience.key, members, algebra.evaluate(node, oracle_sets.__getitem__)
        )
    return {
        "method": (
            "the oracle's SQL (tests/engine/oracle.py) over the rows of the sampled users,"
            " exported from the store with their stored user_id; the engine's members over"
            " every user, restricted to the sample; audiences: the algebra over the segments'"
            " restricted members on both sides (restricting distributes over and/or/not), and"
            f" for the first {AUDIENCES_CHECKED_WHOLE} audiences the engine's whole audience"
            " restricted afterwards as well"
        ),
        "sample": {
            "users": users,
            "ordinals": f"0 to {users - 1}",
            "rows": rows,
            "export": exporting.report(),
            "open": opening.report(),
        },
        "as_of": oracle.as_of.isoformat(),
        "prospecting": {
            "why": (
                "an advertiser's countries are computed over every user's events: a sample's"
                " prospecting equals the engine's restricted to it when the sample's events give"
                " the advertiser the same countries"
            ),
            "advertisers_compared": [a for a, same in countries.items() if same],
            "advertisers_skipped": [a for a, same in countries.items() if not same],
        },
        "compared": check.compared,
        "definitions_compared": sum(c["definitions"] for c in check.compared.values()),
        "members_compared": sum(c["members"] for c in check.compared.values()),
        "skipped": skipped,
        "oracle_s": round(timer["oracle_s"], 3),
        "engine_s": round(timer["engine_s"], 3),
        "mismatches": check.mismatches,
    }


# --- the run --------------------------------------------------------------------------------


def fingerprint(root: Path) -> str:
    """A digest of every file under ``root`` (names and contents, no byte-code)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def snapshot_source(work: Work) -> Path:
    """A copy of ``src`` and ``migrations`` as they are now: every `reach` process of the run
    imports it, so that edits to the working tree during a long run cannot mix versions."""
    target = work.source
    shutil.rmtree(target, ignore_errors=True)
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "src", target / "src", ignore=skip)
    shutil.copytree(ROOT / "migrations", target / "migrations", ignore=skip)
    return target / "src"


def child_env(work: Work, source: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REACH_")}
    path = os.pathsep.join(p for p in (str(source), env.get("PYTHONPATH")) if p)
    return env | {
        # Ahead of the editable install's path entry.
        "PYTHONPATH": path,
        "REACH_DATA_DIR": str(work.reach),
        "REACH_SECRET_KEY": secrets.token_urlsafe(48),
        "REACH_RATE_LIMIT_PER_MINUTE": "0",
        "REACH_MIN_REPORTED_SIZE": "0",
        # Sizes are checked against the expected numbers: exact (docs/privacy.md).
        "REACH_SIZE_PRIVACY": "exact",
        "REACH_PROSPECTING_LOOKBACK_DAYS": str(PROSPECTING_LOOKBACK_DAYS),
        "REACH_LOCATION_LOOKBACK_DAYS": str(LOCATION_LOOKBACK_DAYS),
        "REACH_IN_MARKET_DAYS": str(IN_MARKET_DAYS),
        # Rich wraps at 80 columns without a terminal: keep the CLI's summary lines whole.
        "COLUMNS": "200",
    }


def own_cpu_seconds() -> float:
    """CPU time of this process and of its children that have finished (every `reach`
    process, the server included, is waited for)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def interference(machine_before: float, own_before: float, wall_s: float) -> dict[str, Any]:
    """How much CPU other processes took during the run: on a quiet machine, about none."""
    others = machine_busy_seconds() - machine_before - (own_cpu_seconds() - own_before)
    capacity = wall_s * (os.cpu_count() or 1)
    return {
        "other_processes_cpu_s": round(max(others, 0.0), 1),
        "share_of_machine": round(max(others, 0.0) / capacity, 3),
    }


def agreement(engine: Timings, **ways: Timings) -> dict[str, Any]:
    """The servers and the engine must give the same size to every question."""
    different = [
        {
            "way": way,
            "operation": op,
            "key": key,
            "http": size,
            "engine": engine.sizes.get((op, key)),
        }
        for way, timings in ways.items()
        for (op, key), size in sorted(timings.sizes.items())
        if engine.sizes.get((op, key)) != size
    ]
    return {
        "compared": sum(len(t.sizes) for t in ways.values()),
        "mismatches": different,
    }


def judge(values: Mapping[str, float | None]) -> dict[str, dict[str, Any]]:
    """Each target's verdict (a value of None was not measured: met is None)."""
    verdicts: dict[str, dict[str, Any]] = {}
    for name, (op, target) in TARGETS.items():
        value = values.get(name)
        met = None
        if value is not None:
            met = (
                value < target if op == "<" else value <= target if op == "<=" else value >= target
            )
        verdicts[name] = {"target": f"{op} {target:g}", "value": value, "met": met}
    return verdicts


def data_phases(
    options: Options, work: Work, children: Children, durations: dict[str, float]
) -> dict[str, Any]:
    """Generation, ingestion and index builds; or, with --store, the store and one build."""
    results: dict[str, Any] = {}
    state = work.state()
    mark = time.perf_counter()
    if options.store is not None:
        results["store"], _ = store_phase(options, work, children)
        durations["store_setup_s"] = time.perf_counter() - mark
        events = int(results["store"]["rows"]["events"])
        mark = time.perf_counter()
        results["index"] = store_build_phase(options, work, children, events, state)
        durations["index_builds_s"] = time.perf_counter() - mark
        return results
    results["generate"], end = generate_phase(options, work, children, state)
    durations["generate_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    results["ingest"] = ingest_phase(work, children, state, options.reuse)
    durations["ingest_s"] = time.perf_counter() - mark
    events = sum(int(f["accepted"]) for f in manifest_files(work.manifest) if f["kind"] == "events")

    mark = time.perf_counter()
    results["index"] = builds_phase(work, children, events, end, options)
    durations["index_builds_s"] = time.perf_counter() - mark
    return results


def describe_workload(workload: Workload, plan: Mapping[str, list[Probe]]) -> dict[str, Any]:
    return {
        "segments": len(workload.segments),
        "definitions": {op: len(workload.probes(op)) for op in OPERATIONS},
        "warm_pools": {op: len(workload.probes(op, warm_only=True)) for op in OPERATIONS},
        "cold_only": len(workload.cold_only),
        "timed_warm_calls_planned": {op: len(p) for op, p in plan.items()},
        "audiences": (
            "per advertiser two 10-segment audiences (A1, A2: and(or, or, not(or))); beyond them"
            " distinct 10-segment audiences over one advertiser's 11 segments, in three shapes:"
            " and(or(A), or(B), not(or(C))), or(and(or(A), or(B)), and(or(C), not(x), not(y))),"
            " and(or(A), not(or(B)), not(or(C)))"
        ),
    }


MEASURED = {
    "warm": "over HTTP: a server with its membership cache, the warm pools asked repeatedly",
    "cold": "over HTTP: a server without membership cache, each distinct definition asked once",
}
# Each latency target: the operation, the pass and the statistic it judges.
LATENCY_TARGETS = {
    "segment_size_p50_ms": ("segment", "timed", "p50"),
    "audience_size_p50_ms": ("audience", "timed", "p50"),
    "audience_size_p99_ms": ("audience", "timed", "p99"),
    "in_market_estimate_p50_ms": ("in_market_estimate", "timed", "p50"),
    "location_estimate_p50_ms": ("location_estimate", "timed", "p50"),
    "cold_segment_size_p50_ms": ("segment", "cold", "p50"),
    "cold_audience_size_p50_ms": ("audience", "cold", "p50"),
    "cold_audience_size_p99_ms": ("audience", "cold", "p99"),
    "cold_location_estimate_p50_ms": ("location_estimate", "cold", "p50"),
}


def verdicts(
    results: Mapping[str, Any], cold: Timings, warm: Timings, engine: Timings, users: int
) -> dict[str, dict[str, Any]]:
    """The targets: latencies judged over HTTP, the engine-direct figure beside them."""
    full = results["index"]["full"]
    oracle = results["oracle"]
    values: dict[str, float | None] = {
        "index_build_events_per_s": full["events_per_s"],
        "index_build_peak_rss_gib": round(full["peak_rss_mib"] / 1024, 3),
        "server_peak_rss_gib": round(results["http"]["server"]["peak_rss_mib"] / 1024, 3),
        "oracle_speedup_audiences_min": oracle.get("audience_speedup_min"),
    }
    for name, (operation, stage, stat) in LATENCY_TARGETS.items():
        way = warm if stage == "timed" else cold
        values[name] = way.latency(operation, stage)[stat]
    targets = judge(values)
    for name, (operation, stage, stat) in LATENCY_TARGETS.items():
        targets[name]["measured"] = MEASURED["warm" if stage == "timed" else "cold"]
        targets[name]["engine_direct"] = engine.latency(operation, stage)[stat]
        if stage == "cold":
            targets[name]["issue_13_scale"] = "100M users"
            targets[name]["users_here"] = users
    targets["index_build_events_per_s"]["measured"] = (
        "events of the store / wall time of `reach index build` (a child process)"
    )
    targets["index_build_peak_rss_gib"]["measured"] = "peak RSS of `reach index build` (wait4)"
    if oracle.get("audience_speedup_min") is None:
        targets["oracle_speedup_audiences_min"]["measured"] = (
            "not measured: --store has no raw files of every user for the oracle"
        )
    else:
        targets["oracle_speedup_audiences_min"]["measured"] = (
            "oracle SQL time / engine-direct median, worst of the audiences compared"
        )
    sizes_agree = not results["http_vs_engine"]["mismatches"] and not oracle["mismatches"]
    targets["sizes_agree"] = {
        "target": "engine = oracle = HTTP (cold and warm servers)",
        "value": sizes_agree,
        "met": sizes_agree,
    }
    return targets


def run(options: Options, stack: ExitStack) -> dict[str, Any]:
    facts = machine_facts()
    source_at_start = fingerprint(ROOT / "src")
    total_started = time.perf_counter()
    load_before = os.getloadavg()
    machine_before, own_before = machine_busy_seconds(), own_cpu_seconds()
    work = open_work(options)
    if options.keep:
        stack.callback(console.log, f"work directory kept: {work.root}")
    else:
        stack.callback(work.remove)
    work.logs.mkdir(parents=True, exist_ok=True)
    console.log(f"work directory: {work.root}")
    env = child_env(work, snapshot_source(work))
    children = Children(env, work.logs)
    stack.callback(children.kill)
    durations: dict[str, float] = {}
    results = data_phases(options, work, children, durations)
    load_after_build = os.getloadavg()

    workload = build_workload(options)
    plan = schedule(workload, options)
    results["workload"] = describe_workload(workload, plan)
    mark = time.perf_counter()
    results["http"], http_cold, http_warm = http_phase(options, work, env, workload, plan, stack)
    durations["http_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    console.log("engine-direct: a fresh Index in this process")
    results["engine_direct"], engine_timings, engine = engine_phase(
        work, workload, plan, options.budget_s
    )
    durations["engine_direct_s"] = time.perf_counter() - mark
    results["http_vs_engine"] = agreement(engine_timings, cold=http_cold, warm=http_warm)

    mark = time.perf_counter()
    if options.store is not None:
        results["oracle"] = sample_oracle_phase(options, work, workload, engine)
    else:
        results["oracle"] = oracle_phase(work, workload, engine, engine_timings.sizes)
    durations["oracle_s"] = time.perf_counter() - mark

    targets = verdicts(results, http_cold, http_warm, engine_timings, options.users)
    durations["total_s"] = time.perf_counter() - total_started
    source = (
        f"the store of benchmarks/scale_data.py in {options.store} (only read), indexed with"
        " `reach index build`"
        if options.store is not None
        else "demo data (reach demo-data) ingested with `reach ingest` and indexed with `reach"
        " index build`"
    )
    return {
        "benchmark": "engine",
        "description": (
            f"{source[0].upper()}{source[1:]}, each a child process measured with wait4 (wall,"
            " CPU, peak RSS); then sizes engine-direct (reach.engine.query.Index in this"
            " process) and over HTTP against `reach serve` (http.client keep-alive; times from"
            " sending to the last byte), cold and warm. Cold over HTTP: a server started with"
            " REACH_MEMBERSHIP_CACHE_MIB=0, every distinct definition asked once. Warm over"
            " HTTP: another server with its membership cache, the warm pools asked repeatedly."
            " Engine-direct: cold is every distinct definition once, warm the warm pools"
            " repeatedly; it never keeps members, so warm there only means loaded atoms and a"
            " warm page cache. First touch: the first call of each kind in a fresh process,"
            " the index's pages evicted. Sizes are checked against the SQL oracle of"
            " tests/engine/oracle.py (with --store: on a sample of users). Latency targets are"
            " judged over HTTP."
        ),
        "environment": facts
        | {
            "started_at": facts["date"],
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit_at_end": git("rev-parse", "HEAD"),
            "source_fingerprint": source_at_start,
            # Children run a copy taken at the start; this process imported the same code.
            "source_changed_during_run": fingerprint(ROOT / "src") != source_at_start,
            "memory_total_gib": round(
                os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
            ),
            "load_average_before": load_before,
            "load_average_after_build": load_after_build,
            "load_average_after": os.getloadavg(),
            "interference": interference(machine_before, own_before, durations["total_s"]),
        },
        "options": {
            "users": options.users,
            "days": options.days,
            "advertisers": options.advertisers,
            "seed": options.seed,
            "store": str(options.store) if options.store else None,
            "shard_span": options.shard_span,
            "work": str(options.work) if options.work else None,
            "keep": options.keep,
            "reuse": options.reuse,
            "quick": options.quick,
            "cold_audiences": options.cold_audiences,
            "cold_estimates": options.cold_estimates,
            "oracle_sample_users": options.oracle_sample if options.store else None,
            "timed_calls_planned": {op: len(p) for op, p in plan.items()},
            "budget_s_per_operation": options.budget_s,
        },
        "targets": targets,
        "results": results,
        "durations_s": {k: round(v, 1) for k, v in durations.items()},
    }


# --- the summary ----------------------------------------------------------------------------


def summary(report: dict[str, Any]) -> Table:
    results, targets, options = report["results"], report["targets"], report["options"]
    table = Table(
        title=(
            f"Reach engine benchmark: {options['users']:,} users, {options['days']} days,"
            f" {options['advertisers']} advertisers"
        )
    )
    table.add_column("measure")
    for column in ("engine cold", "engine warm", "HTTP cold", "HTTP warm / value"):
        table.add_column(column, justify="right")
    table.add_column("target", justify="right")
    table.add_column("met")

    def met(*names: str) -> tuple[str, str]:
        shown = {None: "-", True: "[green]yes[/green]", False: "[red]no[/red]"}
        return (
            ", ".join(str(targets[n]["target"]) for n in names),
            " ".join(shown[targets[n]["met"]] for n in names),
        )

    def value(text: str, *names: str) -> None:
        table.add_row(text, "", "", "", *(value_of(n) for n in names[:1]), *met(*names))

    def value_of(name: str) -> str:
        return str(targets[name]["value"])

    if "store" in results:
        store = results["store"]
        table.add_row(
            "store (scale_data)",
            "",
            "",
            "",
            f"{store['rows']['events'] / 1e6:.0f}M events, {store['store_mib_total'] / 1024:.1f}"
            " GiB",
            "",
            "",
        )
    else:
        ingest = results["ingest"]
        if not ingest["reused"]:
            peak = max(k["peak_rss_mib"] for k in ingest["kinds"].values())
            table.add_row(
                "ingest, all kinds (max RSS)",
                "",
                "",
                "",
                f"{ingest['wall_s_total']:.0f} s ({peak / 1024:.1f} GiB)",
                "",
                "",
            )
    full, incremental = results["index"]["full"], results["index"]["incremental"]
    table.add_row(
        f"index build, {full['events_ingested'] / 1e6:.0f}M events, {full['shards']} shard(s)",
        "",
        "",
        "",
        f"{full['events_per_s'] / 1e6:.2f}M/s ({full['wall_s']:.0f} s)",
        *met("index_build_events_per_s"),
    )
    table.add_row(
        "index build peak RSS, index size",
        "",
        "",
        "",
        f"{full['peak_rss_mib'] / 1024:.1f} GiB, {full['index_mib'] / 1024:.1f} GiB",
        *met("index_build_peak_rss_gib"),
    )
    if "skipped" not in incremental:
        table.add_row(
            f"incremental build ({incremental['days_reused']} days reused)",
            "",
            "",
            "",
            f"{incremental['wall_s']:.1f} s",
            "",
            "",
        )
    engine = results["engine_direct"]
    cold_server, warm_server = results["http"]["cold_server"], results["http"]["warm_server"]
    for operation, label, names in (
        ("segment", "segment size", ("cold_segment_size_p50_ms", "segment_size_p50_ms")),
        (
            "audience",
            "10-segment audience",
            (
                "cold_audience_size_p50_ms",
                "cold_audience_size_p99_ms",
                "audience_size_p50_ms",
                "audience_size_p99_ms",
            ),
        ),
        ("in_market_estimate", "in-market estimate", ("in_market_estimate_p50_ms",)),
        (
            "location_estimate",
            f"location estimate, {ESTIMATE_POINTS} POIs",
            ("cold_location_estimate_p50_ms", "location_estimate_p50_ms"),
        ),
    ):
        cells = [
            engine["cold"][operation]["latency_ms"],
            engine["timed"][operation]["latency_ms"],
            cold_server["cold"][operation]["latency_ms"],
            warm_server["timed"][operation]["latency_ms"],
        ]
        table.add_row(
            f"{label} p50 / p99 ms",
            *(f"{c['p50']:.1f} / {c['p99']:.1f}" for c in cells),
            *met(*names),
        )
    slowest = [
        max(c["ms"] for c in way["first_touch_ms"].values())
        for way in (engine, cold_server, warm_server)
    ]
    table.add_row(
        "first touch, slowest ms",
        f"{slowest[0]:.1f}",
        "",
        f"{slowest[1]:.1f}",
        f"{slowest[2]:.1f}",
        "",
        "",
    )
    table.add_row(
        "server peak / end RSS GiB",
        "",
        "",
        f"{cold_server['server']['peak_rss_mib'] / 1024:.2f} /"
        f" {cold_server['server']['rss_at_end_mib'] / 1024:.2f}",
        f"{warm_server['server']['peak_rss_mib'] / 1024:.2f} /"
        f" {warm_server['server']['rss_at_end_mib'] / 1024:.2f}",
        *met("server_peak_rss_gib"),
    )
    oracle = results["oracle"]
    if "audiences" in oracle:
        table.add_row(
            f"oracle / engine, {len(oracle['audiences'])} audiences",
            "",
            "",
            "",
            ", ".join(f"{a['speedup']:,}x" for a in oracle["audiences"]),
            *met("oracle_speedup_audiences_min"),
        )
    else:
        table.add_row(
            f"oracle on {oracle['sample']['users']:,} users",
            "",
            "",
            "",
            f"{oracle['definitions_compared']} definitions, {len(oracle['mismatches'])} differ",
            "",
            "",
        )
    table.add_row(
        "sizes agree: engine, oracle, HTTP",
        "",
        "",
        "",
        "yes" if targets["sizes_agree"]["met"] else "NO",
        *met("sizes_agree"),
    )
    table.add_row("total run time", "", "", "", f"{report['durations_s']['total_s']:.0f} s", "", "")
    others = report["environment"]["interference"]["share_of_machine"]
    table.add_row(
        "CPU taken by other processes", "", "", "", f"{others:.0%} of the machine", "", ""
    )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    report = run_benchmark(partial(run, options), summary, options.out)
    if report is None:
        return 1
    if report["environment"]["source_changed_during_run"]:
        console.print(
            "[yellow]warning:[/yellow] src/ changed during the run; the `reach` processes ran"
            " the copy taken at the start"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
