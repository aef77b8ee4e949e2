"""API benchmark: bulk create, search and token issuance against one real `reach serve` process."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import psycopg
from rich.table import Table
from sqlalchemy.engine import URL, make_url

# Run as a script (`python benchmarks/api.py`), the repository root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    FORM_HEADERS,
    HOST,
    ROOT,
    BenchmarkError,
    Http,
    Phase,
    Server,
    add_advertisers,
    console,
    distribution,
    get_token,
    json_headers,
    machine_facts,
    run_benchmark,
    run_cli,
    start_server,
    token_form,
)

DEFAULT_OUT = ROOT / "benchmarks" / "reports" / "api.json"
PREFIX = "/2025-01/marketing-solutions/audience-segments"
FIRST_ADVERTISER_ID = 10_001
SEARCH_LIMIT = 50
# Segment types the benchmark creates, with the wire key of their type object.
KINDS = ("Retargeting", "Prospecting", "Location", "ContactList")
KEY_OF_KIND = {
    "Retargeting": "retargeting",
    "Prospecting": "prospecting",
    "Location": "location",
    "ContactList": "contactList",
}
TARGETS = {
    "create_1000_median_s": ("<", 0.5),
    "search_p50_ms": ("<", 10.0),
    "tokens_per_second": (">=", 500.0),
}

# --- options --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    segments: int
    advertisers: int
    searches: int
    token_seconds: float
    token_workers: int
    create_runs: int
    batch: int
    seed: int
    database_url: str | None
    out: Path
    quick: bool


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=(
            "Start one `reach serve` process on a fresh store, drive it over HTTP (keep-alive)"
            " and write a JSON report."
        )
    )
    parser.add_argument("--segments", type=int, default=100_000, help="Segments stored for search.")
    parser.add_argument("--advertisers", type=int, default=100, help="Advertisers (and grants).")
    parser.add_argument("--searches", type=int, default=500, help="Timed search requests.")
    parser.add_argument(
        "--token-seconds", type=float, default=10.0, help="How long tokens are requested."
    )
    parser.add_argument(
        "--token-workers", type=int, default=4, help="Client processes requesting tokens."
    )
    parser.add_argument("--create-runs", type=int, default=7, help="Timed bulk-create requests.")
    parser.add_argument(
        "--batch", type=int, default=1000, help="Items per bulk create (REACH_MAX_BULK_ITEMS)."
    )
    parser.add_argument("--seed", type=int, default=20250101, help="Seed of the generated data.")
    parser.add_argument(
        "--database-url",
        default=None,
        help=(
            "postgresql+psycopg://USER@HOST:PORT/DBNAME: benchmark PostgreSQL; the database is"
            " created (it must not exist) and dropped at the end. Default: SQLite in a temp dir."
        ),
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Where the report goes.")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Smoke run: 2,000 segments, 50 searches, 2 s of tokens, 2 create runs.",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.segments, args.searches, args.token_seconds, args.create_runs = 2_000, 50, 2.0, 2
    for name in ("segments", "advertisers", "searches", "token_workers", "create_runs", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.token_seconds <= 0:
        parser.error("--token-seconds must be positive")
    if args.database_url and make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("--database-url must be a postgresql+psycopg:// URL")
    return Options(
        segments=args.segments,
        advertisers=args.advertisers,
        searches=args.searches,
        token_seconds=args.token_seconds,
        token_workers=args.token_workers,
        create_runs=args.create_runs,
        batch=args.batch,
        seed=args.seed,
        database_url=args.database_url,
        out=args.out,
        quick=args.quick,
    )


@contextmanager
def postgres_database(url: str) -> Iterator[str]:
    """Create the database named in ``url`` (it must not exist yet) and drop it afterwards."""
    target = make_url(url)
    name = target.database
    if not name:
        raise BenchmarkError("--database-url must name a database")
    admin: URL = target.set(drivername="postgresql", database="postgres")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists:
            raise BenchmarkError(f"database {name!r} exists; the benchmark only uses a new one")
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version(url: str) -> str:
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


# --- generated data -------------------------------------------------------------------------


@dataclass
class Store:
    """What the benchmark has created, to check search answers against."""

    advertisers: list[int]
    counts: Counter[tuple[int, str]] = field(default_factory=Counter)

    def total(self, advertiser: int | None = None, kinds: Sequence[str] | None = None) -> int:
        chosen = self.advertisers if advertiser is None else [advertiser]
        wanted = KINDS if kinds is None else kinds
        return sum(self.counts[(a, k)] for a in chosen for k in wanted)


class Generator:
    """Seeded segment items; every name is new, so each call gives a fresh batch."""

    def __init__(self, seed: int, advertisers: Sequence[int]) -> None:
        self.rng = random.Random(seed)
        self.advertisers = list(advertisers)
        self.sequence = 0

    def type_object(self, kind: str) -> dict[str, Any]:
        rng = self.rng
        if kind == "Retargeting":
            low = rng.randint(0, 30)
            return {
                "visitorsType": rng.choice(("All", "Buyers", "NonBuyers")),
                "daysSinceLastVisitMin": low,
                "daysSinceLastVisitMax": low + rng.randint(0, 60),
            }
        if kind == "Prospecting":
            return {"usersType": rng.choice(("Prospects", "ProspectsOrNonBuyers"))}
        if kind == "Location":
            return {
                "pointsOfInterest": [
                    {
                        "latitude": round(48.85 + rng.uniform(-1, 1), 5),
                        "longitude": round(2.35 + rng.uniform(-1, 1), 5),
                    }
                ],
                "radiusInKm": rng.randint(1, 50),
            }
        return {}

    def batch(self, size: int, label: str) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
        """``size`` create items, spread round-robin over the advertisers, with random types."""
        items: list[dict[str, Any]] = []
        owners: list[tuple[int, str]] = []
        for _ in range(size):
            advertiser = self.advertisers[self.sequence % len(self.advertisers)]
            kind = self.rng.choice(KINDS)
            name = f"{label} {self.sequence:07d} {self.rng.getrandbits(32):08x}"
            items.append(
                {
                    "type": "AudienceSegment",
                    "attributes": {
                        "advertiserId": str(advertiser),
                        "name": name,
                        KEY_OF_KIND[kind]: self.type_object(kind),
                    },
                }
            )
            owners.append((advertiser, kind))
            self.sequence += 1
        return items, owners


def create(
    http: Http, token: str, store: Store, items: list[dict[str, Any]], owners: list[tuple[int, str]]
) -> float:
    """One bulk create; every item must succeed. Returns the request's wall time."""
    body = orjson.dumps({"data": items})
    reply = http.request("POST", f"{PREFIX}/create", body, json_headers(token))
    if reply.status != 200:
        raise BenchmarkError(f"create failed: {reply.status} {reply.body[:500]!r}")
    answer = reply.json()
    if answer.get("errors") or len(answer["data"]) != len(items):
        raise BenchmarkError(
            f"create stored {len(answer['data'])} of {len(items)}: {answer.get('errors')!r:.500}"
        )
    store.counts.update(owners)
    return reply.seconds


def create_phase(
    http: Http, token: str, store: Store, generator: Generator, options: Options, server: Server
) -> dict[str, Any]:
    # Untimed warm-up: one small request walks every code path once (imports, SQL compile).
    items, owners = generator.batch(len(KINDS) * 2, "warmup")
    create(http, token, store, items, owners)
    bodies = [
        generator.batch(options.batch, f"create-run-{run}") for run in range(options.create_runs)
    ]
    seconds: list[float] = []
    with Phase(server) as phase:
        for items, owners in bodies:
            seconds.append(create(http, token, store, items, owners))
    return {
        "items_per_request": options.batch,
        "runs": options.create_runs,
        "advertisers_per_request": min(options.batch, len(store.advertisers)),
        "stored_before": store.total() - options.batch * options.create_runs,
        "seconds": [round(s, 4) for s in seconds],
        "median_s": round(statistics.median(seconds), 4),
        "min_s": round(min(seconds), 4),
        "max_s": round(max(seconds), 4),
        "items_per_second_median": round(options.batch / statistics.median(seconds), 1),
        **phase.report(len(seconds)),
    }


def fill_phase(
    http: Http, token: str, store: Store, generator: Generator, options: Options, server: Server
) -> dict[str, Any]:
    """Create segments through the API, ``batch`` per request, up to ``options.segments``."""
    seconds: list[float] = []
    started = time.perf_counter()
    with Phase(server) as phase:
        while (missing := options.segments - store.total()) > 0:
            items, owners = generator.batch(min(options.batch, missing), "fill")
            seconds.append(create(http, token, store, items, owners))
            if len(seconds) % 10 == 0:
                console.log(
                    f"fill: {store.total():,} segments stored"
                    f" ({time.perf_counter() - started:.0f} s)"
                )
    report: dict[str, Any] = {"requests": len(seconds), "stored_after": store.total()}
    if seconds:
        tenth = max(len(seconds) // 10, 1)
        report |= {
            "request_s": distribution(seconds, 4),
            # Does a create get slower as the store grows?
            "first_tenth_median_s": round(statistics.median(seconds[:tenth]), 4),
            "last_tenth_median_s": round(statistics.median(seconds[-tenth:]), 4),
        }
    return report | phase.report(len(seconds))


@dataclass(frozen=True)
class Search:
    kind: str
    path: str
    body: bytes
    expected_total: int
    offset: int


def plan_searches(rng: random.Random, store: Store, count: int) -> list[Search]:
    """Half one advertiser, a quarter one advertiser and 1-2 types, a quarter no filter (every
    advertiser of the client); offsets uniform over the matching segments."""
    plans: list[Search] = []
    for _ in range(count):
        roll = rng.random()
        attributes: dict[str, Any] = {}
        if roll < 0.75:
            advertiser = rng.choice(store.advertisers)
            attributes["advertiserIds"] = [str(advertiser)]
            kinds: list[str] | None = None
            kind = "one_advertiser"
            if roll >= 0.5:
                kinds = sorted(rng.sample(KINDS, rng.randint(1, 2)))
                attributes["audienceSegmentTypes"] = kinds
                kind = "one_advertiser_types"
            total = store.total(advertiser, kinds)
        else:
            kind = "all_advertisers"
            total = store.total()
        offset = rng.randint(0, max(total - SEARCH_LIMIT, 0))
        plans.append(
            Search(
                kind=kind,
                path=f"{PREFIX}/search?limit={SEARCH_LIMIT}&offset={offset}",
                body=orjson.dumps({"data": {"attributes": attributes}}),
                expected_total=total,
                offset=offset,
            )
        )
    return plans


def search(http: Http, token: str, plan: Search) -> float:
    reply = http.request("POST", plan.path, plan.body, json_headers(token))
    if reply.status != 200:
        raise BenchmarkError(f"search failed: {reply.status} {reply.body[:500]!r}")
    answer = reply.json()
    total = answer["meta"]["totalItems"]
    expected_rows = max(min(SEARCH_LIMIT, plan.expected_total - plan.offset), 0)
    if total != plan.expected_total or len(answer["data"]) != expected_rows:
        raise BenchmarkError(
            f"search {plan.kind} {plan.body!r} offset {plan.offset}: totalItems {total} and"
            f" {len(answer['data'])} rows, expected {plan.expected_total} and {expected_rows}"
        )
    return reply.seconds


def search_phase(
    http: Http, token: str, store: Store, options: Options, server: Server
) -> dict[str, Any]:
    rng = random.Random(options.seed + 1)
    for plan in plan_searches(rng, store, 10):  # untimed warm-up
        search(http, token, plan)
    plans = plan_searches(rng, store, options.searches)
    by_kind: dict[str, list[float]] = {}
    everything: list[float] = []
    with Phase(server) as phase:
        for plan in plans:
            ms = 1000 * search(http, token, plan)
            everything.append(ms)
            by_kind.setdefault(plan.kind, []).append(ms)
    return {
        "stored_segments": store.total(),
        "limit": SEARCH_LIMIT,
        "latency_ms": distribution(everything),
        "latency_ms_by_kind": {kind: distribution(v) for kind, v in sorted(by_kind.items())},
        **phase.report(len(plans)),
    }


@dataclass(frozen=True)
class TokenWork:
    port: int
    client_id: str
    client_secret: str
    seconds: float


def token_worker(work: TokenWork, barrier: Any, results: Any) -> None:
    """One client process: token requests back to back on one keep-alive connection."""
    http = Http(work.port, timeout=30)
    form = token_form(work.client_id, work.client_secret)
    latencies: list[float] = []
    finished: list[float] = []
    failures: Counter[int] = Counter()
    try:
        for _ in range(3):  # untimed warm-up
            http.request("POST", "/oauth2/token", form, FORM_HEADERS)
        barrier.wait(timeout=60)
        cpu_before = time.process_time()
        started = time.monotonic()  # CLOCK_MONOTONIC: comparable across processes
        deadline = started + work.seconds
        now = started
        while now < deadline:
            reply = http.request("POST", "/oauth2/token", form, FORM_HEADERS)
            now = time.monotonic()
            if reply.status == 200 and b'"access_token"' in reply.body:
                latencies.append(1000 * reply.seconds)
                finished.append(now)
            else:
                failures[reply.status] += 1
        results.put(
            {
                "started": started,
                "ended": now,
                "latencies_ms": latencies,
                "finished": finished,
                "failures": dict(failures),
                "client_cpu_s": time.process_time() - cpu_before,
            }
        )
    except Exception as exc:
        results.put({"error": repr(exc)})
        barrier.abort()  # the parent and the other workers stop waiting at once
    finally:
        http.close()


def token_phase(
    port: int, client_id: str, client_secret: str, options: Options, server: Server
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(options.token_workers + 1)
    results = context.Queue()
    work = TokenWork(port, client_id, client_secret, options.token_seconds)
    workers = [
        context.Process(target=token_worker, args=(work, barrier, results), daemon=True)
        for _ in range(options.token_workers)
    ]
    for worker in workers:
        worker.start()
    try:
        try:
            barrier.wait(timeout=120)
        except threading.BrokenBarrierError:
            failure = results.get(timeout=10)
            raise BenchmarkError(f"a token worker failed to start: {failure}") from None
        with Phase(server) as phase:
            outcomes = [results.get(timeout=options.token_seconds + 120) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
                worker.join()
    errors = [o["error"] for o in outcomes if "error" in o]
    if errors:
        raise BenchmarkError(f"token workers failed: {errors}")
    start = min(o["started"] for o in outcomes)
    window = max(o["ended"] for o in outcomes) - start
    per_second = Counter(int(t - start) for o in outcomes for t in o["finished"])
    latencies = [ms for o in outcomes for ms in o["latencies_ms"]]
    failures: Counter[str] = Counter()
    for o in outcomes:
        failures.update({str(k): v for k, v in o["failures"].items()})
    if not latencies:
        raise BenchmarkError(f"no token was issued: failures {dict(failures)}")
    return {
        "client_workers": options.token_workers,
        "client_kind": "processes (multiprocessing, spawn), one keep-alive connection each",
        "window_s": round(window, 3),
        "tokens": len(latencies),
        "failures_by_status": dict(failures),
        "tokens_per_second": round(len(latencies) / window, 1),
        "tokens_in_each_second": [per_second[second] for second in range(int(window))],
        "latency_ms": distribution(latencies),
        **phase.report(len(latencies)),
        "client_cpu_s": round(sum(o["client_cpu_s"] for o in outcomes), 3),
    }


# --- the run --------------------------------------------------------------------------------


def environment(options: Options) -> dict[str, Any]:
    return machine_facts() | {"database": "postgresql" if options.database_url else "sqlite"}


def judge(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values = {
        "create_1000_median_s": results["create"]["median_s"],
        "search_p50_ms": results["search"]["latency_ms"]["p50"],
        "tokens_per_second": results["tokens"]["tokens_per_second"],
    }
    verdicts: dict[str, dict[str, Any]] = {}
    for name, (op, target) in TARGETS.items():
        value = values[name]
        met = value < target if op == "<" else value >= target
        verdicts[name] = {"target": f"{op} {target:g}", "value": value, "met": met}
    return verdicts


def run(options: Options, stack: ExitStack) -> dict[str, Any]:
    total_started = time.perf_counter()
    load_before = os.getloadavg()
    durations: dict[str, float] = {}
    data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reach-bench-")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REACH_")}
    env |= {
        "REACH_DATA_DIR": str(data_dir),
        "REACH_SECRET_KEY": secrets.token_urlsafe(48),
        "REACH_RATE_LIMIT_PER_MINUTE": "0",
        "REACH_MAX_BULK_ITEMS": str(options.batch),
    }
    database_version = None
    if options.database_url:
        env["REACH_DATABASE_URL"] = stack.enter_context(postgres_database(options.database_url))
        database_version = postgres_version(options.database_url)

    mark = time.perf_counter()
    console.log(f"setup: migrating and importing {options.advertisers} advertisers via the CLI")
    run_cli(env, "db", "upgrade")
    advertisers = list(range(FIRST_ADVERTISER_ID, FIRST_ADVERTISER_ID + options.advertisers))
    add_advertisers(env, advertisers, data_dir)
    grants = [arg for a in advertisers for arg in ("--advertiser", str(a))]
    credentials = json.loads(run_cli(env, "clients", "create", "--name", "bench", *grants))
    client_id, client_secret = credentials["client_id"], credentials["client_secret"]
    durations["setup_cli_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    server = start_server(env, data_dir / "server.log", stack)
    durations["server_start_s"] = time.perf_counter() - mark
    console.log(f"server: pid {server.pid}, port {server.port}")

    store = Store(advertisers)
    generator = Generator(options.seed, advertisers)
    http = Http(server.port)
    stack.callback(http.close)
    token = get_token(http, client_id, client_secret)
    results: dict[str, Any] = {}

    mark = time.perf_counter()
    console.log(f"create: {options.create_runs} x {options.batch} items")
    results["create"] = create_phase(http, token, store, generator, options, server)
    durations["create_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    console.log(f"fill: up to {options.segments:,} segments, {options.batch} per request")
    results["fill"] = fill_phase(http, token, store, generator, options, server)
    durations["fill_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    console.log(f"search: {options.searches} searches over {store.total():,} segments")
    token = get_token(http, client_id, client_secret)
    results["search"] = search_phase(http, token, store, options, server)
    durations["search_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    console.log(f"tokens: {options.token_workers} client processes for {options.token_seconds} s")
    results["tokens"] = token_phase(server.port, client_id, client_secret, options, server)
    durations["tokens_s"] = time.perf_counter() - mark

    memory = server.memory_kib()
    results["server"] = {
        "pid": server.pid,
        "peak_rss_mib": round(memory["VmHWM"] / 1024, 1),
        "rss_at_end_mib": round(memory["VmRSS"] / 1024, 1),
        "cpu_s_total": round(server.cpu(), 3),
        "command": f"reach serve --host {HOST} --port {server.port}",
        "settings": {
            "REACH_RATE_LIMIT_PER_MINUTE": env["REACH_RATE_LIMIT_PER_MINUTE"],
            "REACH_MAX_BULK_ITEMS": env["REACH_MAX_BULK_ITEMS"],
        },
    }
    if database_version:
        results["server"]["postgresql_version"] = database_version
    server_exit = server.stop()
    # uvicorn shuts down cleanly on SIGTERM, then re-raises the signal: -15 is a clean exit.
    if server_exit not in (0, -signal.SIGTERM):
        console.log(f"[yellow]server exited with {server_exit}[/yellow]\n{server.log_tail()}")

    durations["total_s"] = time.perf_counter() - total_started
    return {
        "benchmark": "api",
        "description": (
            "One `reach serve` process (uvicorn, one worker) on a fresh store, driven over"
            " HTTP/1.1 keep-alive (http.client): create and search sequentially on one"
            " connection, tokens from several client processes. Times are wall-clock per"
            " request, from sending to the last byte of the answer, measured in the client."
        ),
        "environment": environment(options)
        | {"load_average_before": load_before, "load_average_after": os.getloadavg()},
        "options": {
            "segments": options.segments,
            "advertisers": options.advertisers,
            "searches": options.searches,
            "token_seconds": options.token_seconds,
            "token_workers": options.token_workers,
            "create_runs": options.create_runs,
            "batch": options.batch,
            "seed": options.seed,
            "quick": options.quick,
        },
        "targets": judge(results),
        "results": results,
        "durations_s": {k: round(v, 1) for k, v in durations.items()},
    }


def summary(report: dict[str, Any]) -> Table:
    results = report["results"]
    table = Table(title=f"Reach API benchmark ({report['environment']['database']})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_column("met")
    targets = report["targets"]

    def verdict(name: str) -> tuple[str, str]:
        met = targets[name]["met"]
        return targets[name]["target"], "[green]yes[/green]" if met else "[red]no[/red]"

    create = results["create"]
    table.add_row(
        f"create {create['items_per_request']} (median of {create['runs']})",
        f"{create['median_s']:.3f} s",
        *verdict("create_1000_median_s"),
    )
    table.add_row("create min / max", f"{create['min_s']:.3f} / {create['max_s']:.3f} s", "", "")
    latency = results["search"]["latency_ms"]
    table.add_row(
        f"search p50 ({results['search']['stored_segments']:,} segments)",
        f"{latency['p50']:.2f} ms",
        *verdict("search_p50_ms"),
    )
    table.add_row("search p90 / p99", f"{latency['p90']:.2f} / {latency['p99']:.2f} ms", "", "")
    for kind, stats in results["search"]["latency_ms_by_kind"].items():
        table.add_row(
            f"  {kind} p50 / p99 (n={stats['count']})",
            f"{stats['p50']:.2f} / {stats['p99']:.2f} ms",
            "",
            "",
        )
    tokens = results["tokens"]
    table.add_row(
        f"tokens/s ({tokens['client_workers']} client processes)",
        f"{tokens['tokens_per_second']:.0f}",
        *verdict("tokens_per_second"),
    )
    table.add_row(
        "token p50 / p99",
        f"{tokens['latency_ms']['p50']:.2f} / {tokens['latency_ms']['p99']:.2f} ms",
        "",
        "",
    )
    table.add_row("server peak RSS", f"{results['server']['peak_rss_mib']:.0f} MiB", "", "")
    table.add_row("total run time", f"{report['durations_s']['total_s']:.0f} s", "", "")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    report = run_benchmark(partial(run, options), summary, options.out)
    return 0 if report is not None else 1


if __name__ == "__main__":
    sys.exit(main())
