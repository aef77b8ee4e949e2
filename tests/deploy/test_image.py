"""The container image. Its content is proved without a container engine: the wheel installed
into a fresh environment with the Dockerfile's extras and pip flags, started with its
ENTRYPOINT and CMD (``reach boot``: migrate, a first client, serve), called with the printed
credentials. Where a container engine answers, the image itself is built and run as well.

``reach boot`` itself: a generated secret shown once, chosen credentials never shown, the same
client across restarts."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from reach.testing import HOST, free_port, reach_command
from tests.conftest import wipe
from tests.deploy.fresh import (
    ROOT,
    Image,
    Venv,
    access_token,
    advertisers_of,
    build_wheel,
    clean_environment,
    fresh_venv,
    printed_credentials,
    read_dockerfile,
    request,
    started,
    wait_ready,
)

# pip's cache is reused here (the image build has none to reuse): the one flag left out.
NOT_IN_TESTS = {"--no-cache-dir"}
DOCKER_SECONDS = 1800


@pytest.fixture(scope="module")
def image() -> Image:
    return read_dockerfile()


@pytest.fixture(scope="module")
def image_venv(image: Image, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """Reach installed as the image installs it."""
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    flags = [flag for flag in image.pip_flags if flag not in NOT_IN_TESTS]
    requirement = f"{wheel}[{','.join(image.extras)}]"
    return fresh_venv(tmp_path_factory.mktemp("image") / "venv", requirement, flags)


def image_environment(
    image: Image, venv: Venv, data_dir: Path, database_url: str
) -> dict[str, str]:
    """The image's environment, on this machine: its data directory in ``data_dir``, a free
    port on the loopback interface, its PATH with the environment's bin first."""
    env = clean_environment(**{k: v for k, v in image.env.items() if k != "PATH"})
    env["PATH"] = (
        image.env["PATH"]
        .replace("/opt/reach/bin", str(venv.bin))
        .replace("$PATH", env.get("PATH", ""))
    )
    env |= {"REACH_DATA_DIR": str(data_dir), "REACH_HOST": HOST, "REACH_PORT": str(free_port())}
    if not database_url.startswith("sqlite"):
        env["REACH_DATABASE_URL"] = database_url  # as compose.yaml does
    return env


def test_the_dockerfile_installs_the_extras_and_starts_with_boot(image: Image) -> None:
    assert set(image.extras) == {"postgresql", "lookalike"}
    assert image.start_command == ["reach", "boot"]
    assert image.env["REACH_DATA_DIR"] == "/data"
    assert "/readyz" in image.healthcheck


def test_the_image_content_migrates_creates_a_client_once_and_serves(
    image: Image, image_venv: Venv, database_url: str, tmp_path: Path
) -> None:
    wipe(database_url)
    env = image_environment(image, image_venv, tmp_path / "data", database_url)
    with started(image.start_command, env, tmp_path / "logs") as first:
        [credentials] = printed_credentials(first.output())
        token = access_token(first.url, credentials["client_id"], credentials["client_secret"])
        assert advertisers_of(first.url, token) == ["1001"]
        status, _ = request(first.url, "GET", "/readyz")
        assert status == 200
        # The image's own health check command, as the container engine runs it.
        health = json.loads(image.healthcheck.partition("CMD ")[2])
        subprocess.run(health, env=env, check=True, timeout=30)
    with started(image.start_command, env, tmp_path / "logs") as again:
        # A restart: the same client, its secret never shown again, no second client.
        assert printed_credentials(again.everything()) == []
        assert credentials["client_secret"] not in again.everything()
        token = access_token(again.url, credentials["client_id"], credentials["client_secret"])
        assert advertisers_of(again.url, token) == ["1001"]
    listed = subprocess.run(
        [str(image_venv.bin / "reach"), "clients", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.count("first-client") == 1


def test_boot_with_chosen_credentials_never_shows_the_secret(
    database_url: str, tmp_path: Path
) -> None:
    wipe(database_url)
    secret = "boot-chosen-secret-" + uuid.uuid4().hex
    env = clean_environment(
        REACH_DATA_DIR=str(tmp_path / "data"),
        REACH_DATABASE_URL=database_url,
        REACH_PORT=str(free_port()),
        REACH_BOOT_CLIENT_ID="ops-client",
        REACH_BOOT_CLIENT_SECRET=secret,
        REACH_BOOT_ADVERTISERS="42 43",
    )
    for _ in range(2):  # and again, as at a container's restart
        with started([*reach_command(), "boot"], env, tmp_path / "logs") as server:
            token = access_token(server.url, "ops-client", secret)
            assert sorted(advertisers_of(server.url, token)) == ["42", "43"]
        assert secret not in server.everything()
        assert printed_credentials(server.everything()) == []


def test_boot_wants_both_the_client_id_and_its_secret(tmp_path: Path) -> None:
    env = clean_environment(REACH_DATA_DIR=str(tmp_path / "data"), REACH_BOOT_CLIENT_ID="alone")
    completed = subprocess.run(
        [*reach_command(), "boot"], env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 2
    assert "REACH_BOOT_CLIENT_SECRET" in completed.stderr
    assert not (tmp_path / "data").exists()  # refused before anything changed


def container_engine() -> str | None:
    """Why no image can be built here, or None when a container engine answers."""
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    answer = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if answer.returncode != 0:
        lines = (answer.stderr or answer.stdout).strip().splitlines()
        return "docker info failed: " + (lines[-1] if lines else f"exit {answer.returncode}")
    return None


def test_the_image_builds_starts_and_serves(tmp_path: Path) -> None:
    missing = container_engine()
    if missing is not None:
        pytest.skip(f"no container engine answers ({missing}): the image is not built here")
    tag = f"reach-test:{uuid.uuid4().hex[:12]}"
    name = f"reach-test-{uuid.uuid4().hex[:12]}"
    port = free_port()
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=DOCKER_SECONDS)
    try:
        subprocess.run(
            ["docker", "run", "-d", "--name", name, "-p", f"{HOST}:{port}:8080", tag],
            check=True,
            capture_output=True,
        )
        url = f"http://{HOST}:{port}"
        wait_ready(url, None, None)
        logs = subprocess.run(
            ["docker", "logs", name], capture_output=True, text=True, check=True
        ).stdout
        [credentials] = printed_credentials(logs)
        token = access_token(url, credentials["client_id"], credentials["client_secret"])
        assert advertisers_of(url, token) == ["1001"]
        user = subprocess.run(
            ["docker", "exec", name, "id", "-u"], capture_output=True, text=True, check=True
        )
        assert user.stdout.strip() != "0"
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
