"""Reach as a user installs it: the wheel built from this checkout, in a virtual environment of
its own, and what the Dockerfile says about installing and starting it."""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reach.testing import HOST

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
# Installing Reach's dependencies from the registry (or pip's cache) into a new environment.
PIP_TIMEOUT_SECONDS = 900
START_SECONDS = 60.0


def build_wheel(directory: Path) -> Path:
    """Reach's wheel, built from this checkout with hatchling."""
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(directory)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    [wheel] = directory.glob("reach_audiences-*.whl")
    return wheel


@dataclass(frozen=True)
class Venv:
    path: Path

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    def program(self, name: str) -> str:
        return str(self.bin / name)

    def site_packages(self) -> Path:
        [found] = self.path.glob("lib/python3*/site-packages")
        return found

    def installed(self) -> set[str]:
        """The distributions installed, by their normalised names."""
        listed = subprocess.run(
            [self.program("python"), "-m", "pip", "list", "--format", "json"],
            check=True,
            capture_output=True,
            text=True,
        )
        return {re.sub(r"[-_.]+", "-", p["name"]).lower() for p in json.loads(listed.stdout)}


def fresh_venv(path: Path, requirement: str, flags: list[str]) -> Venv:
    """A new virtual environment holding ``requirement`` (a wheel path with its extras),
    installed by pip with ``flags``. Dependencies come from the registry or pip's cache."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    venv = Venv(path)
    completed = subprocess.run(
        [venv.program("python"), "-m", "pip", "install", "--quiet", *flags, requirement],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return venv


# --- the Dockerfile ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    found: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = pending + line
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        found.append(Instruction(keyword.upper(), arguments.strip()))
    return found


@dataclass(frozen=True)
class Image:
    """What the runtime stage of the Dockerfile does: the extras and pip flags it installs the
    wheel with, its environment and its start command."""

    extras: list[str]
    pip_flags: list[str]
    env: dict[str, str]
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: str

    @property
    def start_command(self) -> list[str]:
        return [*self.entrypoint, *self.cmd]


def read_dockerfile(path: Path = DOCKERFILE) -> Image:
    every = instructions(path.read_text(encoding="utf-8"))
    stages = [i for i, instruction in enumerate(every) if instruction.keyword == "FROM"]
    runtime = every[stages[-1] :]
    env: dict[str, str] = {}
    install: list[str] | None = None
    entrypoint: list[str] = []
    cmd: list[str] = []
    healthcheck = ""
    for instruction in runtime:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                name, _, value = pair.partition("=")
                env[name] = value
        elif instruction.keyword == "RUN":
            for step in instruction.arguments.split("&&"):
                words = shlex.split(step)
                if len(words) > 1 and words[0].endswith("pip") and words[1] == "install":
                    install = words[2:]
        elif instruction.keyword == "ENTRYPOINT":
            entrypoint = json.loads(instruction.arguments)
        elif instruction.keyword == "CMD":
            cmd = json.loads(instruction.arguments)
        elif instruction.keyword == "HEALTHCHECK":
            healthcheck = instruction.arguments
    assert install is not None, "the runtime stage installs nothing with pip"
    flags = [word for word in install if word.startswith("--")]
    [wheel] = [word for word in install if ".whl" in word]
    match = re.search(r"\.whl\)?\[([^\]]*)\]$", wheel)
    extras = match.group(1).split(",") if match else []
    return Image(extras, flags, env, entrypoint, cmd, healthcheck)


# --- a running Reach ---------------------------------------------------------------------------


def request(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname or HOST, parsed.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_ready(url: str, process: subprocess.Popen[bytes] | None, log: Path | None) -> None:
    """Until ``GET /readyz`` answers 200, as the image's health check asks; a server without
    that endpoint yet is ready once it answers at all."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            shown = log.read_text(errors="replace") if log else ""
            raise AssertionError(f"Reach exited with {process.returncode}:\n{shown}")
        try:
            status, _ = request(url, "GET", "/readyz")
        except OSError:
            time.sleep(0.2)
            continue
        if status in {200, 404}:
            return
        time.sleep(0.2)
    raise AssertionError(f"Reach did not become ready at {url}")


def access_token(url: str, client_id: str, client_secret: str) -> str:
    body = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
    ).encode()
    status, answer = request(
        url,
        "POST",
        "/oauth2/token",
        body,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200, answer
    token: str = json.loads(answer)["access_token"]
    return token


def advertisers_of(url: str, token: str) -> list[str]:
    """``GET /2025-01/advertisers/me``: the ids of the advertisers the token may act for."""
    status, answer = request(
        url, "GET", "/2025-01/advertisers/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200, answer
    return [a["id"] for a in json.loads(answer)["data"]]


def printed_credentials(output: str) -> list[dict[str, Any]]:
    """The credentials ``reach boot`` printed: JSON lines holding a ``client_secret``."""
    found = []
    for line in output.splitlines():
        if line.startswith("{") and '"client_secret"' in line:
            found.append(json.loads(line))
    return found


def clean_environment(**values: str) -> dict[str, str]:
    """This process's environment without any REACH_* variable, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REACH_")}
    return env | values


@dataclass
class Started:
    url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text(errors="replace")

    def everything(self) -> str:
        return self.output() + self.stderr.read_text(errors="replace")


@contextmanager
def started(command: list[str], env: dict[str, str], logs: Path) -> Iterator[Started]:
    """``command`` (a start command, which ends in the server) until the block ends; stopped
    as a container is, with SIGTERM."""
    logs.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    stdout, stderr = logs / f"{run}.out", logs / f"{run}.err"
    url = f"http://{HOST}:{env['REACH_PORT']}"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        try:
            wait_ready(url, process, stderr)
            yield Started(url, process, stdout, stderr)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    # The server is the start command's own process (exec): the signal reached it, and it
    # shut down in order (uvicorn then ends by the signal it received).
    said = stdout.read_text(errors="replace") + stderr.read_text(errors="replace")
    assert process.returncode in {0, -signal.SIGTERM}, said
    assert "Application shutdown complete" in said
