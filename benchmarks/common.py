"""Helpers the benchmarks share: statistics, a keep-alive HTTP client, `reach` processes, facts."""

from __future__ import annotations

import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import urlencode

import orjson
from rich.console import Console, RenderableType

ROOT = Path(__file__).resolve().parents[1]
REACH = Path(sys.executable).parent / "reach"
HOST = "127.0.0.1"
# A 1-minute load average above this before the run means something else was competing.
BUSY_LOAD = 0.5

console = Console(stderr=True)


# --- statistics -----------------------------------------------------------------------------


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (the 'inclusive' method; q in [0, 1])."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def distribution(values: Sequence[float], digits: int = 3) -> dict[str, float | int]:
    """Count, min, p50, p90, p99, max and mean of ``values``, rounded."""
    return {
        "count": len(values),
        "min": round(min(values), digits),
        "p50": round(quantile(values, 0.50), digits),
        "p90": round(quantile(values, 0.90), digits),
        "p99": round(quantile(values, 0.99), digits),
        "max": round(max(values), digits),
        "mean": round(statistics.fmean(values), digits),
    }


# --- HTTP -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return orjson.loads(self.body)


class Http:
    """One keep-alive HTTP/1.1 connection (``http.client``: the lightest client at hand, so
    the load generator takes as little as possible of the two cores the server also needs)."""

    def __init__(self, port: int, timeout: float = 120.0) -> None:
        self.connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
        self.reused = False

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        try:
            return self._exchange(method, path, body, headers or {})
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if not self.reused:
                raise
            # The server closes keep-alive connections idle for 5 s (uvicorn's default): that
            # is no failure of the request, so send it again on a fresh connection.
            self.connection.close()
            return self._exchange(method, path, body, headers or {})

    def _exchange(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> Reply:
        self.reused = self.connection.sock is not None
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        if response.will_close:
            self.connection.close()
        return Reply(response.status, data, elapsed)

    def close(self) -> None:
        self.connection.close()


def token_form(client_id: str, client_secret: str) -> bytes:
    return urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
    ).encode()


FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def get_token(http: Http, client_id: str, client_secret: str) -> str:
    reply = http.request(
        "POST", "/oauth2/token", token_form(client_id, client_secret), FORM_HEADERS
    )
    if reply.status != 200:
        raise BenchmarkError(f"token request failed: {reply.status} {reply.body[:300]!r}")
    token: str = reply.json()["access_token"]
    return token


def json_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


class BenchmarkError(RuntimeError):
    """The benchmark cannot go on (server down, unexpected answer, bad setup)."""


# --- the server process ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run a ``reach`` command; its stdout, or BenchmarkError with its stderr."""
    done = subprocess.run(
        [str(REACH), *args], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode != 0:
        raise BenchmarkError(f"reach {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS of a process, in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = int(rest.split()[0])
    return values


def machine_busy_seconds() -> float:
    """CPU time spent by the whole machine (all cores, every process) outside idle and iowait."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    # guest time is already counted in user time.
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # After the ")" of comm: fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class Server:
    """``reach serve`` in its own process group, its output in a log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [str(REACH), "serve", "--host", HOST, "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(
                    f"the server exited with {self.process.returncode}: {self.log_tail()}"
                )
            try:
                http = Http(self.port, timeout=2)
                try:
                    # Unauthenticated: a 401 problem answer proves the app is serving.
                    if http.request("GET", "/2025-01/marketing-solutions/me").status == 401:
                        return
                finally:
                    http.close()
            except OSError:
                pass
            time.sleep(0.1)
        raise BenchmarkError(f"the server did not answer within {timeout:.0f} s")

    def log_tail(self, lines: int = 20) -> str:
        if not self._log.closed:
            self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def memory_kib(self) -> dict[str, int]:
        return proc_status(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._log.close()
        return self.process.returncode


def start_server(
    env: dict[str, str], log_path: Path, stack: ExitStack, timeout: float = 60.0
) -> Server:
    """A ready ``reach serve``, stopped when ``stack`` closes; if the run fails, the end of its
    log is shown first (the log may go away with the work directory)."""
    server = Server(env, log_path)
    stack.callback(server.stop)

    def show_log(
        kind: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if kind is not None:
            console.print(
                f"last lines of the server log:\n{server.log_tail()}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

    stack.push(show_log)
    server.wait_ready(timeout)
    return server


# --- phases ---------------------------------------------------------------------------------


@dataclass
class Phase:
    """Wall time and server CPU time of one part of the run."""

    server: Server
    started: float = 0.0
    cpu_before: float = 0.0
    machine_before: float = 0.0
    client_before: float = 0.0
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    machine_cpu_s: float = 0.0
    client_cpu_s: float = 0.0

    def __enter__(self) -> Phase:
        self.started = time.perf_counter()
        self.cpu_before = self.server.cpu()
        self.machine_before = machine_busy_seconds()
        self.client_before = time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall_s = time.perf_counter() - self.started
        self.server_cpu_s = self.server.cpu() - self.cpu_before
        self.machine_cpu_s = machine_busy_seconds() - self.machine_before
        self.client_cpu_s = time.process_time() - self.client_before

    def report(self, requests: int) -> dict[str, float]:
        return {
            "wall_s": round(self.wall_s, 3),
            "server_cpu_s": round(self.server_cpu_s, 3),
            "server_cpu_ms_per_request": round(1000 * self.server_cpu_s / max(requests, 1), 3),
            # This process only (the token phase's client processes report their own).
            "client_cpu_s": round(self.client_cpu_s, 3),
            # Everything the machine ran meanwhile (server, this client, anything else): a
            # value well above server + client CPU means other load disturbed the phase.
            "machine_cpu_busy_s": round(self.machine_cpu_s, 3),
        }


# --- facts ----------------------------------------------------------------------------------


def git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_facts() -> dict[str, Any]:
    """When, which commit, and on what: the facts every report starts with."""
    status = git("status", "--porcelain")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "HEAD"),
        "working_tree_dirty": bool(status) if status is not None else None,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
    }


def add_advertisers(env: dict[str, str], ids: Sequence[int], work_dir: Path) -> None:
    """``reach advertisers import`` of a CSV file, as an operator registers many at once."""
    listing = work_dir / "advertisers.csv"
    listing.write_text("id,name\n" + "".join(f"{a},Bench {a}\n" for a in ids), encoding="utf-8")
    run_cli(env, "advertisers", "import", str(listing))


def raise_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into an exception, so servers are stopped and temp dirs removed."""
    raise SystemExit(128 + signum)


def run_benchmark(
    run: Callable[[ExitStack], dict[str, Any]],
    summary: Callable[[dict[str, Any]], RenderableType],
    out: Path,
) -> dict[str, Any] | None:
    """Run a benchmark (its servers and temp dirs on ``run``'s stack), write its JSON report
    to ``out`` and print its summary; None (after saying why) when it failed."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, raise_on_sigterm)
    try:
        with ExitStack() as stack:
            report = run(stack)
    except (BenchmarkError, OSError, http.client.HTTPException) as exc:
        console.print(f"[red]benchmark failed:[/red] {exc!r}")
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    screen = Console()
    # Without a terminal rich assumes 80 columns, too few for the tables.
    Console(width=screen.width if screen.is_terminal else 110).print(summary(report))
    load = report["environment"]["load_average_before"][0]
    if load > BUSY_LOAD:
        console.print(
            f"[yellow]warning:[/yellow] the machine was busy before the run"
            f" (1-min load {load:.2f}); the numbers include that interference"
        )
    console.print(f"report written to {out}")
    return report
