"""Console benchmark: how long an operator waits, after an edit of an audience tree in the
console's builder, before every node's size (and the overlap matrix) on screen is up to date.

Over a store of benchmarks/scale_data.py (written into ``--data``, outside the repository, when
it is not there yet; then indexed), ``reach serve`` runs; segments, an audience of three levels
and an operator are created; headless Chromium (Playwright) signs in, opens the builder and
edits the tree through its buttons. Each edit is timed by the page itself: from the input
event (``event.timeStamp``) to the frame after the new sizes are drawn (the
``edit-to-sizes`` performance measure), split into the sizes call (its resource timing) and the
rest (the page's own work and drawing).

- cold: each edit adds a segment never asked about before (a new definition: the membership
  cache cannot hold it), so every node above it and its row of the overlap matrix are new
  questions;
- warm: the same edits again, same questions;
- remove: taking each added segment out again (back to a tree asked before).

    python -m benchmarks.console --data /tmp/reach-console-10m [--users 10000000] [--edits 40]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from benchmarks.common import (
    HOST,
    REACH,
    ROOT,
    BenchmarkError,
    Http,
    Phase,
    console,
    distribution,
    get_token,
    json_headers,
    machine_facts,
    run_benchmark,
    run_cli,
    start_server,
)
from benchmarks.engine import SYNC_BRANDS
from reach.engine.index import current_build

DEFAULT_OUT = ROOT / "benchmarks" / "reports" / "console.json"
ADVERTISER = 1001
END_DATE = date(2026, 12, 2)
TARGETS_MS = {"cold_p50": 150.0, "warm_p50": 50.0}
# Retargeting windows (first day, last day) and visitor kinds: each pair a new definition.
VISITORS = ("All", "Buyers", "NonBuyers")
SIZES_CALL = "/console/api/sizes"

# The inner "All of" group of the tree: root > "Any of" > "All of".
INNER = "#tree > li.node > ul.children > li.node:nth-child(1) > ul.children > li.node:nth-child(1)"

WAIT_SHOWN = """
(seq) => document.querySelector('#tree').dataset.sizesShown === String(seq)
"""

# The measure of edit ``seq`` and the sizes call(s) made since the edit started.
READ_TIMING = """
([seq, since]) => {
  const measure = performance.getEntriesByName('edit-to-sizes')
    .filter((m) => m.detail && m.detail.seq === seq).pop();
  const calls = performance.getEntriesByType('resource')
    .filter((r) => r.name.endsWith('/console/api/sizes') && r.startTime >= since);
  const last = calls[calls.length - 1];
  const drawn = performance.getEntriesByName('sizes-drawn')
    .filter((m) => m.detail && m.detail.seq === seq).pop();
  return {
    total: measure ? measure.duration : null,
    beforeCall: measure && last ? last.startTime - measure.startTime : null,
    answerToDrawn: drawn && last ? drawn.startTime - last.responseEnd : null,
    drawnToFrame: drawn && measure ? measure.startTime + measure.duration - drawn.startTime : null,
    fetch: last ? last.responseEnd - last.startTime : null,
    server: last ? last.responseStart - last.requestStart : null,
    calls: calls.length,
    nodes: document.querySelectorAll('#tree .node').length,
    cells: document.querySelectorAll('#overlap-table td[data-row]').length,
  };
}
"""


@dataclass(frozen=True)
class Options:
    data: Path
    users: int
    days: int
    edits: int
    out: Path
    workers: int


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="A data directory outside the repository: its store (written when missing), index"
        " and metadata database.",
    )
    parser.add_argument("--users", type=int, default=10_000_000, help="Users of a new store.")
    parser.add_argument("--days", type=int, default=30, help="Days of a new store.")
    parser.add_argument("--edits", type=int, default=40, help="Cold edits (as many warm).")
    parser.add_argument("--workers", type=int, default=2, help="Processes writing a new store.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Where the report goes.")
    args = parser.parse_args(argv)
    if args.edits < 1 or args.users < 1000 or args.days < 2:
        parser.error("--edits must be at least 1, --users 1000, --days 2")
    windows = 31 * 30 // 2 * len(VISITORS)
    if args.edits + 4 > windows:
        parser.error(f"--edits: at most {windows - 4} distinct segments")
    return Options(
        data=args.data.resolve(),
        users=args.users,
        days=args.days,
        edits=args.edits,
        out=args.out,
        workers=args.workers,
    )


def environment(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REACH_")}
    return env | {
        "REACH_DATA_DIR": str(data),
        "REACH_SECRET_KEY": secrets.token_urlsafe(48),
        "REACH_RATE_LIMIT_PER_MINUTE": "0",
        "REACH_MIN_REPORTED_SIZE": "0",
        "REACH_SIZE_PRIVACY": "exact",
        "COLUMNS": "200",
    }


def prepare(options: Options, env: dict[str, str]) -> dict[str, Any]:
    """The store (written when missing), its brands, its index (built when missing), the
    advertiser; how long each took."""
    took: dict[str, Any] = {}
    plan_path = options.data / "scale_data.json"
    if not (options.data / "store" / "manifest.json").is_file():
        console.log(f"writing a store of {options.users:,} users into {options.data}")
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.scale_data",
                *("--users", str(options.users), "--days", str(options.days)),
                *("--end-date", END_DATE.isoformat(), "--out", str(options.data)),
                *("--workers", str(options.workers)),
            ],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        took["store_written_s"] = round(time.perf_counter() - started, 1)
    plan = json.loads(plan_path.read_text(encoding="utf-8"))["plan"]
    run_cli(env, "db", "upgrade")
    subprocess.run(
        [sys.executable, "-c", SYNC_BRANDS], env=env, check=True, stdout=subprocess.DEVNULL
    )
    if current_build(options.data) is None:
        console.log("building the index")
        started = time.perf_counter()
        run_cli_long(env, "index", "build")
        took["index_built_s"] = round(time.perf_counter() - started, 1)
    known = run_cli(env, "advertisers", "list")
    if str(ADVERTISER) not in known:
        run_cli(env, "advertisers", "add", str(ADVERTISER), "--name", "Console bench")
    build = current_build(options.data)
    assert build is not None
    meta = json.loads((build / "index.json").read_text(encoding="utf-8"))
    return {"plan": plan, "index_build": meta["build_id"], "as_of": meta["as_of"], **took}


def run_cli_long(env: dict[str, str], *args: str) -> None:
    """A ``reach`` command that may take longer than run_cli allows (an index build)."""
    done = subprocess.run([str(REACH), *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchmarkError(f"reach {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")


def add_operator(env: dict[str, str]) -> tuple[str, str]:
    """A new manager operator of the advertiser: its e-mail and password."""
    email = f"bench-{uuid.uuid4().hex[:10]}@reach.example.com"
    password = secrets.token_urlsafe(18)
    subprocess.run(
        [str(REACH), "operators", "add", email, "--password-stdin"],
        env=env,
        input=password + "\n",
        text=True,
        capture_output=True,
        check=True,
    )
    run_cli(env, "operators", "grant", email, "--advertiser", str(ADVERTISER))
    return email, password


def windows(count: int) -> list[tuple[int, int, str]]:
    """``count`` distinct retargeting definitions, spread over the windows of 30 days."""
    every = [
        (low, low + span, kind)
        for span in range(30, 0, -1)
        for low in range(0, 31 - span)
        for kind in VISITORS
    ]
    step = max(1, len(every) // count)
    return every[::step][:count]


def create_segments(http: Http, token: str, tag: str, count: int) -> list[str]:
    """``count`` retargeting segments of new definitions (never asked before), in one call."""
    items = [
        {
            "type": "AudienceSegment",
            "attributes": {
                "advertiserId": str(ADVERTISER),
                "name": f"{tag} {n:03d} {kind} {low}-{high}",
                "retargeting": {
                    "visitorsType": kind,
                    "daysSinceLastVisitMin": low,
                    "daysSinceLastVisitMax": high,
                },
            },
        }
        for n, (low, high, kind) in enumerate(windows(count))
    ]
    created = post(http, token, "/audience-segments/create", {"data": items})
    if created.get("errors"):
        raise BenchmarkError(f"segments refused: {created['errors'][:3]}")
    return [item["id"] for item in created["data"]]


def post(http: Http, token: str, path: str, body: Any) -> Any:
    reply = http.request(
        "POST",
        f"/2025-01/marketing-solutions{path}",
        json.dumps(body).encode(),
        json_headers(token),
    )
    if reply.status >= 300:
        raise BenchmarkError(f"{path}: {reply.status} {reply.body[:500]!r}")
    return reply.json()


def three_levels(ids: Sequence[str]) -> dict[str, Any]:
    """and[ or[ and[A, B], C ], not D ]: three levels of operators."""
    a, b, c, d = ({"audienceSegmentId": i} for i in ids)
    return {"and": [{"or": [{"and": [a, b]}, c]}, {"not": d}]}


def chromium() -> str:
    found = os.environ.get("REACH_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise BenchmarkError("Chromium is not installed (apt-get install chromium)")
    return found


def timed_edit(page: Any, click: str) -> dict[str, Any]:
    """Click ``click`` (a selector) and wait until the sizes of that edit are drawn; the page's
    own measure of it."""
    since = page.evaluate("performance.now()")
    seq = int(page.get_attribute("#tree", "data-edit-seq")) + 1
    page.click(click)
    page.wait_for_function(WAIT_SHOWN, arg=seq, timeout=120_000)
    timing: dict[str, Any] = page.evaluate(READ_TIMING, [seq, since])
    if timing["total"] is None:
        raise BenchmarkError(f"edit {seq}: no edit-to-sizes measure")
    return timing


def summarise(timings: list[dict[str, Any]]) -> dict[str, Any]:
    totals = [t["total"] for t in timings]
    fetches = [t["fetch"] for t in timings if t["fetch"] is not None]
    rest = [t["total"] - t["fetch"] for t in timings if t["fetch"] is not None]
    servers = [t["server"] for t in timings if t["server"] is not None]
    return {
        "edits": len(timings),
        "edit_to_sizes_ms": distribution(totals, 1),
        "sizes_call_ms": distribution(fetches, 1) if fetches else None,
        "sizes_call_waiting_for_first_byte_ms": distribution(servers, 1) if servers else None,
        "page_work_and_drawing_ms": distribution(rest, 1) if rest else None,
        "page_parts_ms": {
            part: distribution(values, 1)
            for part, key in (
                ("edit_to_call_sent", "beforeCall"),
                ("answer_to_dom_updated", "answerToDrawn"),
                ("dom_updated_to_next_frame", "drawnToFrame"),
            )
            if (values := [t[key] for t in timings if t[key] is not None])
        },
        "sizes_calls": sum(t["calls"] for t in timings),
        "tree_nodes": max(t["nodes"] for t in timings),
        "overlap_cells": max(t["cells"] for t in timings),
    }


def drive(
    url: str,
    email: str,
    password: str,
    audience_id: str,
    fresh: list[str],
    phases: dict[str, Any],
    bodies: list[bytes],
) -> dict[str, list[dict[str, Any]]]:
    """Sign in, open the builder on the audience, then the cold and warm passes; ``bodies``
    receives every sizes call the page made."""
    from playwright.sync_api import sync_playwright

    runs: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": [], "remove": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), headless=True)
        try:
            page = browser.new_context(
                base_url=url, viewport={"width": 1280, "height": 900}
            ).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "request",
                lambda r: (
                    bodies.append(r.post_data_buffer or b"") if r.url.endswith(SIZES_CALL) else None
                ),
            )
            page.goto("/console/sign-in")
            page.get_by_label("E-mail").fill(email)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/console/segments**")
            opened = time.perf_counter()
            page.goto(f"/console/audiences?advertiser={ADVERTISER}&audience={audience_id}")
            page.wait_for_function(WAIT_SHOWN, arg=1, timeout=300_000)
            phases["open_builder_s"] = round(time.perf_counter() - opened, 3)
            page.evaluate("performance.setResourceTimingBufferSize(100000)")
            page.focus(INNER)  # the target group of "Add"
            for label in ("cold", "warm"):
                started = time.perf_counter()
                for segment_id in fresh:
                    added = timed_edit(page, f'#palette li[data-segment-id="{segment_id}"] button')
                    runs[label].append(added)
                    removed = timed_edit(
                        page,
                        f'{INNER} li.node[data-segment-id="{segment_id}"]'
                        ' > .node-head button:text-is("Remove")',
                    )
                    runs["remove"].append(removed)
                phases[f"{label}_pass_s"] = round(time.perf_counter() - started, 3)
            if errors:
                raise BenchmarkError(f"script errors in the console: {errors}")
        finally:
            browser.close()
    return runs


def replay(http: Http, token: str, bodies: list[bytes]) -> dict[str, Any]:
    """Every sizes call of the page asked again from here, with no browser running: the
    server's share of an edit (its answers are known by now: warm)."""
    seconds = []
    questions = []
    for body in bodies:
        asked = json.loads(body or b"{}").get("algebras")
        if not asked:
            continue  # a call whose body the browser did not hand over
        reply = http.request("POST", SIZES_CALL, body, json_headers(token))
        if reply.status != 200:
            raise BenchmarkError(f"{SIZES_CALL}: {reply.status} {reply.body[:300]!r}")
        seconds.append(reply.seconds * 1000)
        questions.append(len(asked))
    return {
        "calls": len(seconds),
        "calls_of_the_page": len(bodies),
        "latency_ms": distribution(seconds, 1),
        "algebras_per_call": distribution(questions, 1),
    }


def judge(results: dict[str, Any]) -> dict[str, Any]:
    cold = results["cold"]["edit_to_sizes_ms"]["p50"]
    warm = results["warm"]["edit_to_sizes_ms"]["p50"]
    return {
        "cold_p50_ms": {
            "target": TARGETS_MS["cold_p50"],
            "measured": cold,
            "met": cold <= TARGETS_MS["cold_p50"],
        },
        "warm_p50_ms": {
            "target": TARGETS_MS["warm_p50"],
            "measured": warm,
            "met": warm <= TARGETS_MS["warm_p50"],
        },
    }


def run(options: Options, stack: ExitStack) -> dict[str, Any]:
    facts = machine_facts()
    facts["started_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    facts["load_average_before"] = list(os.getloadavg())
    facts["memory_total_gib"] = round(
        os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
    )
    options.data.mkdir(parents=True, exist_ok=True)
    env = environment(options.data)
    durations: dict[str, Any] = {}
    started = time.perf_counter()
    store = prepare(options, env)
    durations["prepare_s"] = round(time.perf_counter() - started, 1)
    email, password = add_operator(env)
    credentials = json.loads(
        run_cli(
            env, "clients", "create", "--name", "console-bench", "--advertiser", str(ADVERTISER)
        )
    )
    logs = options.data / "console-bench-logs"
    logs.mkdir(exist_ok=True)
    server = start_server(env, logs / "server.log", stack, timeout=300)
    http = Http(server.port)
    stack.callback(http.close)
    token = get_token(http, credentials["client_id"], credentials["client_secret"])
    tag = f"cb-{uuid.uuid4().hex[:6]}"
    ids = create_segments(http, token, tag, options.edits + 4)
    base, fresh = ids[:4], ids[4:]
    audience = post(
        http,
        token,
        "/audiences/create",
        {
            "data": [
                {
                    "type": "Audience",
                    "attributes": {
                        "advertiserId": str(ADVERTISER),
                        "name": f"{tag} three levels",
                        "algebra": three_levels(base),
                    },
                }
            ]
        },
    )
    audience_id = audience["data"][0]["id"]
    console.log(f"server pid {server.pid}; {len(fresh)} cold edits, then warm")
    phases: dict[str, Any] = {}
    bodies: list[bytes] = []
    # Playwright's sync API in a thread of its own: the caller may run an event loop (or
    # Playwright) already.
    with Phase(server) as phase, ThreadPoolExecutor(1) as pool:
        runs = pool.submit(
            drive,
            f"http://{HOST}:{server.port}",
            email,
            password,
            audience_id,
            fresh,
            phases,
            bodies,
        ).result()
    results = {label: summarise(timings) for label, timings in runs.items()}
    results["sizes_endpoint_without_browser"] = replay(http, token, bodies)
    results["server_during_browser_s"] = phase.report(sum(len(t) for t in runs.values()))
    results["phases_s"] = phases
    durations["total_s"] = round(time.perf_counter() - started, 1)
    facts["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    facts["load_average_after"] = list(os.getloadavg())
    return {
        "benchmark": "console",
        "description": (
            "Audience builder of the console: time from an edit of the tree (the input event) to"
            " every node's size and the overlap matrix drawn, in headless Chromium against"
            " `reach serve`. One edit = one /console/api/sizes call asking every node of the"
            " tree and every pair of its segments. cold: each edit adds a segment of a new"
            " definition (never asked before); warm: the same edits again; remove: taking the"
            " added segment out again."
        ),
        "environment": facts,
        "options": {
            "data": "--data: a folder outside the repository",
            "users": store["plan"]["users"],
            "days": store["plan"]["days"],
            "edits": options.edits,
            "advertiser": ADVERTISER,
            "size_privacy": "exact",
        },
        "store": store,
        "targets": judge(results),
        "results": results,
        "durations_s": durations,
    }


def summary(report: dict[str, Any]) -> Table:
    table = Table(
        title=f"console builder: edit to sizes on screen ({report['options']['users']:,} users)"
    )
    for column in ("edits", "p50 ms", "p90 ms", "max ms", "sizes call p50", "page p50"):
        table.add_column(column, justify="right" if column != "edits" else "left")
    for label in ("cold", "warm", "remove"):
        r = report["results"][label]
        total = r["edit_to_sizes_ms"]
        table.add_row(
            f"{label} ({r['edits']})",
            str(total["p50"]),
            str(total["p90"]),
            str(total["max"]),
            str(r["sizes_call_ms"]["p50"]) if r["sizes_call_ms"] else "-",
            str(r["page_work_and_drawing_ms"]["p50"]) if r["page_work_and_drawing_ms"] else "-",
        )
    direct = report["results"]["sizes_endpoint_without_browser"]["latency_ms"]
    table.add_row("sizes call alone", str(direct["p50"]), str(direct["p90"]), str(direct["max"]))
    return table


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    report = run_benchmark(lambda stack: run(options, stack), summary, options.out)
    return 0 if report is not None else 1


if __name__ == "__main__":
    sys.exit(main())
