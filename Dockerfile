# Reach's container image (README, "Run with Docker"). The first stage builds Reach's wheel; the
# second installs it, with PostgreSQL and lookalike support, into a virtual environment on a
# slim Python, and runs it as an unprivileged user. tests/deploy/test_image.py installs and
# starts the wheel exactly as this file says, and builds and runs the image where Docker is.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src/ src/
COPY migrations/ migrations/
# The build backend (hatchling) comes from pyproject.toml's build-system.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/reach/bin:$PATH \
    REACH_DATA_DIR=/data \
    REACH_HOST=0.0.0.0 \
    REACH_PORT=8080
# pg_dump and pg_restore for `reach backup` of a PostgreSQL store: Debian's client (major 15),
# which dumps servers up to 15 (compose.yaml runs PostgreSQL 15 for that reason).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --user-group --uid 10001 --home-dir /data --no-create-home reach \
    && install --directory --owner=reach --group=reach --mode=0700 /data
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/reach \
    && /opt/reach/bin/pip install --no-cache-dir "$(echo /wheels/reach_audiences-*.whl)[postgresql,lookalike]"
USER 10001:10001
WORKDIR /data
# The SQLite store (when REACH_DATABASE_URL is unset), the server key, event data, the index,
# contact lists and lookalike models.
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['REACH_PORT'] + '/readyz', timeout=4)"]
ENTRYPOINT ["reach"]
# Migrate, make sure a first client exists (printed once when generated), then serve.
CMD ["boot"]
