"""Reach in a test suite: a real ``reach serve`` over a throw-away store, with known credentials.

An integration is tested against Reach the way it runs against Criteo: the same SDK or HTTP
client, pointed at ``sandbox.url`` with fixed credentials. Everything here drives the ``reach``
command line as an operator would (``db upgrade``, ``advertisers add``, ``clients create``,
``serve``), so the server under test is the one that ships.

    with run_sandbox() as sandbox:
        client = ApiClientBuilder.WithClientCredentials(
            sandbox.client_id, sandbox.client_secret, host=sandbox.url
        )

pytest users get the same as the session fixture ``reach_sandbox`` (``reach.testing.plugin``).
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
SERVER_START_SECONDS = 30.0
# A server whose port was taken meanwhile is started again on another, this many times at most.
START_ATTEMPTS = 3
CLI_TIMEOUT_SECONDS = 60.0
HTTP_TIMEOUT_SECONDS = 30.0

# The credentials a sandbox's client gets unless told otherwise: fixed, so a test suite (or a
# configuration file of the integration under test) can hard-code them.
DEFAULT_CLIENT_ID = "reach-test-client"
DEFAULT_CLIENT_SECRET = "reach-test-secret-0123456789"  # noqa: S105 - published on purpose
DEFAULT_CLIENT_NAME = "reach-test"
DEFAULT_ADVERTISER_ID = "1001"
DEFAULT_ADVERTISER_NAME = "Test advertiser"

# Environment variables that choose the sandbox's settings (read by ``SandboxSettings``).
ENV_CLIENT_ID = "REACH_TEST_CLIENT_ID"
ENV_CLIENT_SECRET = "REACH_TEST_CLIENT_SECRET"  # noqa: S105 - a variable name
ENV_ADVERTISER_ID = "REACH_TEST_ADVERTISER_ID"
ENV_DATABASE_URL = "REACH_TEST_DATABASE_URL"

# What a sandbox server is run with unless its settings say otherwise: exact sizes, which
# every size answer states in its warnings (docs/privacy.md).
SANDBOX_ENVIRONMENT = {
    "REACH_SANDBOX": "1",
    "REACH_RATE_LIMIT_PER_MINUTE": "0",
    "REACH_SIZE_PRIVACY": "exact",
}


def reach_command() -> list[str]:
    """How to run the ``reach`` command line of this very installation: the console script next
    to the running interpreter, else the same entry point through the interpreter."""
    script = Path(sys.executable).parent / ("reach.exe" if os.name == "nt" else "reach")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from reach.cli import main; main()"]


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def server_environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """The process environment of the CLI and the server: ours, never a REACH_* of the caller
    (a stray ``REACH_DATABASE_URL`` must not point a test at a real store)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REACH_")}
    env |= {
        "REACH_DATA_DIR": str(data_dir),
        "REACH_SECRET_KEY": secrets.token_urlsafe(48),
        "REACH_RATE_LIMIT_PER_MINUTE": "0",
    }
    if database_url is not None:
        env["REACH_DATABASE_URL"] = database_url
    return env


def reach(env: Mapping[str, str], *args: str) -> str:
    """Run one ``reach`` command as an operator would; its standard output."""
    completed = subprocess.run(  # noqa: S603 - our own command line, arguments as a list
        [*reach_command(), *args],
        env=dict(env),
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
    """A ``reach serve`` process and the base URL it answers on."""

    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def running_server(env: Mapping[str, str], log_path: Path) -> Iterator[RunningServer]:
    """``reach serve`` on a free port until the block ends; its output goes to ``log_path``.

    A port found free can be taken by another process before the server binds it: a server
    that exits at start is started again on another port (``START_ATTEMPTS`` times), and an
    answer counts only while our process is alive.
    """
    with log_path.open("wb") as log:
        for attempt in range(1, START_ATTEMPTS + 1):
            port = free_port()
            process = subprocess.Popen(  # noqa: S603 - our own command line, arguments as a list
                [*reach_command(), "serve", "--host", HOST, "--port", str(port)],
                env=dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                if _started(process, port):
                    yield RunningServer(f"http://{HOST}:{port}", process)
                    return
                if attempt == START_ATTEMPTS or process.returncode is None:
                    raise RuntimeError(
                        f"reach serve did not start (exit code {process.poll()}):\n"
                        + log_path.read_text(errors="replace")
                    )
            finally:
                _stop(process)


def _started(process: subprocess.Popen[bytes], port: int) -> bool:
    """Whether ``process`` answers on ``port``; False when it exited or did not answer in time."""
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        answered = _answers(port)
        if process.poll() is not None:
            return False
        if answered:
            return True
        time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass(frozen=True)
class SandboxSettings:
    """What a sandbox is set up with. ``environment`` adds or overrides ``REACH_*`` settings of
    the server (e.g. ``{"REACH_MIN_REPORTED_SIZE": "0"}``); ``database_url`` puts the metadata
    store in an existing, empty database instead of SQLite in the data directory."""

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    advertiser_id: str = DEFAULT_ADVERTISER_ID
    advertiser_name: str = DEFAULT_ADVERTISER_NAME
    client_name: str = DEFAULT_CLIENT_NAME
    database_url: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SandboxSettings:
        """The defaults, each overridden by its ``REACH_TEST_*`` variable when set."""
        source = os.environ if environ is None else environ
        return cls(
            client_id=source.get(ENV_CLIENT_ID) or DEFAULT_CLIENT_ID,
            client_secret=source.get(ENV_CLIENT_SECRET) or DEFAULT_CLIENT_SECRET,
            advertiser_id=source.get(ENV_ADVERTISER_ID) or DEFAULT_ADVERTISER_ID,
            database_url=source.get(ENV_DATABASE_URL) or None,
        )


@dataclass(frozen=True)
class ReachSandbox:
    """A running Reach server and the one client it was set up with.

    Point an SDK or HTTP client at ``url`` with ``client_id`` and ``client_secret``; it may act
    for ``advertiser_id``. ``cli`` runs any other ``reach`` command on the same store (ingest
    data, build the index, register ad sets) while the server runs. ``admin_token`` opens the
    sandbox controls under ``/_reach/`` (docs/sandbox.md), which ``reset``, ``inject_fault``,
    ``clear_faults`` and ``journal`` call.
    """

    url: str
    client_id: str
    client_secret: str
    advertiser_id: str
    data_dir: Path
    env: Mapping[str, str]
    log_path: Path
    process: subprocess.Popen[bytes]
    admin_token: str

    def cli(self, *args: str) -> str:
        """Run ``reach ARGS...`` on this sandbox's store; its standard output."""
        return reach(self.env, *args)

    def add_advertiser(self, advertiser_id: str, name: str) -> None:
        """Register one more advertiser (``reach advertisers add``)."""
        self.cli("advertisers", "add", advertiser_id, "--name", name)

    def add_ad_set(self, ad_set_id: str, name: str, advertiser_id: str | None = None) -> None:
        """Register an ad set audiences can be linked to (``reach adsets add``); of the
        sandbox's advertiser unless told otherwise."""
        owner = advertiser_id or self.advertiser_id
        self.cli("adsets", "add", ad_set_id, "--advertiser", owner, "--name", name)

    def create_client(
        self,
        name: str,
        *advertiser_ids: str,
        client_id: str | None = None,
        client_secret: str | None = None,
        read_only: bool = False,
    ) -> tuple[str, str]:
        """Another API client (``reach clients create``): its (client_id, client_secret)."""
        args = ["clients", "create", "--name", name]
        for advertiser_id in advertiser_ids or (self.advertiser_id,):
            args += ["--advertiser", advertiser_id]
        if client_id is not None:
            args += ["--client-id", client_id]
        if client_secret is not None:
            args += ["--client-secret", client_secret]
        if read_only:
            args.append("--read-only")
        printed = json.loads(self.cli(*args))
        return str(printed["client_id"]), str(printed["client_secret"])

    def access_token(self) -> str:
        """A bearer token of the sandbox's client (``POST /oauth2/token``)."""
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            }
        )
        status, body = self.request(
            "POST",
            "/oauth2/token",
            form.encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 200 or not isinstance(body, dict):
            raise RuntimeError(f"the sandbox refused its own client a token ({status}): {body}")
        return str(body["access_token"])

    def admin(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """One call to a sandbox control (``/_reach/...``) with the admin token: the ``data``
        of its answer; a refused call raises ``RuntimeError`` with the problems."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        raw = None
        if body is not None:
            raw = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        status, answer = self.request(method, path, raw, headers)
        if status >= 400 or not isinstance(answer, dict):
            raise RuntimeError(f"{method} {path} answered {status}: {answer}")
        return answer["data"]

    def reset(self, advertiser_id: str | None = None) -> dict[str, Any]:
        """Remove what API clients created (segments, audiences, lists, ad-set links), of every
        advertiser or of one; a whole reset also clears fault rules and the journal. What went,
        counted (``POST /_reach/reset``)."""
        body = None if advertiser_id is None else {"advertiserId": advertiser_id}
        counted: dict[str, Any] = self.admin("POST", "/_reach/reset", body)
        return counted

    def inject_fault(self, **rule: Any) -> dict[str, Any]:
        """Add a fault rule (``POST /_reach/faults``); members as keywords, in snake_case or as
        on the wire: ``inject_fault(operation="SearchAudienceSegments", answers=["503"])``,
        ``inject_fault(share=0.1, answer="503", seed=42, client_id="...")``. The rule as
        stored."""
        added: dict[str, Any] = self.admin(
            "POST", "/_reach/faults", {_camel(name): value for name, value in rule.items()}
        )
        return added

    def clear_faults(self) -> None:
        """Remove every fault rule (``DELETE /_reach/faults``)."""
        self.admin("DELETE", "/_reach/faults")

    def journal(self, client_id: str | None = None, limit: int | None = None) -> list[Any]:
        """The calls the server received, oldest first (``GET /_reach/journal``)."""
        query = {
            name: value
            for name, value in (("clientId", client_id), ("limit", limit))
            if value is not None
        }
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        entries: list[Any] = self.admin("GET", f"/_reach/journal{suffix}")
        return entries

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One HTTP call to the sandbox: its status and JSON answer (None when empty)."""
        parsed = urllib.parse.urlsplit(self.url)
        connection = http.client.HTTPConnection(
            parsed.hostname or HOST, parsed.port, timeout=HTTP_TIMEOUT_SECONDS
        )
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
        finally:
            connection.close()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@contextmanager
def run_sandbox(
    data_dir: Path | None = None, settings: SandboxSettings | None = None
) -> Iterator[ReachSandbox]:
    """A Reach server for tests, until the block ends: a fresh store in ``data_dir`` (a
    temporary directory, removed at the end, when None), one advertiser, one client with the
    settings' fixed credentials, sandbox mode on (with an admin token for its controls) and no
    rate limit."""
    chosen = settings or SandboxSettings.from_environment()
    with ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reach-")))
        data_dir.mkdir(parents=True, exist_ok=True)
        env = (
            server_environment(data_dir, chosen.database_url)
            | SANDBOX_ENVIRONMENT
            | dict(chosen.environment)
        )
        reach(env, "db", "upgrade")
        reach(env, "advertisers", "add", chosen.advertiser_id, "--name", chosen.advertiser_name)
        reach(
            env,
            "clients",
            "create",
            "--name",
            chosen.client_name,
            "--advertiser",
            chosen.advertiser_id,
            "--client-id",
            chosen.client_id,
            "--client-secret",
            chosen.client_secret,
        )
        admin_token = reach(env, "admin", "token").strip()
        log_path = data_dir / "server.log"
        server = stack.enter_context(running_server(env, log_path))
        yield ReachSandbox(
            url=server.url,
            client_id=chosen.client_id,
            client_secret=chosen.client_secret,
            advertiser_id=chosen.advertiser_id,
            data_dir=data_dir,
            env=env,
            log_path=log_path,
            process=server.process,
            admin_token=admin_token,
        )


__all__ = [
    "DEFAULT_ADVERTISER_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "HOST",
    "ReachSandbox",
    "RunningServer",
    "SandboxSettings",
    "free_port",
    "reach",
    "reach_command",
    "run_sandbox",
    "running_server",
    "server_environment",
]
