"""Serve benchmark: segment search and audience compute-sizes against `reach serve --workers N`
(N = 1, 2, 4) over one demo index; throughput, latency, and the memory of every process (RSS,
and PSS, which shares each shared page among the processes mapping it)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from rich.table import Table

# Run as a script (`python benchmarks/serve.py`), the repository root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    ROOT,
    BenchmarkError,
    Http,
    add_advertisers,
    console,
    distribution,
    get_token,
    json_headers,
    machine_facts,
    run_benchmark,
    run_cli,
    start_server,
)
from reach.engine.query import IndexProvider

DEFAULT_OUT = ROOT / "benchmarks" / "reports" / "serve.json"
API = "/2025-01/marketing-solutions"
ADVERTISERS = (1001, 1002, 1003)
KINDS = ("search", "cold", "warm")
TARGETS = {
    "compute_sizes_speedup_2_workers": (">=", 1.6),
    "total_pss_ratio_2_workers": ("<=", 1.3),
}


@dataclass(frozen=True)
class Options:
    users: int
    days: int
    workers: list[int]
    seconds: float
    clients: int
    audiences: int
    work: Path | None
    out: Path


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000, help="Users of the demo data.")
    parser.add_argument("--days", type=int, default=30, help="Days of the demo data.")
    parser.add_argument("--workers", default="1,2,4", help="Worker counts to compare.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Length of each phase.")
    parser.add_argument("--clients", type=int, default=8, help="Client processes (loopback).")
    parser.add_argument(
        "--audiences", type=int, default=3000, help="Distinct audiences of the cold phase."
    )
    parser.add_argument(
        "--work", type=Path, default=None, help="Keep (or reuse) the data and index here."
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Where the report goes.")
    args = parser.parse_args(argv)
    workers = [int(n) for n in args.workers.split(",")]
    if not workers or min(workers) < 1 or max(workers) > 64:
        parser.error("--workers lists counts from 1 to 64")
    if args.users < 1000 or args.seconds <= 0 or args.clients < 1 or args.audiences < 10:
        parser.error("--users >= 1000, --seconds > 0, --clients >= 1, --audiences >= 10")
    return Options(
        args.users,
        args.days,
        workers,
        args.seconds,
        args.clients,
        args.audiences,
        args.work,
        args.out,
    )


# --- data -----------------------------------------------------------------------------------


def prepare(options: Options, work: Path) -> tuple[Path, dict[str, str]]:
    """The data directory with a built index (generated, ingested and built unless there),
    and the environment of the server over it."""
    data_dir = work / "reach"
    env = os.environ | {
        "REACH_DATA_DIR": str(data_dir),
        "REACH_RATE_LIMIT_PER_MINUTE": "0",
        "REACH_SIZE_PRIVACY": "exact",
        "REACH_MIN_REPORTED_SIZE": "0",
        "REACH_LOOKALIKE_PROCESSES": "0",
        "REACH_ACCESS_LOG": "false",
    }
    if IndexProvider(data_dir).current() is None:
        raw = work / "data"
        console.log(f"generate: {options.users:,} users, {options.days} days")
        run_cli(
            env, "demo-data", "--users", str(options.users), "--days", str(options.days),
            "--out", str(raw),
        )  # fmt: skip
        run_cli(env, "db", "upgrade")
        for kind in ("brands", "users", "identities", "products", "events", "pings", "behavioral"):
            files = sorted(str(p) for p in raw.glob(f"{kind}*.parquet"))
            if files:
                run_cli(env, "ingest", kind, *files)
        run_cli(env, "index", "build")
    run_cli(env, "db", "upgrade")
    return data_dir, env


def retargeting(advertiser: int, name: str, low: int, high: int) -> dict[str, Any]:
    return {
        "attributes": {
            "advertiserId": str(advertiser),
            "name": name,
            "retargeting": {
                "visitorsType": "All",
                "daysSinceLastVisitMin": low,
                "daysSinceLastVisitMax": high,
            },
        }
    }


def populate(http: Http, token: str, audiences: int) -> list[str]:
    """Segments of every advertiser's visitors over several windows, and ``audiences``
    audiences, each a different pair of them: their ids."""
    headers = json_headers(token)
    segments: dict[int, list[str]] = {}
    for advertiser in ADVERTISERS:
        items = [
            retargeting(advertiser, f"visitors {low}-{high}", low, high)
            for low in range(0, 25, 2)
            for high in range(low + 3, 31, 3)
        ]
        reply = http.request(
            "POST", f"{API}/audience-segments/create", orjson.dumps({"data": items}), headers
        )
        if reply.status != 200:
            raise BenchmarkError(f"segments not created: {reply.body[:300]!r}")
        segments[advertiser] = [s["id"] for s in reply.json()["data"]]
    created: list[str] = []
    batch: list[dict[str, Any]] = []
    number = 0
    while len(created) + len(batch) < audiences:
        advertiser = ADVERTISERS[number % len(ADVERTISERS)]
        ids = segments[advertiser]
        first, second = ids[number % len(ids)], ids[(number * 7 + 3) % len(ids)]
        operator = ("and", "or")[number % 2]
        algebra: dict[str, Any] = {
            operator: [{"audienceSegmentId": first}, {"audienceSegmentId": second}]
        }
        if first == second:
            algebra = {"audienceSegmentId": first}
        batch.append(
            {
                "attributes": {
                    "advertiserId": str(advertiser),
                    "name": f"a{number}",
                    "algebra": algebra,
                }
            }
        )
        number += 1
        if len(batch) == 500 or len(created) + len(batch) == audiences:
            reply = http.request(
                "POST", f"{API}/audiences/create", orjson.dumps({"data": batch}), headers
            )
            if reply.status != 200 or reply.json()["errors"]:
                raise BenchmarkError(f"audiences not created: {reply.body[:300]!r}")
            created += [a["id"] for a in reply.json()["data"]]
            batch = []
    return created


# --- load -----------------------------------------------------------------------------------


def drive(port: int, token: str, path: str, bodies: list[bytes], seconds: float) -> dict[str, Any]:
    """One client process on one keep-alive connection: ``bodies`` in turn (each once when
    ``seconds`` is 0), until the time is up; latencies in ms and statuses."""
    http = Http(port)
    headers = json_headers(token)
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    done = 0
    while time.monotonic() < deadline if seconds else done < len(bodies):
        reply = http.request("POST", path, bodies[done % len(bodies)], headers)
        done += 1
        if reply.status == 200:
            latencies.append(reply.seconds * 1000)
        else:
            failures += 1
    http.close()
    return {"latencies": latencies, "failures": failures}


def phase(
    port: int, token: str, path: str, slices: list[list[bytes]], seconds: float
) -> dict[str, Any]:
    started = time.perf_counter()
    with ProcessPoolExecutor(len(slices)) as pool:
        futures = [pool.submit(drive, port, token, path, s, seconds) for s in slices]
        runs = [future.result() for future in futures]
    wall = time.perf_counter() - started
    latencies = [v for r in runs for v in r["latencies"]]
    if not latencies:
        raise BenchmarkError(f"no successful call on {path}")
    return {
        "requests": len(latencies),
        "failures": sum(r["failures"] for r in runs),
        "wall_s": round(wall, 2),
        "per_second": round(len(latencies) / wall, 1),
        "latency_ms": distribution(latencies, 2),
    }


def memory(master: int, workers: int) -> dict[str, Any]:
    """RSS and PSS (KiB → MiB) of the server's processes: the master and its workers."""
    pids = [master]
    if workers > 1:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        pids += [int(pid) for pid in children]
    found: list[dict[str, Any]] = []
    for pid in pids:
        values: dict[str, float] = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                values[key.lower()] = round(int(rest.split()[0]) / 1024, 1)
        role = "master" if pid == master and workers > 1 else "worker"
        found.append({"role": role, **values})
    return {
        "processes": found,
        "total_rss_mib": round(sum(p["rss"] for p in found), 1),
        "total_pss_mib": round(sum(p["pss"] for p in found), 1),
    }


def wait_workers(log: Path, count: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while log.read_text(errors="replace").count("Application startup complete") < count:
        if time.monotonic() > deadline:
            raise BenchmarkError(f"{count} workers did not start")
        time.sleep(0.2)


def measure(
    options: Options,
    env: dict[str, str],
    work: Path,
    credentials: tuple[str, str],
    workers: int,
    audiences: list[str],
) -> dict[str, Any]:
    found: dict[str, Any] = {"workers": workers}
    for mode in ("cold", "warm"):
        with ExitStack() as stack:
            log = work / f"server-{workers}-{mode}.log"
            server_env = env | {"REACH_WORKERS": str(workers)}
            if mode == "cold":
                server_env["REACH_MEMBERSHIP_CACHE_MIB"] = "0"
            server = start_server(server_env, log, stack)
            wait_workers(log, workers)
            http = Http(server.port)
            token = get_token(http, *credentials)
            http.close()
            sizes = f"{API}/audiences/compute-sizes"
            if mode == "cold":
                # Each audience asked once, members never kept: every size computed.
                bodies = [
                    orjson.dumps({"data": [{"id": a, "type": "Audience"}]}) for a in audiences
                ]
                slices = [bodies[i :: options.clients] for i in range(options.clients)]
                found["compute_sizes_cold"] = phase(server.port, token, sizes, slices, 0)
                search = orjson.dumps(
                    {"data": {"type": "AudienceSegment", "attributes": {"advertiserIds": ["1001"]}}}
                )
                found["segment_search"] = phase(
                    server.port,
                    token,
                    f"{API}/audience-segments/search?limit=50",
                    [[search]] * options.clients,
                    options.seconds,
                )
                found["memory_after_cold"] = memory(server.pid, workers)
            else:
                # The same 20 audiences over and over: served from the members kept.
                bodies = [
                    orjson.dumps({"data": [{"id": a, "type": "Audience"}]}) for a in audiences[:20]
                ]
                found["compute_sizes_warm"] = phase(
                    server.port, token, sizes, [bodies] * options.clients, options.seconds
                )
                found["memory_after_warm"] = memory(server.pid, workers)
    return found


def run(options: Options, stack: ExitStack) -> dict[str, Any]:
    load_before = os.getloadavg()
    work = options.work or Path(
        stack.enter_context(tempfile.TemporaryDirectory(prefix="reach-serve-"))
    )
    work.mkdir(parents=True, exist_ok=True)
    data_dir, env = prepare(options, work)
    index = IndexProvider(data_dir).current()
    assert index is not None
    users = len(index.universe())
    add_advertisers(env, ADVERTISERS, work)
    created = orjson.loads(
        run_cli(
            env,
            "clients",
            "create",
            "--name",
            f"bench-{time.time_ns()}",
            *[arg for a in ADVERTISERS for arg in ("--advertiser", str(a))],
        )
    )
    credentials = (created["client_id"], created["client_secret"])
    with ExitStack() as setup:
        server = start_server(env | {"REACH_WORKERS": "1"}, work / "setup.log", setup)
        http = Http(server.port)
        audiences = populate(http, get_token(http, *credentials), options.audiences)
        http.close()
    runs = []
    for workers in options.workers:
        console.log(f"{workers} worker(s)")
        runs.append(measure(options, env, work, credentials, workers, audiences))
    by_count = {r["workers"]: r for r in runs}
    results: dict[str, Any] = {}
    if 1 in by_count and 2 in by_count:
        one, two = by_count[1], by_count[2]
        results["compute_sizes_speedup_2_workers"] = round(
            two["compute_sizes_cold"]["per_second"] / one["compute_sizes_cold"]["per_second"], 2
        )
        results["compute_sizes_warm_speedup_2_workers"] = round(
            two["compute_sizes_warm"]["per_second"] / one["compute_sizes_warm"]["per_second"], 2
        )
        results["total_pss_ratio_2_workers"] = round(
            two["memory_after_warm"]["total_pss_mib"] / one["memory_after_warm"]["total_pss_mib"], 2
        )
        results["total_rss_ratio_2_workers"] = round(
            two["memory_after_warm"]["total_rss_mib"] / one["memory_after_warm"]["total_rss_mib"], 2
        )
    targets = {}
    for name, (op, bound) in TARGETS.items():
        value = results.get(name)
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        targets[name] = {"target": f"{op} {bound}", "value": value, "met": met}
    return {
        "benchmark": "serve",
        "environment": machine_facts()
        | {"load_average_before": [round(v, 2) for v in load_before], "clients": options.clients},
        "index": {"users": users, "days": options.days, "build_id": index.build_id},
        "options": {"seconds": options.seconds, "audiences": options.audiences},
        "runs": runs,
        "results": results,
        "targets": targets,
    }


def summary(report: dict[str, Any]) -> Table:
    table = Table(title=f"reach serve --workers N, {report['index']['users']:,} users")
    columns = ["workers", "search/s", "search p50/p99 ms", "cold sizes/s", "cold p50/p99 ms"]
    columns += ["warm sizes/s", "warm p50/p99 ms", "RSS total MiB", "PSS total MiB"]
    for column in columns:
        table.add_column(column, justify="right")
    for run_ in report["runs"]:
        cells = [str(run_["workers"])]
        for key in ("segment_search", "compute_sizes_cold", "compute_sizes_warm"):
            found = run_[key]
            cells += [
                str(found["per_second"]),
                f"{found['latency_ms']['p50']}/{found['latency_ms']['p99']}",
            ]
        cells += [
            str(run_["memory_after_warm"]["total_rss_mib"]),
            str(run_["memory_after_warm"]["total_pss_mib"]),
        ]
        table.add_row(*cells)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    report = run_benchmark(lambda stack: run(options, stack), summary, options.out)
    return 0 if report is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
