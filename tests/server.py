"""A real ``reach`` process for tests: the command line as an operator runs it, and a server."""

from __future__ import annotations

import http.client
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REACH = Path(sys.executable).parent / "reach"
HOST = "127.0.0.1"
SERVER_START_SECONDS = 30.0
CLI_TIMEOUT_SECONDS = 60.0


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def server_environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """The process environment of the CLI and the server: ours, never a REACH_* of the caller."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REACH_")}
    env |= {
        "REACH_DATA_DIR": str(data_dir),
        "REACH_SECRET_KEY": secrets.token_urlsafe(48),
        "REACH_RATE_LIMIT_PER_MINUTE": "0",
    }
    if database_url is not None:
        env["REACH_DATABASE_URL"] = database_url
    return env


def reach(env: dict[str, str], *args: str) -> str:
    """Run one ``reach`` command as an operator would; its standard output."""
    completed = subprocess.run(
        [str(REACH), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"`reach {' '.join(args)}` failed ({completed.returncode}):\n{completed.stderr}"
        )
    return completed.stdout


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        connection.request("GET", "/2025-01/marketing-solutions/me")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


@dataclass(frozen=True)
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def running_server(env: dict[str, str], log_path: Path) -> Iterator[RunningServer]:
    """``reach serve`` on a free port until the block ends."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(REACH), "serve", "--host", HOST, "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + SERVER_START_SECONDS
            while not _answers(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"reach serve did not start (exit code {process.poll()}):\n"
                        + log_path.read_text(errors="replace")
                    )
                time.sleep(0.05)
            yield RunningServer(f"http://{HOST}:{port}", process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
