"""Containers started together (``docker compose up --scale reach=3``, a rolling fleet's first
start): the migrations run once and one first client is created, whose secret one of them shows."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from reach.testing import HOST, free_port, reach_command
from tests.conftest import wipe
from tests.deploy.fresh import clean_environment, printed_credentials, wait_ready

TOGETHER = 3


def test_boots_started_together_migrate_once_and_create_one_client(
    database_url: str, tmp_path: Path
) -> None:
    wipe(database_url)
    data = tmp_path / "data"
    processes: list[tuple[str, subprocess.Popen[bytes], Path, Path]] = []
    try:
        for number in range(TOGETHER):
            port = free_port()
            env = clean_environment(REACH_DATA_DIR=str(data), REACH_PORT=str(port))
            if not database_url.startswith("sqlite"):
                env["REACH_DATABASE_URL"] = database_url
            out, err = tmp_path / f"{number}.out", tmp_path / f"{number}.err"
            with out.open("wb") as stdout, err.open("wb") as stderr:
                process = subprocess.Popen(
                    [*reach_command(), "boot"], env=env, stdout=stdout, stderr=stderr
                )
            processes.append((f"http://{HOST}:{port}", process, out, err))
        for url, process, _, err in processes:
            wait_ready(url, process, err)
        printed = [
            credentials
            for _, _, out, err in processes
            for credentials in printed_credentials(out.read_text() + err.read_text())
        ]
        assert len(printed) == 1, [err.read_text()[-2000:] for *_, err in processes]
        listed = subprocess.run(
            [*reach_command(), "clients", "list"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert listed.stdout.count("first-client") == 1
        assert printed[0]["client_id"] in listed.stdout
    finally:
        for _, process, _, _ in processes:
            process.send_signal(signal.SIGTERM)
        for _, process, _, _ in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
