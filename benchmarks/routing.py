"""Routing cost of the served versions: how long the server takes to find an operation's route.

Every operation of the contract, plus the older contact-list path, is looked up under each
served version, the way Starlette does for each call (a match of the request scope against the
application's routes, in order). The report gives the distribution per version and the worst
operation; each figure is the median of repeated lookups of the same path (routing has no
cache, so cold and warm lookups cost the same).

    .venv/bin/python -m benchmarks.routing [--out benchmarks/reports/routing.json]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import timeit
from collections.abc import Sequence
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from rich.table import Table
from starlette.routing import Match
from starlette.types import Scope

from benchmarks.common import ROOT, distribution, machine_facts, run_benchmark
from reach.app import create_app
from reach.config import Settings
from reach.contract.spec import SPEC_FILE, SPEC_VERSION
from reach.schema import upgrade_to_head
from reach.versions import API_VERSIONS

LOOKUPS = 2_000
REPEATS = 5
# Beyond the contract: the older contact-list path, the last route an API call can reach.
EXTRA = [("PATCH", "/{v}/audiences/1/contactlist", "UpdateContactListByAudienceSegment (older)")]


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/reports/routing.json")
    return parser.parse_args(argv)


def _lookup_us(routes: list[Any], method: str, path: str) -> float:
    scope: Scope = {"type": "http", "path": path, "method": method, "root_path": ""}

    def find() -> Any:
        for route in routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route
        return None

    if find() is None:
        raise RuntimeError(f"no route for {method} {path}")
    runs = [timeit.timeit(find, number=LOOKUPS) / LOOKUPS * 1e6 for _ in range(REPEATS)]
    return statistics.median(runs)


def _contract_calls() -> list[tuple[str, str, str]]:
    """Every operation of the official contract: method, path (ids filled, version as {v})."""
    contract = orjson.loads(SPEC_FILE.read_bytes())
    return [
        (
            method.upper(),
            re.sub(r"\{[^}]+\}", "1", path).replace(f"/{SPEC_VERSION}/", "/{v}/", 1),
            operation["operationId"],
        )
        for path, item in contract["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    ]


def run(_: argparse.Namespace, stack: ExitStack) -> dict[str, Any]:
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reach-routing-")))
    url = f"sqlite:///{work / 'reach.db'}"
    upgrade_to_head(url)
    settings = Settings(data_dir=work, database_url=url, lookalike_processes=0)
    app = create_app(settings)
    stack.callback(app.state.database.dispose)
    routes = list(app.router.routes)
    calls = _contract_calls() + EXTRA
    load_before = os.getloadavg()
    per_version: dict[str, Any] = {}
    worst: dict[str, Any] = {"us": 0.0}
    for version in API_VERSIONS:
        timings = {}
        for method, path, name in calls:
            micros = _lookup_us(routes, method, path.replace("{v}", version))
            timings[name] = round(micros, 2)
            if micros > worst["us"]:
                worst = {"us": round(micros, 2), "version": version, "operation": name}
        per_version[version] = {"lookup_us": distribution(list(timings.values()), 2)}
    return {
        "benchmark": "routing",
        "environment": machine_facts()
        | {"load_average_before": load_before, "load_average_after": os.getloadavg()},
        "parameters": {"lookups": LOOKUPS, "repeats": REPEATS, "operations": len(calls)},
        "routes": len(routes),
        "versions": per_version,
        "worst": worst,
    }


def summary(report: dict[str, Any]) -> Table:
    table = Table(title=f"route lookup, µs ({report['routes']} top-level routes)")
    for column in ("version", "p50", "p90", "max"):
        table.add_column(column)
    for version, figures in report["versions"].items():
        lookup = figures["lookup_us"]
        table.add_row(version, str(lookup["p50"]), str(lookup["p90"]), str(lookup["max"]))
    return table


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    report = run_benchmark(partial(run, options), summary, options.out)
    return 0 if report is not None else 1


if __name__ == "__main__":
    sys.exit(main())
