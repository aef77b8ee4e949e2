"""Contact-list benchmark: a million e-mails uploaded over HTTP to one list of one `reach serve`,
then matched against the identity graph of ten million users; write a JSON report."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

# Run as a script (`python benchmarks/contact_list.py`), the repository root is not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    HOST,
    REACH,
    ROOT,
    BenchmarkError,
    Http,
    Reply,
    Server,
    add_advertisers,
    console,
    cpu_seconds,
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
from reach.engine.index import current_build

DEFAULT_OUT = ROOT / "benchmarks" / "reports" / "contact-list.json"
SEGMENTS = "/2025-01/marketing-solutions/audience-segments"
ADVERTISER_ID = 1001  # the demo data's first advertiser
# The inputs the identity graph needs: users (their ordinals) and identities; an index build
# also wants some event data, so the first pings file (a slice of the users) is ingested too.
INGESTED = ("users", "identities", "pings-00000")
TARGETS: dict[str, tuple[str, float]] = {
    "end_to_end_s": ("<=", 10.0),
    "server_compute_s": ("<=", 2.0),
    "server_peak_rss_mib": ("<", 1024.0),
}
MEMORY_FIELDS = ("VmRSS", "RssAnon", "RssFile")
# Sizes below this are answered as null (set explicitly, so the expectation knows it).
MIN_REPORTED_SIZE = 100
HEX64 = re.compile(r"[0-9a-fA-F]{64}")

# What the upload is made of, as shares of the identifiers sent: mostly addresses the identity
# graph knows (``user{N}@example.com`` of users who have that e-mail), some of them written
# with other case and spaces, some sent as SHA-256 digests, some sent twice; addresses the
# graph does not know; and a few that are no address at all.
MIX = {
    "known": 0.60,
    "known_restyled": 0.07,
    "known_digest": 0.03,
    "repeated": 0.02,
    "unknown": 0.245,
    "invalid": 0.035,
}
KNOWN_KINDS = ("known", "known_restyled", "known_digest")
# How the unknown addresses split (in this order; the remainder goes to the last).
UNKNOWN_SPLIT = {
    "example_without_email": 0.40,  # user{N}@example.com of a user who has no e-mail identity
    "example_beyond_users": 0.10,  # user{N}@example.com, N above the population
    "international": 0.01,  # non-ASCII local part: the server's slow (email-validator) path
    "digest": 0.01,  # a SHA-256 nobody has
    "named": 0.48,  # first.last{k}@provider, some with +tags
}
FIRST_NAMES = ("marie", "jean", "lena", "paul", "sofia", "lucas", "emma", "noah", "chloe", "hugo")
LAST_NAMES = ("martin", "dubois", "schmidt", "rossi", "garcia", "smith", "silva", "kowalski")
PROVIDERS = ("gmail.com", "yahoo.fr", "outlook.com", "gmx.de", "orange.fr", "icloud.com")
INTERNATIONAL = ("jörg.müller{k}@gmx.de", "josé.garcía{k}@correo.es", "zoë.brontë{k}@yahoo.co.uk")
# Never valid: no @, nothing after or before it, a space, two @, no dot in the domain, two
# dots, a truncated digest, and the junk CRM exports carry.
INVALID = (
    "user{k}example.com",
    "user{k}@",
    "@example{k}.com",
    "user {k}@example.com",
    "user{k}@@example.com",
    "user{k}@example",
    "user{k}..x@example.com",
    "{truncated}",
    "n/a",
    "",
)


def _upper(address: str) -> str:
    return address.upper()


def _capitalized(address: str) -> str:
    return address.capitalize()


def _leading_spaces(address: str) -> str:
    return f"  {address}"


def _trailing_tab(address: str) -> str:
    return f"{address}\t"


def _titled_padded(address: str) -> str:
    return f" {address.title()} "


# Other ways of writing the same address: they must give the same key.
RESTYLES: tuple[Callable[[str], str], ...] = (
    _upper,
    _capitalized,
    _leading_spaces,
    _trailing_tab,
    _titled_padded,
)

# --- options --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    users: int
    identifiers: int
    batch: int
    seed: int
    work: Path | None
    keep: bool
    out: Path
    profile: Path | None
    quick: bool


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=(
            "Build an index whose identity graph covers --users users (`reach demo-data`,"
            " `reach ingest`, `reach index build`), start one `reach serve`, upload"
            " --identifiers e-mails to one ContactList segment in PATCH calls of --batch, read"
            " its statistics and size, and write a JSON report."
        )
    )
    parser.add_argument("--users", type=int, default=10_000_000, help="Users of the data set.")
    parser.add_argument(
        "--identifiers", type=int, default=1_000_000, help="E-mail identifiers uploaded."
    )
    parser.add_argument(
        "--batch", type=int, default=50_000, help="Identifiers per PATCH (at most 50,000)."
    )
    parser.add_argument("--seed", type=int, default=42, help="Seed of the data and the upload.")
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help=(
            "Work directory: the generated data, store and index stay there and are reused by"
            " the next run with the same --users and --seed; the run's own files (metadata"
            " database, list files, logs) are removed unless --keep. Default: a temp dir under"
            " /tmp, removed unless --keep."
        ),
    )
    parser.add_argument("--keep", action="store_true", help="Keep everything at the end.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Where the report goes.")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help=(
            "Record the server with py-spy from the first PATCH to the size (FILE.svg:"
            " flame graph, FILE.json: speedscope, else collapsed stacks); timings are then"
            " perturbed and the report says so."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Smoke run: 200,000 users, 100,000 identifiers in 20 calls of 5,000.",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.identifiers, args.batch = 200_000, 100_000, 5_000
    for name in ("users", "identifiers", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.batch > 50_000:
        parser.error("--batch must be at most 50,000 (the API's limit per call)")
    if args.seed < 0:
        parser.error("--seed must not be negative")
    if args.profile is not None and find_py_spy() is None:
        parser.error("--profile needs py-spy (`.venv/bin/pip install py-spy`)")
    return Options(
        users=args.users,
        identifiers=args.identifiers,
        batch=args.batch,
        seed=args.seed,
        work=args.work.resolve() if args.work else None,
        keep=args.keep,
        out=args.out,
        profile=args.profile.resolve() if args.profile else None,
        quick=args.quick,
    )


def find_py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


# --- the work directory ---------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    root: Path
    temporary: bool  # made by this run: removed whole at the end (unless --keep)

    @property
    def data(self) -> Path:
        """What `reach demo-data` wrote."""
        return self.root / "data"

    @property
    def reach(self) -> Path:
        """REACH_DATA_DIR: store and index (kept as a cache), metadata database and lists."""
        return self.root / "reach"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    def state(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return {}
        state: dict[str, Any] = json.loads(self.state_path.read_text(encoding="utf-8"))
        return state

    def save_state(self, state: dict[str, Any]) -> None:
        self.state_path.write_text(json.dumps(state, indent=1), encoding="utf-8")

    def forget_run(self) -> None:
        """Remove what one run makes: the metadata database, the lists and the logs."""
        for path in self.reach.glob("reach.db*"):
            path.unlink()
        shutil.rmtree(self.reach / "lists", ignore_errors=True)
        shutil.rmtree(self.logs, ignore_errors=True)

    def clean(self) -> None:
        if self.temporary:
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            self.forget_run()


def open_work(options: Options) -> Work:
    if options.work is None:
        return Work(Path(tempfile.mkdtemp(prefix="reach-contact-list-bench-")), temporary=True)
    options.work.mkdir(parents=True, exist_ok=True)
    return Work(options.work, temporary=False)


def tree_mib(root: Path) -> float:
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0
    return round(size / 2**20, 1)


# --- `reach` commands that take long ---------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Wall time, CPU time and peak RSS (from wait4) of one finished `reach` command."""

    command: str
    wall_s: float
    cpu_s: float
    peak_rss_mib: float

    def report(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
        }


def run_step(env: dict[str, str], logs: Path, label: str, *args: str) -> Step:
    """Run a `reach` command to its end (no time limit, unlike common.run_cli)."""
    shown = " ".join(["reach", *args])
    err_path = logs / f"{label}.err"
    with (logs / f"{label}.out").open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(REACH), *args], env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )
        try:
            # wait4, not Popen.wait: it also gives the command's CPU time and peak RSS.
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = "\n".join(err_path.read_text(errors="replace").splitlines()[-15:])
        raise BenchmarkError(f"{shown} failed ({code}):\n{tail}")
    return Step(shown, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def steps_progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def prepare_data(options: Options, work: Work, env: dict[str, str]) -> dict[str, Any]:
    """Generate the data and build the index, or reuse those of an earlier run."""
    params = {"users": options.users, "seed": options.seed}
    state = work.state()
    identities = work.data / "identities.parquet"
    generated = state.get("generated", {})
    indexed = state.get("indexed", {})
    regenerate = generated.get("params") != params or not identities.exists()
    reindex = regenerate or indexed.get("params") != params or current_build(work.reach) is None
    work.logs.mkdir(parents=True, exist_ok=True)
    todo: list[tuple[str, list[str]]] = []
    if regenerate:
        # The data ends yesterday (UTC): nothing lies in the future of the server's clock.
        end = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        shutil.rmtree(work.data, ignore_errors=True)
        generated = {"params": params, "end_date": end}
        todo.append(
            (
                "generate",
                [
                    "demo-data",
                    *("--users", str(options.users), "--days", "1", "--advertisers", "1"),
                    *("--seed", str(options.seed), "--out", str(work.data), "--end-date", end),
                ],
            )
        )
    if reindex:
        for stale in ("store", "index"):
            shutil.rmtree(work.reach / stale, ignore_errors=True)
        indexed = {"params": params}
        todo.append(("db-upgrade", ["db", "upgrade"]))
        for name in INGESTED:
            kind = name.split("-")[0]
            todo.append((f"ingest-{name}", ["ingest", kind, str(work.data / f"{name}.parquet")]))
        todo.append(("index-build", ["index", "build"]))
    if todo:
        if regenerate:
            state.pop("generated", None)
        if reindex:
            state.pop("indexed", None)
        work.save_state(state)
        with steps_progress() as progress:
            task = progress.add_task("prepare", total=len(todo))
            for label, args in todo:
                progress.update(task, description=f"reach {' '.join(args[:2])}")
                step = run_step(env, work.logs, label, *args).report()
                progress.advance(task)
                # Each stage is recorded as done once it is whole, so that a failed or
                # interrupted run is taken up again where it stopped.
                if label == "generate":
                    state["generated"] = generated | {"steps": {label: step}}
                    work.save_state(state)
                else:
                    indexed.setdefault("steps", {})[label] = step
            if reindex:
                state["indexed"] = indexed
                work.save_state(state)
        generated = state["generated"]
    else:
        console.log(f"prepare: reusing the data and the index in {work.root}")
    build = current_build(work.reach)
    if build is None:
        raise BenchmarkError("`reach index build` published no index")
    return {
        "reused_data": not regenerate,
        "reused_index": not reindex,
        "end_date": generated["end_date"],
        # As measured when they were made (maybe by an earlier run: see reused_*).
        "steps": generated.get("steps", {}) | indexed.get("steps", {}),
        "build": build,
    }


def data_facts(work: Work, build: Path) -> dict[str, Any]:
    identities = work.data / "identities.parquet"
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT identifier_type, count(*), count(DISTINCT user_id) FROM read_parquet(?)"
            " GROUP BY 1 ORDER BY 1",
            [str(identities)],
        ).fetchall()
        users_row = con.execute(
            "SELECT count(*) FROM read_parquet(?)", [str(work.data / "users.parquet")]
        ).fetchone()
    manifest = json.loads((work.reach / "store" / "manifest.json").read_text(encoding="utf-8"))
    keys = np.load(build / "identities" / "keys.npy", mmap_mode="r")
    return {
        "users": int(users_row[0]) if users_row else 0,
        "identities_by_type": {str(t): {"rows": int(n), "users": int(u)} for t, n, u in rows},
        "ingested": {
            f["source"].rsplit("/", 1)[-1]: {"accepted": f["accepted"], "rejected": f["rejected"]}
            for f in manifest["files"]
        },
        "identity_graph_keys": len(keys),
        "index_identities_mib": tree_mib(build / "identities"),
        "index_mib": tree_mib(build),
        "store_mib": tree_mib(work.reach / "store"),
        "generated_mib": tree_mib(work.data),
    }


def warm_page_cache(folder: Path) -> float:
    """Read the index's identity arrays once in this process, so that they sit in the page
    cache as on a server that has been serving (the server itself maps them on first use)."""
    total = 0
    for path in sorted(folder.glob("*.npy")):
        with path.open("rb") as handle:
            while chunk := handle.read(16 * 2**20):
                total += len(chunk)
    return round(total / 2**20, 1)


# --- the upload -----------------------------------------------------------------------------


@dataclass
class Upload:
    """The identifiers to send, in order, and what the server must make of each."""

    texts: list[str]
    kinds: list[str]
    # The SHA-256 (hex) the documented normalisation gives: trimmed, lower-cased, hashed (or a
    # digest taken as such); None for an identifier that is no address.
    digests: list[str | None]
    unknown_split: dict[str, int] = field(default_factory=dict)


def shares(total: int, split: dict[str, float]) -> dict[str, int]:
    """``total`` dealt out by ``split``; rounding goes to the first kind."""
    counts = {kind: int(total * share) for kind, share in split.items()}
    first = next(iter(counts))
    counts[first] += total - sum(counts.values())
    return counts


def users_with_email(con: duckdb.DuckDBPyConnection, identities: Path) -> np.ndarray[Any, Any]:
    """N of the users ``u{N}`` who have an e-mail identity (the demo data gives them the hashed
    ``user{N}@example.com``; the expected counts do not rely on it, they hash and join)."""
    table = con.sql(
        "SELECT DISTINCT CAST(substr(user_id, 2) AS BIGINT) AS n FROM read_parquet(?)"
        " WHERE identifier_type = 'email' AND regexp_full_match(user_id, 'u[0-9]+') ORDER BY n",
        params=[str(identities)],
    ).to_arrow_table()
    numbers: np.ndarray[Any, Any] = table["n"].to_numpy()
    return numbers


def plan_upload(options: Options, identities: Path) -> Upload:
    rng = np.random.Generator(np.random.PCG64([options.seed, 7]))
    counts = shares(options.identifiers, MIX)
    unknown = shares(counts["unknown"], UNKNOWN_SPLIT)
    with duckdb.connect() as con:
        with_email = users_with_email(con, identities)
    known_needed = sum(counts[k] for k in KNOWN_KINDS)
    without_email = np.setdiff1d(
        np.arange(1, options.users + 1, dtype=np.int64), with_email, assume_unique=True
    )
    if len(with_email) < known_needed or len(without_email) < unknown["example_without_email"]:
        raise BenchmarkError(
            f"{options.users:,} users are too few for {options.identifiers:,} identifiers:"
            f" {known_needed:,} known addresses are needed, {len(with_email):,} users have one"
        )
    texts: list[str] = []
    kinds: list[str] = []

    def add(kind: str, values: Iterator[str] | list[str]) -> None:
        for value in values:
            texts.append(value)
            kinds.append(kind)

    known = rng.choice(with_email, known_needed, replace=False).tolist()
    plain, restyled, hashed = (
        known[: counts["known"]],
        known[counts["known"] : counts["known"] + counts["known_restyled"]],
        known[counts["known"] + counts["known_restyled"] :],
    )
    styles = rng.integers(0, len(RESTYLES), len(restyled)).tolist()
    add("known", (f"user{n}@example.com" for n in plain))
    add(
        "known_restyled",
        (RESTYLES[s](f"user{n}@example.com") for n, s in zip(restyled, styles, strict=True)),
    )
    upper = (rng.random(len(hashed)) < 0.3).tolist()
    add(
        "known_digest",
        (
            (d.upper() if u else d)
            for d, u in zip(
                (hashlib.sha256(f"user{n}@example.com".encode()).hexdigest() for n in hashed),
                upper,
                strict=True,
            )
        ),
    )
    outsiders = rng.choice(without_email, unknown["example_without_email"], replace=False)
    add("unknown", (f"user{n}@example.com" for n in outsiders.tolist()))
    beyond = options.users + 1 + np.arange(unknown["example_beyond_users"])
    add("unknown", (f"user{n}@example.com" for n in beyond.tolist()))
    add(
        "unknown",
        (
            INTERNATIONAL[k % len(INTERNATIONAL)].format(k=k)
            for k in range(unknown["international"])
        ),
    )
    add("unknown", (rng.bytes(32).hex() for _ in range(unknown["digest"])))
    first = rng.integers(0, len(FIRST_NAMES), unknown["named"]).tolist()
    last = rng.integers(0, len(LAST_NAMES), unknown["named"]).tolist()
    provider = rng.integers(0, len(PROVIDERS), unknown["named"]).tolist()
    style = rng.integers(0, 4, unknown["named"]).tolist()
    named = []
    for k in range(unknown["named"]):
        local = f"{FIRST_NAMES[first[k]]}.{LAST_NAMES[last[k]]}{k}"
        if style[k] == 1:
            local += "+news"
        address = f"{local}@{PROVIDERS[provider[k]]}"
        named.append(address.title() if style[k] == 2 else address)
    add("unknown", named)
    # Identifiers already in the upload, sent again in another form (the key stays the same).
    again = rng.integers(0, len(texts), counts["repeated"]).tolist()
    again_styles = rng.integers(0, len(RESTYLES), len(again)).tolist()
    add(
        "repeated",
        [RESTYLES[s](texts[i].strip().lower()) for i, s in zip(again, again_styles, strict=True)],
    )
    add(
        "invalid",
        (
            INVALID[k % len(INVALID)].format(
                k=k, truncated=hashlib.sha256(f"junk{k}".encode()).hexdigest()[:63]
            )
            for k in range(counts["invalid"])
        ),
    )
    order = rng.permutation(len(texts)).tolist()
    texts = [texts[i] for i in order]
    kinds = [kinds[i] for i in order]
    digests = [expected_digest(t, k) for t, k in zip(texts, kinds, strict=True)]
    return Upload(texts, kinds, digests, unknown)


def expected_digest(text: str, kind: str) -> str | None:
    """The key a sent identifier must get, by the documented rule (docs/contact-lists.md)."""
    if kind == "invalid":
        return None
    value = text.strip()
    if HEX64.fullmatch(value):
        return value.lower()
    return hashlib.sha256(value.lower().encode("utf-8")).hexdigest()


def expectations(upload: Upload, identities: Path, min_reported_size: int) -> dict[str, Any]:
    """What the statistics and the size must say, computed here from the identities file
    (DuckDB over the Parquet the index was built from), not by the server's code."""
    distinct = {d for d in upload.digests if d is not None}
    sent = pa.table({"digest": pa.array(sorted(distinct), pa.string())})
    with duckdb.connect() as con:
        con.register("sent", sent)
        row = con.execute(
            "SELECT count(DISTINCT i.digest), count(DISTINCT i.user_id)"
            " FROM read_parquet(?) AS i SEMI JOIN sent USING (digest)"
            " WHERE i.identifier_type = 'email'",
            [str(identities)],
        ).fetchone()
    matches, users = (int(row[0]), int(row[1])) if row else (0, 0)
    invalid = sum(d is None for d in upload.digests)
    designed = {d for d, k in zip(upload.digests, upload.kinds, strict=True) if k in KNOWN_KINDS}
    return {
        "nbValidIdentifiers": len(upload.digests) - invalid,
        "nbInvalidIdentifiers": invalid,
        "numberOfIdentifiers": len(distinct),
        "numberOfMatches": matches,
        "matchRate": round(matches / len(distinct), 4) if distinct else 0.0,
        "size": users if users >= min_reported_size else None,
        # The upload was built so that these match: equal to numberOfMatches when the demo
        # data's identities are what its generator says.
        "designed_known_addresses": len(designed),
    }


# --- measuring the server -------------------------------------------------------------------


def status_kib(pid: int, names: Sequence[str]) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in names:
            values[key] = int(rest.split()[0])
    return values


class MemoryWatch:
    """Samples the server's resident memory every ``interval`` s in a thread. The kernel keeps
    the peak of the total only (VmHWM); the samples split it into anonymous memory and pages of
    mapped files (the index's identity arrays are memory-mapped: those pages are page cache the
    kernel can drop, unlike anonymous memory)."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self._peaks: dict[str, int] = dict.fromkeys(MEMORY_FIELDS, 0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-watch", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                sample = status_kib(self.pid, MEMORY_FIELDS)
            except OSError:
                return
            with self._lock:
                for name, value in sample.items():
                    self._peaks[name] = max(self._peaks[name], value)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def take(self) -> dict[str, float]:
        """Peaks since the last call, in MiB (and starts over)."""
        now = status_kib(self.pid, MEMORY_FIELDS)
        with self._lock:
            peaks = {n: max(v, now[n]) for n, v in self._peaks.items()}
            self._peaks = dict(now)
        return {f"peak_{n}_mib": round(v / 1024, 1) for n, v in peaks.items()}


@dataclass(frozen=True)
class Call:
    """One timed request: client wall time and the server's CPU time meanwhile."""

    reply: Reply
    server_cpu_s: float


def call(
    http: Http, server: Server, method: str, path: str, token: str, body: bytes | None = None
) -> Call:
    # Requests go one at a time and the server is idle in between: its CPU time over the
    # request is what the request cost it (all threads; /proc counts in 10 ms ticks).
    before = cpu_seconds(server.pid)
    reply = http.request(method, path, body, json_headers(token))
    spent = cpu_seconds(server.pid) - before
    if reply.status != 200:
        raise BenchmarkError(f"{method} {path}: {reply.status} {reply.body[:500]!r}")
    return Call(reply, spent)


class Profiler:
    """py-spy attached to the server, from start() to stop()."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        kind = {".svg": "flamegraph", ".json": "speedscope"}.get(out.suffix, "raw")
        out.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                str(find_py_spy()),
                *("record", "--pid", str(pid), "--rate", "200", "--nonblocking"),
                *("--format", kind, "--output", str(out)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # py-spy attaches before the first request

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        console.log(f"profile written to {self.out}")


def patch_body(identifiers: list[str]) -> bytes:
    attributes = {"operation": "add", "identifierType": "email", "identifiers": identifiers}
    return orjson.dumps({"data": {"type": "ContactlistAmendment", "attributes": attributes}})


def create_segment(http: Http, token: str, name: str) -> str:
    item = {
        "type": "AudienceSegment",
        "attributes": {"advertiserId": str(ADVERTISER_ID), "name": name, "contactList": {}},
    }
    reply = http.request(
        "POST", f"{SEGMENTS}/create", orjson.dumps({"data": [item]}), json_headers(token)
    )
    answer = reply.json() if reply.status == 200 else {}
    if reply.status != 200 or answer.get("errors"):
        raise BenchmarkError(f"segment create failed: {reply.status} {reply.body[:500]!r}")
    segment_id: str = answer["data"][0]["id"]
    return segment_id


def warm_up(http: Http, server: Server, token: str) -> dict[str, float]:
    """Untimed: one small list walks every code path once (imports, validators, the index)."""
    segment_id = create_segment(http, token, "warm-up")
    path = f"{SEGMENTS}/{segment_id}/contact-list"
    identifiers = [f"user{n}@example.com" for n in range(1, 1001)] + [" X@Y.org", "bad"]
    patch = call(http, server, "PATCH", path, token, patch_body(identifiers))
    stats = call(http, server, "GET", f"{path}/statistics", token)
    return {"patch_s": round(patch.reply.seconds, 4), "statistics_s": round(stats.reply.seconds, 4)}


def measure(
    http: Http, server: Server, token: str, upload: Upload, options: Options
) -> dict[str, Any]:
    segment_id = create_segment(http, token, "benchmark list")
    path = f"{SEGMENTS}/{segment_id}/contact-list"
    watch = MemoryWatch(server.pid)
    watch.start()
    memory: dict[str, dict[str, float]] = {"before": watch.take()}
    profiler = Profiler(server.pid, options.profile) if options.profile else None
    latencies: list[float] = []
    server_cpu: list[float] = []
    serialise_s = 0.0
    body_bytes = 0
    valid = invalid = 0
    warnings: Counter[str] = Counter()
    batches = range(0, len(upload.texts), options.batch)
    progress = Progress(
        TextColumn("upload"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        auto_refresh=False,  # no refresh thread competing with the timed calls
    )
    with progress:
        task = progress.add_task("upload", total=len(upload.texts))
        machine_before = machine_busy_seconds()
        client_before = time.process_time()
        started = time.perf_counter()
        for start in batches:
            chunk = upload.texts[start : start + options.batch]
            mark = time.perf_counter()
            body = patch_body(chunk)
            serialise_s += time.perf_counter() - mark
            body_bytes += len(body)
            done = call(http, server, "PATCH", path, token, body)
            receipt = done.reply.json()
            valid += receipt["data"]["attributes"]["nbValidIdentifiers"]
            invalid += receipt["data"]["attributes"]["nbInvalidIdentifiers"]
            warnings.update(w["code"] for w in receipt.get("warnings", []))
            latencies.append(done.reply.seconds)
            server_cpu.append(done.server_cpu_s)
            progress.advance(task, len(chunk))
            progress.refresh()
        upload_s = time.perf_counter() - started
        memory["upload"] = watch.take()
        stats = call(http, server, "GET", f"{path}/statistics", token)
        end_to_end = time.perf_counter() - started
        client_cpu = time.process_time() - client_before
        machine_cpu = machine_busy_seconds() - machine_before
    memory["statistics"] = watch.take()
    again = call(http, server, "GET", f"{path}/statistics", token)
    sizes = call(
        http,
        server,
        "POST",
        f"{SEGMENTS}/compute-sizes",
        token,
        orjson.dumps({"data": [{"id": segment_id, "type": "AudienceSegment"}]}),
    )
    memory["statistics_again_and_size"] = watch.take()
    if profiler is not None:
        profiler.stop()
    watch.stop()
    attributes = stats.reply.json()["data"]["attributes"]
    sized = sizes.reply.json()
    patch_cpu = sum(server_cpu)
    return {
        "segment_id": segment_id,
        "patch": {
            "calls": len(latencies),
            "identifiers_per_call": options.batch,
            "body_mib_total": round(body_bytes / 2**20, 1),
            "latency_s": distribution(latencies, 4),
            "latency_s_each": [round(s, 4) for s in latencies],
            "server_cpu_s": distribution(server_cpu, 3),
            "server_cpu_s_each": [round(s, 3) for s in server_cpu],
            "server_cpu_s_total": round(patch_cpu, 3),
            "wall_s_total": round(sum(latencies), 3),
            "client_serialise_s_total": round(serialise_s, 4),
            "upload_wall_s": round(upload_s, 3),
            "identifiers_per_s_upload": round(len(upload.texts) / upload_s),
            "answers": {
                "nbValidIdentifiers": valid,
                "nbInvalidIdentifiers": invalid,
                "warnings": dict(warnings),
            },
        },
        "statistics": {
            "latency_s": round(stats.reply.seconds, 4),
            "server_cpu_s": round(stats.server_cpu_s, 3),
            "again_latency_s": round(again.reply.seconds, 4),
            "again_server_cpu_s": round(again.server_cpu_s, 3),
            "answer": attributes,
        },
        "compute_sizes": {
            "latency_s": round(sizes.reply.seconds, 4),
            "server_cpu_s": round(sizes.server_cpu_s, 3),
            "size": sized["data"][0]["attributes"]["size"] if sized["data"] else None,
            "errors": sized.get("errors", []),
            "warnings": [w.get("code") for w in sized.get("warnings", [])],
        },
        "end_to_end": {
            "wall_s": round(end_to_end, 3),
            "identifiers_per_s": round(len(upload.texts) / end_to_end),
            "server_cpu_s": round(patch_cpu + stats.server_cpu_s, 3),
            "client_cpu_s": round(client_cpu, 3),
            # Everything the machine ran meanwhile: well above server + client CPU means that
            # other load ran during the measurement.
            "machine_cpu_busy_s": round(machine_cpu, 3),
        },
        "memory_mib": memory,
        "profiled": options.profile is not None,
    }


def agreement(measured: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    answers = measured["patch"]["answers"]
    stats = measured["statistics"]["answer"]
    server = {
        "nbValidIdentifiers": answers["nbValidIdentifiers"],
        "nbInvalidIdentifiers": answers["nbInvalidIdentifiers"],
        "numberOfIdentifiers": stats.get("numberOfIdentifiers"),
        "numberOfMatches": stats.get("numberOfMatches"),
        "matchRate": stats.get("matchRate"),
        "size": measured["compute_sizes"]["size"],
    }
    checks = {
        name: {"server": value, "expected": expected[name], "equal": value == expected[name]}
        for name, value in server.items()
    }
    return {"exact": all(c["equal"] for c in checks.values()), "checks": checks}


# --- the run --------------------------------------------------------------------------------


def judge(values: dict[str, float]) -> dict[str, dict[str, Any]]:
    verdicts: dict[str, dict[str, Any]] = {}
    for name, (op, target) in TARGETS.items():
        value = values[name]
        met = value <= target if op == "<=" else value < target
        verdicts[name] = {"target": f"{op} {target:g}", "value": value, "met": met}
    return verdicts


def source_fingerprint() -> str:
    """SHA-256 of the server's source as it was run (the working tree may differ from HEAD)."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "reach").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run(options: Options, stack: ExitStack) -> dict[str, Any]:
    total_started = time.perf_counter()
    load_before = os.getloadavg()
    facts = machine_facts() | {
        "source_sha256": source_fingerprint(),
        "changed_files": (git("status", "--porcelain") or "").splitlines(),
    }
    work = open_work(options)
    if options.keep:
        stack.callback(console.log, f"work directory kept: {work.root}")
    else:
        stack.callback(work.clean)
    console.log(f"work directory: {work.root}")
    work.forget_run()  # a kept earlier run's database and lists
    durations: dict[str, float] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("REACH_")}
    env |= {
        "REACH_DATA_DIR": str(work.reach),
        "REACH_SECRET_KEY": secrets.token_urlsafe(48),
        "REACH_RATE_LIMIT_PER_MINUTE": "0",
        "REACH_MAX_CONTACT_LIST_IDENTIFIERS": str(options.batch),
        "REACH_MIN_REPORTED_SIZE": str(MIN_REPORTED_SIZE),
        # Statistics and sizes are checked against an independent count: exact (docs/privacy.md).
        "REACH_SIZE_PRIVACY": "exact",
    }

    mark = time.perf_counter()
    prepared = prepare_data(options, work, env)
    build: Path = prepared.pop("build")
    durations["prepare_s"] = time.perf_counter() - mark
    facts_of_data = data_facts(work, build)
    identities = work.data / "identities.parquet"

    mark = time.perf_counter()
    with console.status(f"plan: {options.identifiers:,} e-mails and their expected keys"):
        upload = plan_upload(options, identities)
        expected = expectations(upload, identities, MIN_REPORTED_SIZE)
    durations["plan_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    run_cli(env, "db", "upgrade")
    add_advertisers(env, [ADVERTISER_ID], work.logs)
    credentials = json.loads(
        run_cli(env, "clients", "create", "--name", "bench", "--advertiser", str(ADVERTISER_ID))
    )
    warmed = warm_page_cache(build / "identities")
    server = start_server(env, work.logs / "server.log", stack)
    http = Http(server.port)
    stack.callback(http.close)
    token = get_token(http, credentials["client_id"], credentials["client_secret"])
    warm = warm_up(http, server, token)
    durations["server_setup_s"] = time.perf_counter() - mark
    console.log(f"server: pid {server.pid}, port {server.port}")

    mark = time.perf_counter()
    load_at_upload = os.getloadavg()
    measured = measure(http, server, token, upload, options)
    durations["measure_s"] = time.perf_counter() - mark
    memory = proc_status(server.pid)
    at_end = status_kib(server.pid, MEMORY_FIELDS)
    server_cpu_total = server.cpu()
    server_exit = server.stop()
    # uvicorn shuts down cleanly on SIGTERM, then re-raises the signal: -15 is a clean exit.
    if server_exit not in (0, -signal.SIGTERM):
        console.log(f"[yellow]server exited with {server_exit}[/yellow]\n{server.log_tail()}")
    peak_rss_mib = round(memory["VmHWM"] / 1024, 1)
    results = {
        "data": prepared | facts_of_data | {"page_cache_warmed_mib": warmed},
        "upload_plan": {
            "identifiers": len(upload.texts),
            "by_kind": dict(sorted(Counter(upload.kinds).items())),
            "unknown_by_shape": upload.unknown_split,
            "shares": MIX,
        },
        "expected": expected,
        "warm_up": warm,
        **measured,
        "agreement": agreement(measured, expected),
        "server": {
            "pid": server.pid,
            "peak_rss_mib": peak_rss_mib,
            "rss_at_end_mib": round(memory["VmRSS"] / 1024, 1),
            "rss_anon_at_end_mib": round(at_end["RssAnon"] / 1024, 1),
            "rss_file_at_end_mib": round(at_end["RssFile"] / 1024, 1),
            "cpu_s_total": round(server_cpu_total, 3),
            "command": f"reach serve --host {HOST} --port {server.port}",
            "settings": {
                k: v for k, v in env.items() if k.startswith("REACH_") and "SECRET" not in k
            },
        },
    }
    durations["total_s"] = time.perf_counter() - total_started
    values = {
        "end_to_end_s": measured["end_to_end"]["wall_s"],
        "server_compute_s": measured["end_to_end"]["server_cpu_s"],
        "server_peak_rss_mib": peak_rss_mib,
    }
    return {
        "benchmark": "contact-list",
        "description": (
            "One `reach serve` process (uvicorn, one worker) over an index whose identity graph"
            " covers the demo data's users; one ContactList segment receives the identifiers"
            " as sequential PATCH calls (operation add, identifierType email) on one HTTP/1.1"
            " keep-alive connection (http.client), then its statistics and compute-sizes are"
            " asked. end_to_end: from building the first PATCH body to the last byte of the"
            " statistics answer (the first statistics call matches the list against the graph)."
            " Server compute: the server process's CPU time (/proc/<pid>/stat, every thread)"
            " over the PATCH calls and that statistics call; the server exposes no timing"
            " header, and since the calls go one at a time its CPU time is what they cost it"
            " (client-side JSON serialisation is measured apart and is not in it). Peak RSS:"
            " the server's VmHWM, which counts the pages of the memory-mapped identity arrays"
            " it touched (see memory_mib for the anonymous/file split, sampled every 20 ms)."
            " Expected values: the documented normalisation computed here with hashlib,"
            " joined with identities.parquet by DuckDB."
        ),
        "environment": facts
        | {
            "load_average_before": load_before,
            "load_average_at_upload": load_at_upload,
            "load_average_after": os.getloadavg(),
        },
        "options": {
            "users": options.users,
            "identifiers": options.identifiers,
            "batch": options.batch,
            "seed": options.seed,
            "work": str(options.work) if options.work else None,
            "quick": options.quick,
            "profile": str(options.profile) if options.profile else None,
        },
        "targets": judge(values),
        "results": results,
        "durations_s": {k: round(v, 1) for k, v in durations.items()},
    }


def summary(report: dict[str, Any]) -> Table:
    results = report["results"]
    options = report["options"]
    table = Table(
        title=(
            f"Reach contact-list benchmark: {options['identifiers']:,} e-mails,"
            f" {results['data']['users']:,} users"
        )
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_column("met")
    targets = report["targets"]

    def verdict(name: str) -> tuple[str, str]:
        met = targets[name]["met"]
        return targets[name]["target"], "[green]yes[/green]" if met else "[red]no[/red]"

    e2e = results["end_to_end"]
    patch = results["patch"]
    table.add_row(
        "end to end (first PATCH to statistics)", f"{e2e['wall_s']:.2f} s", *verdict("end_to_end_s")
    )
    table.add_row(
        "server compute (CPU)", f"{e2e['server_cpu_s']:.2f} s", *verdict("server_compute_s")
    )
    table.add_row(
        "server peak RSS (VmHWM)",
        f"{results['server']['peak_rss_mib']:.0f} MiB",
        *verdict("server_peak_rss_mib"),
    )
    table.add_row("identifiers/s (end to end)", f"{e2e['identifiers_per_s']:,}", "", "")
    latency = patch["latency_s"]
    table.add_row(
        f"PATCH of {patch['identifiers_per_call']:,} p50 / p90 / max",
        f"{latency['p50']:.3f} / {latency['p90']:.3f} / {latency['max']:.3f} s",
        "",
        "",
    )
    table.add_row("PATCH server CPU total", f"{patch['server_cpu_s_total']:.2f} s", "", "")
    stats = results["statistics"]
    table.add_row(
        "statistics (first / cached)",
        f"{stats['latency_s']:.3f} / {stats['again_latency_s']:.3f} s",
        "",
        "",
    )
    table.add_row("compute-sizes", f"{results['compute_sizes']['latency_s']:.3f} s", "", "")
    agree = results["agreement"]
    table.add_row(
        "statistics agree with the independent count",
        "[green]exactly[/green]" if agree["exact"] else "[red]no[/red]",
        "",
        "",
    )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    report = run_benchmark(partial(run, options), summary, options.out)
    if report is None:
        return 1
    if not report["results"]["agreement"]["exact"]:
        console.print("[red]the server's statistics disagree with the independent count[/red]")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
