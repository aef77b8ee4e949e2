"""Spark build benchmark: one store indexed by `reach index build` on Spark and on DuckDB.

Each build runs as a child process on its own hard-linked copy of a store written by
benchmarks/scale_data.py (the store itself is only read), one after the other:

    python -m benchmarks.spark_build --store DATA_DIR [--work DIR] [--master local[2]] \\
        [--spark-driver-memory 6g] [--shard-span N] [--out REPORT.json]

Measured for each: wall and CPU time of the whole process tree (the `reach` driver and the JVM
it starts), the rate the CLI reports, and the peak resident memory of the tree, sampled every
0.2 s from /proc (the sum over its processes; the driver's and the JVM's peaks apart). The
CLI's progress steps are timed as they appear, so a slow or failing build says where. Then the
two indexes are compared: the same shards, every bitmap family (days/ and blocks/ included)
with the same keys and bitmaps, the same location/ and identities/ arrays.

The CLI has no option for Spark settings: the driver's memory (and any --spark-conf) goes to a
``spark-defaults.conf`` in a folder of the work directory that SPARK_CONF_DIR names in the
child's environment (spark-submit reads it when pyspark starts the JVM).
"""

from __future__ import annotations

import argparse
import codecs
import ctypes
import filecmp
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import numpy as np
from rich.table import Table

# Run as a script (`python benchmarks/spark_build.py`), the repository root is not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    REACH,
    ROOT,
    console,
    git,
    machine_busy_seconds,
    machine_facts,
    run_benchmark,
)
from benchmarks.engine import (
    Work,
    fingerprint,
    manifest_files,
    mib,
    snapshot_source,
    store_plan,
    tree_bytes,
)
from reach.engine.bitmaps import Family
from reach.engine.index import current_build
from reach.engine.store import KINDS

DEFAULT_OUT = ROOT / "benchmarks" / "reports" / "spark-build.json"
ENGINES = ("duckdb", "spark")
SAMPLE_EVERY_S = 0.2
# After the driver exits, how long the processes it started (the JVM) may take to follow.
ORPHANS_GRACE_S = 120.0
TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
PR_SET_CHILD_SUBREAPER = 36
RATE = re.compile(r"([\d,]+) events in ([\d.]+) s \(([\d,]+) events/s\)")
BUILT = re.compile(r"Index (\S+) in service: .*?(\d+) shard\(s\)")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# A line of the CLI's progress display: a description, a bar, the elapsed time.
PROGRESS = re.compile(r"^(?P<step>.*?)[\s━╸╺╾╼─]*\b\d+:\d\d:\d\d\s*$")
PROBLEM = re.compile(r"OutOfMemory|Exception|Error|error:|Killed", re.IGNORECASE)
MAX_DIFFERENCES = 100
DESCRIPTION = (
    "`reach index build --engine spark --master MASTER` and `reach index build`"
    " (DuckDB) on hard-linked copies of one store of benchmarks/scale_data.py, one"
    " after the other, the store's files read once beforehand (a warm page cache for"
    " both). Each build is a child process in a session of its own; wall and CPU time"
    " are the whole tree's (wait4 of the driver and of the processes it left behind,"
    " this process being their subreaper), peak RSS the largest sum of VmRSS over the"
    " tree's processes sampled every 0.2 s (the JVM's and the driver's apart). Steps"
    " are the CLI's progress lines, timed when they appeared. The Spark settings go"
    " to a spark-defaults.conf named by SPARK_CONF_DIR. The indexes are then compared"
    " shard by shard: families (days/ and blocks/ included) key by key with"
    " reach.engine.bitmaps.Family, location/ and identities/ arrays with"
    " np.array_equal, other files byte for byte (JSON as data)."
    " The builder queries the next rule while it writes the atoms of one: a step `atoms X`"
    " lasts while X's bitmaps are written and the next rule is queried, and `relation"
    " in_market_hits` includes the query of the first rule."
)


# --- options --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    store: Path
    work: Path | None
    master: str
    shard_span: int | None
    out: Path
    driver_memory: str
    spark_conf: tuple[tuple[str, str], ...]
    timeout_s: float
    keep: bool


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=(
            "Build the index of a store written by benchmarks/scale_data.py with `reach index"
            " build` on Spark (local master) and on DuckDB, each on its own hard-linked copy"
            " of the store; measure both as process trees, then check the two indexes are the"
            " same; write a JSON report."
        )
    )
    parser.add_argument(
        "--store",
        type=Path,
        required=True,
        help="A data directory holding store/ (and scale_data.json): it is only read.",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help=(
            "Work directory (the two copies, their indexes, logs); its duckdb/ and spark/ are"
            " replaced. Kept. Default: a new temp dir, removed at the end unless --keep."
        ),
    )
    parser.add_argument("--master", default="local[2]", help="Spark master (default local[2]).")
    parser.add_argument(
        "--shard-span",
        type=int,
        default=None,
        help="Users per shard, passed to both builds (default: the CLI's own).",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Where the report goes.")
    parser.add_argument(
        "--spark-driver-memory",
        default="6g",
        help="spark.driver.memory (the JVM's heap; in local mode it runs the tasks too).",
    )
    parser.add_argument(
        "--spark-conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Another Spark setting for spark-defaults.conf (repeatable).",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="Seconds a build may take before it is stopped (and reported as such).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep a temp work directory.")
    args = parser.parse_args(argv)
    if not (args.store / "store" / "manifest.json").is_file():
        parser.error(f"--store {args.store}: no store/manifest.json there")
    conf = []
    for item in args.spark_conf:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            parser.error(f"--spark-conf {item!r}: expected KEY=VALUE")
        conf.append((key.strip(), value.strip()))
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return Options(
        store=args.store.resolve(),
        work=args.work.resolve() if args.work else None,
        master=args.master,
        shard_span=args.shard_span,
        out=args.out,
        driver_memory=args.spark_driver_memory,
        spark_conf=tuple(conf),
        timeout_s=args.timeout,
        keep=args.keep,
    )


# --- /proc ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    comm: str
    state: str
    session: int
    cpu_s: float  # user + system, its own threads only
    rss_kib: int


def read_proc(pid: int) -> Proc | None:
    """One process as /proc shows it now (None if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 of proc(5): state; session is 6, utime 14, stime 15, rss 24.
    return Proc(
        pid=pid,
        comm=comm,
        state=fields[0],
        session=int(fields[3]),
        cpu_s=(int(fields[11]) + int(fields[12])) / TICKS,
        rss_kib=int(fields[21]) * PAGE_KIB,
    )


def all_procs() -> Iterator[Proc]:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            found = read_proc(int(entry.name))
            if found is not None:
                yield found


def jvm_options(pid: int) -> list[str]:
    """The memory options on a JVM's command line (-Xmx...)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []
    return [a.decode() for a in argv if a.startswith((b"-Xmx", b"-Xms"))]


def cpu_of_others(session: int) -> dict[int, tuple[str, float]]:
    """CPU time so far of every process outside ``session`` and this one: name, seconds."""
    return {
        p.pid: (p.comm, p.cpu_s)
        for p in all_procs()
        if p.session != session and p.pid != os.getpid()
    }


def busiest(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> Any:
    """The other processes that took the most CPU between two snapshots (name, pid, seconds;
    a process that ended in between is missing)."""
    spent = [(after[pid][1] - before.get(pid, ("", 0.0))[1], pid, after[pid][0]) for pid in after]
    return [
        {"comm": comm, "pid": pid, "cpu_s": round(seconds, 1)}
        for seconds, pid, comm in sorted(spent, reverse=True)[:5]
        if seconds >= 0.5
    ]


def become_subreaper() -> bool:
    """Adopt the orphans of our children (the JVM, once its driver exits without waiting for
    it), so that their CPU time and exit are ours to collect."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


# --- the progress of a build ----------------------------------------------------------------


def progress_steps(segments: Sequence[str]) -> tuple[list[str], list[str]]:
    """The CLI's progress descriptions among ``segments`` (lines, or what a carriage return
    ends), each once when it changes, and the other (log) lines; ANSI codes removed."""
    steps: list[str] = []
    other: list[str] = []
    for segment in segments:
        text = ANSI.sub("", segment)
        found = PROGRESS.match(text)
        if found is None:
            if text.strip():
                other.append(text.rstrip())
        elif found["step"].strip() and (not steps or steps[-1] != found["step"].strip()):
            steps.append(found["step"].strip())
    return steps, other


class StderrWatch(threading.Thread):
    """Reads a child's stderr as it comes: copies it to a log, times each progress step."""

    def __init__(self, stream: IO[bytes], log: Path, started: float) -> None:
        super().__init__(daemon=True)
        self.stream, self.log, self.started = stream, log, started
        self.steps: list[tuple[float, str]] = []
        self.lines: list[str] = []
        self.problems: list[str] = []

    def run(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        with self.log.open("wb") as log:
            while chunk := os.read(self.stream.fileno(), 65536):
                log.write(chunk)
                segments = re.split(r"[\r\n]", pending + decoder.decode(chunk))
                pending = segments.pop()
                self._take(segments)
            self._take([pending + decoder.decode(b"", final=True)])

    def _take(self, segments: Sequence[str]) -> None:
        now = time.perf_counter() - self.started
        steps, other = progress_steps(segments)
        for step in steps:
            if not self.steps or self.steps[-1][1] != step:
                self.steps.append((now, step))
        self.lines = (self.lines + other)[-40:]
        self.problems.extend(line for line in other if PROBLEM.search(line))
        del self.problems[50:]

    def timeline(self, end_s: float) -> list[dict[str, Any]]:
        """Each step with its start and how long it lasted (until the next, or the end)."""
        ends = [at for at, _ in self.steps[1:]] + [end_s]
        return [
            {"step": step, "at_s": round(at, 1), "s": round(stop - at, 1)}
            for (at, step), stop in zip(self.steps, ends, strict=True)
        ]


# --- one build, measured --------------------------------------------------------------------


@dataclass
class Peaks:
    """Resident memory of a process tree, sampled: the largest sums seen, in KiB."""

    total: int = 0
    driver: int = 0
    jvm: int = 0
    samples: int = 0
    cpu: dict[int, tuple[str, float]] = field(default_factory=dict)
    jvm_options: dict[int, list[str]] = field(default_factory=dict)

    def sample(self, session: int) -> None:
        total = driver = jvm = 0
        for proc in all_procs():
            if proc.session != session:
                continue
            self.cpu[proc.pid] = (proc.comm, proc.cpu_s)
            if proc.state == "Z":
                continue
            total += proc.rss_kib
            if proc.pid == session:
                driver += proc.rss_kib
            elif proc.comm == "java":
                jvm += proc.rss_kib
                if proc.pid not in self.jvm_options:
                    self.jvm_options[proc.pid] = jvm_options(proc.pid)
        self.total = max(self.total, total)
        self.driver = max(self.driver, driver)
        self.jvm = max(self.jvm, jvm)
        self.samples += 1

    def sampled_cpu(self, session: int) -> dict[str, float]:
        """CPU time of the tree's processes by role, as last sampled (a lower bound)."""
        roles = {"driver": 0.0, "jvm": 0.0, "other": 0.0}
        for pid, (comm, seconds) in self.cpu.items():
            role = "driver" if pid == session else "jvm" if comm == "java" else "other"
            roles[role] += seconds
        return {role: round(seconds, 1) for role, seconds in roles.items()}


@dataclass
class Outcome:
    status: str  # ok, failed, timeout
    exit_code: int | None
    wall_s: float
    user_cpu_s: float
    system_cpu_s: float
    processes: int


def wait_tree(
    process: subprocess.Popen[bytes], peaks: Peaks, timeout_s: float, started: float
) -> Outcome:
    """Sample the tree until the driver and every process it left behind have exited; their
    CPU time comes from wait4 (the driver's includes what it waited for, the orphans' their
    own)."""
    session = process.pid
    user = system = 0.0
    reaped = 0
    status: int | None = None
    outcome = "ok"
    deadline = started + timeout_s
    while status is None:
        peaks.sample(session)
        pid, code, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            status = code
            user, system, reaped = usage.ru_utime, usage.ru_stime, 1
            break
        if time.perf_counter() > deadline:
            outcome = "timeout"
            stop_group(session)
        time.sleep(SAMPLE_EVERY_S)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    orphans_deadline = time.perf_counter() + ORPHANS_GRACE_S
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            user, system, reaped = user + usage.ru_utime, system + usage.ru_stime, reaped + 1
            continue
        if time.perf_counter() > orphans_deadline:
            stop_group(session)
        peaks.sample(session)
        time.sleep(SAMPLE_EVERY_S)
    if outcome == "ok" and process.returncode != 0:
        outcome = "failed"
    return Outcome(outcome, process.returncode, wall, user, system, reaped)


def stop_group(group: int) -> None:
    try:
        os.killpg(group, signal.SIGTERM)
        time.sleep(10)
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


def build_command(engine: str, options: Options) -> list[str]:
    args = ["index", "build"]
    if engine == "spark":
        args += ["--engine", "spark", "--master", options.master]
    if options.shard_span is not None:
        args += ["--shard-span", str(options.shard_span)]
    return args


def spark_defaults(options: Options) -> dict[str, str]:
    return {"spark.driver.memory": options.driver_memory} | dict(options.spark_conf)


def run_build(engine: str, options: Options, root: Path, env: dict[str, str]) -> dict[str, Any]:
    """One `reach index build` of the copy in ``root / engine``, measured."""
    data_dir = root / engine
    env = env | {"REACH_DATA_DIR": str(data_dir)}
    if engine == "spark":
        conf_dir = root / "spark-conf"
        conf_dir.mkdir(exist_ok=True)
        lines = [f"{key} {value}\n" for key, value in spark_defaults(options).items()]
        (conf_dir / "spark-defaults.conf").write_text("".join(lines), encoding="utf-8")
        env["SPARK_CONF_DIR"] = str(conf_dir)
    args = build_command(engine, options)
    console.log(f"{engine}: reach {' '.join(args)}")
    logs = root / "logs"
    others_before = cpu_of_others(-1)
    load_before = os.getloadavg()
    machine_before = machine_busy_seconds()
    peaks = Peaks()
    own_cpu_before = time.process_time()
    started = time.perf_counter()
    with (logs / f"{engine}.out").open("wb") as out:
        process = subprocess.Popen(
            [str(REACH), *args],
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert process.stderr is not None
        watch = StderrWatch(process.stderr, logs / f"{engine}.err", started)
        watch.start()
        try:
            outcome = wait_tree(process, peaks, options.timeout_s, started)
        except BaseException:
            stop_group(process.pid)
            raise
        watch.join(30)
    machine = machine_busy_seconds() - machine_before
    others = busiest(others_before, cpu_of_others(process.pid))
    cpu = outcome.user_cpu_s + outcome.system_cpu_s
    stdout = " ".join(ANSI.sub("", (logs / f"{engine}.out").read_text(errors="replace")).split())
    report: dict[str, Any] = {
        "command": f"reach {' '.join(args)}",
        "status": outcome.status,
        "exit_code": outcome.exit_code,
        "wall_s": round(outcome.wall_s, 1),
        "cpu_s": round(cpu, 1),
        "user_cpu_s": round(outcome.user_cpu_s, 1),
        "system_cpu_s": round(outcome.system_cpu_s, 1),
        "processes_collected": outcome.processes,
        "cpu_s_by_role_sampled": peaks.sampled_cpu(process.pid),
        "peak_rss_mib": round(peaks.total / 1024, 1),
        "driver_peak_rss_mib": round(peaks.driver / 1024, 1),
        "jvm_peak_rss_mib": round(peaks.jvm / 1024, 1),
        "rss_samples": peaks.samples,
        # This process, sampling /proc meanwhile (counted in machine_cpu_busy_s).
        "benchmark_process_cpu_s": round(time.process_time() - own_cpu_before, 1),
        "jvm_memory_options": sorted({o for opts in peaks.jvm_options.values() for o in opts}),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        # Everything the machine ran meanwhile: well above cpu_s means other load.
        "machine_cpu_busy_s": round(machine, 1),
        "other_processes_cpu_s": round(max(machine - cpu, 0.0), 1),
        "busiest_other_processes": others,
        "steps": watch.timeline(outcome.wall_s),
    }
    if engine == "spark":
        report["spark_defaults"] = spark_defaults(options)
    else:
        report["memory_limit"] = "4GB (the CLI's default)"
    rate, built = RATE.search(stdout), BUILT.search(stdout)
    if outcome.status == "ok" and rate is not None and built is not None:
        events = int(rate[1].replace(",", ""))
        build = current_build(data_dir)
        report |= {
            "build_id": built[1],
            "shards": int(built[2]),
            "events": events,
            "builder_reported_s": float(rate[2]),
            "events_per_s": int(rate[3].replace(",", "")),
            "events_per_wall_s": round(events / outcome.wall_s),
            "index_mib": mib(tree_bytes(build)) if build is not None else None,
        }
    else:
        report["stdout"] = stdout[-2000:]
        report["stderr_tail"] = watch.lines[-25:]
        report["stderr_problems"] = watch.problems
        if outcome.status == "ok":
            report["status"] = "unreadable"
    console.log(
        f"{engine}: {report['status']} in {report['wall_s']} s, {report['cpu_s']} s CPU,"
        f" peak {report['peak_rss_mib']} MiB"
    )
    return report


# --- the comparison -------------------------------------------------------------------------


@dataclass
class Comparison:
    """What two builds of the same store hold, compared; ``differences`` says what differs."""

    differences: list[str] = field(default_factory=list)
    shards: int = 0
    families: int = 0
    keys: int = 0
    members: int = 0
    families_byte_identical: int = 0
    arrays: int = 0
    other_files: int = 0
    total_differences: int = 0

    def differ(self, what: str) -> None:
        self.total_differences += 1
        if len(self.differences) < MAX_DIFFERENCES:
            self.differences.append(what)

    def report(self) -> dict[str, Any]:
        return {
            "identical": self.total_differences == 0,
            "shards": self.shards,
            "families": self.families,
            "families_byte_identical": self.families_byte_identical,
            "bitmaps": self.keys,
            "members": self.members,
            "arrays": self.arrays,
            "other_files": self.other_files,
            "differences": self.total_differences,
            "first_differences": self.differences,
        }


INDEX_FIELDS = ("format", "as_of", "windows", "shard_span", "shards", "days", "events")


def compare_builds(expected: Path, got: Path) -> Comparison:
    """``got`` (a build's folder) against ``expected``: shard by shard, family by family."""
    check = Comparison()
    meta = [json.loads((b / "index.json").read_text(encoding="utf-8")) for b in (expected, got)]
    for name in INDEX_FIELDS:
        if meta[0].get(name) != meta[1].get(name):
            check.differ(f"index.json: {name}")
    countries = "advertiser_countries.json"
    if (expected / countries).read_bytes() != (got / countries).read_bytes():
        check.differ(countries)
    shards = [sorted(p.name for p in (b / "shards").iterdir()) for b in (expected, got)]
    if shards[0] != shards[1]:
        check.differ(f"shards: {shards[0]} against {shards[1]}")
    for name in sorted(set(shards[0]) & set(shards[1])):
        check.shards += 1
        compare_shard(expected / "shards" / name, got / "shards" / name, f"shard {name}", check)
    return check


def compare_shard(expected: Path, got: Path, label: str, check: Comparison) -> None:
    files = [{str(p.relative_to(b)) for p in b.rglob("*") if p.is_file()} for b in (expected, got)]
    for name in sorted(files[0] ^ files[1]):
        check.differ(
            f"{label}: {name} only in the {'DuckDB' if name in files[0] else 'Spark'} build"
        )
    families = sorted(name[: -len(".bin")] for name in files[0] & files[1] if name.endswith(".bin"))
    for name in families:
        compare_family(expected / name, got / name, f"{label}: {name}", check)
    covered = {f"{name}{suffix}" for name in families for suffix in (".bin", ".json")}
    for name in sorted(files[0] & files[1] - covered):
        path = Path(name)
        if path.suffix == ".npy" and path.parts[0] in ("location", "identities"):
            check.arrays += 1
            wanted, found = np.load(expected / name), np.load(got / name)
            if wanted.dtype != found.dtype or not np.array_equal(wanted, found):
                check.differ(
                    f"{label}: {name}: {found.dtype}{found.shape} against"
                    f" {wanted.dtype}{wanted.shape}"
                    + ("" if wanted.dtype != found.dtype else ", other values")
                )
        else:
            check.other_files += 1
            if not same_file(expected / name, got / name):
                check.differ(f"{label}: {name} differs")


def same_file(expected: Path, got: Path) -> bool:
    if expected.suffix == ".json":
        return bool(json.loads(expected.read_bytes()) == json.loads(got.read_bytes()))
    return filecmp.cmp(expected, got, shallow=False)


def compare_family(expected: Path, got: Path, label: str, check: Comparison) -> None:
    check.families += 1
    if all(
        filecmp.cmp(f"{expected}{suffix}", f"{got}{suffix}", shallow=False)
        for suffix in (".json", ".bin")
    ):
        check.families_byte_identical += 1
    wanted, found = Family(expected), Family(got)
    keys = [set(wanted.entries()), set(found.entries())]
    for key in sorted(keys[0] ^ keys[1], key=repr)[:5]:
        check.differ(
            f"{label}: key {key!r} only in the {'DuckDB' if key in keys[0] else 'Spark'} build"
        )
    if keys[0] != keys[1]:
        check.differ(f"{label}: {len(keys[0] ^ keys[1])} keys in one build only")
    for key in sorted(keys[0] & keys[1], key=repr):
        check.keys += 1
        a, b = wanted.get(key), found.get(key)
        check.members += len(a)
        if a != b:
            check.differ(
                f"{label}: key {key!r}: {len(b)} members against {len(a)}, {len(a ^ b)} differ"
            )


# --- the run --------------------------------------------------------------------------------


def link_store(source: Path, data_dir: Path) -> None:
    """A fresh data directory whose store is a hard-linked copy of ``source`` (no index)."""
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    shutil.copytree(source, data_dir / "store", copy_function=os.link)


def warm_page_cache(root: Path) -> int:
    """Read every file under ``root`` once, so that neither build reads it from disk first."""
    total = 0
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 23):
                    total += len(chunk)
    return total


def child_env(source: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REACH_", "SPARK_CONF"))}
    path = os.pathsep.join(p for p in (str(source), env.get("PYTHONPATH")) if p)
    return env | {
        # Ahead of the editable install's path entry: both builds run the same code.
        "PYTHONPATH": path,
        "COLUMNS": "200",
        # The CLI's progress display, as on a terminal, so that each step shows as it starts.
        "TTY_COMPATIBLE": "1",
        "TTY_INTERACTIVE": "1",
        "NO_COLOR": "1",
    }


def store_facts(data_dir: Path) -> dict[str, Any]:
    """The store's name, size, rows by kind (its manifest) and plan (scale_data.json)."""
    store = data_dir / "store"
    entries = manifest_files(store / "manifest.json")
    try:
        plan: dict[str, Any] | None = store_plan(data_dir)
    except (OSError, ValueError, KeyError):
        plan = None
    return {
        "name": data_dir.name,
        "store_mib": mib(tree_bytes(store)),
        "rows": {k: sum(int(f["accepted"]) for f in entries if f["kind"] == k) for k in KINDS},
        "plan": plan,
    }


def run(options: Options, stack: ExitStack) -> dict[str, Any]:
    facts = machine_facts()
    total_started = time.perf_counter()
    load_before = os.getloadavg()
    subreaper = become_subreaper()
    if options.work is None:
        root = Path(tempfile.mkdtemp(prefix="reach-spark-build-"))
        if options.keep:
            stack.callback(console.log, f"work directory kept: {root}")
        else:
            stack.callback(shutil.rmtree, root, ignore_errors=True)
    else:
        root = options.work
        root.mkdir(parents=True, exist_ok=True)
    console.log(f"work directory: {root}")
    (root / "logs").mkdir(exist_ok=True)
    source_at_start = fingerprint(ROOT / "src")
    env = child_env(snapshot_source(Work(root, created=False)))
    for engine in ENGINES:
        link_store(options.store / "store", root / engine)
    mark = time.perf_counter()
    warmed = warm_page_cache(options.store / "store")
    durations = {"warm_page_cache_s": time.perf_counter() - mark}
    builds: dict[str, dict[str, Any]] = {}
    for engine in ENGINES:
        mark = time.perf_counter()
        builds[engine] = run_build(engine, options, root, env)
        durations[f"{engine}_s"] = time.perf_counter() - mark
    comparison: dict[str, Any]
    indexes = {engine: current_build(root / engine) for engine in ENGINES}
    if all(b["status"] == "ok" for b in builds.values()) and all(indexes.values()):
        console.log("comparing the two indexes")
        mark = time.perf_counter()
        duck, spark = indexes["duckdb"], indexes["spark"]
        assert duck is not None and spark is not None
        comparison = compare_builds(duck, spark).report()
        durations["compare_s"] = time.perf_counter() - mark
    else:
        comparison = {"identical": None, "skipped": "a build did not finish"}
    durations["total_s"] = time.perf_counter() - total_started
    return {
        "benchmark": "spark-build",
        "description": DESCRIPTION,
        "environment": facts
        | {
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit_at_end": git("rev-parse", "HEAD"),
            "source_fingerprint": source_at_start,
            "source_changed_during_run": fingerprint(ROOT / "src") != source_at_start,
            "memory_total_gib": round(
                os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
            ),
            "java": java_version(),
            "pyspark": pyspark_version(),
            "subreaper": subreaper,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "options": {
            "store": options.store.name,
            "master": options.master,
            "shard_span": options.shard_span,
            "spark_driver_memory": options.driver_memory,
            "spark_conf": dict(options.spark_conf),
            "timeout_s": options.timeout_s,
        },
        "store": store_facts(options.store) | {"read_into_page_cache_mib": mib(warmed)},
        "builds": builds,
        "comparison": comparison,
        "identical": comparison["identical"],
        "durations_s": {k: round(v, 1) for k, v in durations.items()},
    }


def java_version() -> str | None:
    try:
        done = subprocess.run(
            ["java", "-version"], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stderr.strip().splitlines()
    return lines[0] if lines else None


def pyspark_version() -> str | None:
    try:
        return metadata.version("pyspark")
    except metadata.PackageNotFoundError:
        return None


# --- the summary ----------------------------------------------------------------------------


def summary(report: dict[str, Any]) -> Table:
    table = Table(title=f"reach index build, {report['store']['name']}: Spark against DuckDB")
    table.add_column("")
    for engine in ENGINES:
        table.add_column(engine, justify="right")
    rows = (
        ("status", "status"),
        ("wall s", "wall_s"),
        ("CPU s", "cpu_s"),
        ("events/s (CLI)", "events_per_s"),
        ("peak RSS MiB (tree)", "peak_rss_mib"),
        ("  driver", "driver_peak_rss_mib"),
        ("  JVM", "jvm_peak_rss_mib"),
        ("other processes CPU s", "other_processes_cpu_s"),
    )
    for label, key in rows:
        values = [report["builds"][engine].get(key) for engine in ENGINES]
        table.add_row(label, *(f"{v:,}" if isinstance(v, int | float) else str(v) for v in values))
    comparison = report["comparison"]
    table.caption = f"identical: {comparison['identical']}" + (
        f" ({comparison['families']:,} families, {comparison['bitmaps']:,} bitmaps,"
        f" {comparison['arrays']} arrays; {comparison['differences']} differences)"
        if "families" in comparison
        else ""
    )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    report = run_benchmark(partial(run, options), summary, options.out)
    if report is None:
        return 1
    if report["identical"] is not True:
        console.print("[red]the builds are not identical (or did not finish): see the report[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
