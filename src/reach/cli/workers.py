"""``reach serve --workers N``: N server processes sharing one port.

gunicorn's arbiter owns the listening socket and N uvicorn workers: it forks them from a master
that built the app first (``preload_app``), so the imported code and everything the app loaded
is shared copy-on-write, replaces a worker that dies and stops them all gracefully on SIGTERM.
Each worker speaks HTTP as a single ``reach serve`` process does (the bounded request head, no
proxy headers, no server header, the same access log).

What must not be shared between processes is opened again in each worker after the fork: the
metadata store's connections (the pool is dropped, not closed, in the child), the rate-limit
store and the lookalike worker (both open on first use), and Prometheus's per-process files.
This module is imported by ``reach serve`` only when it runs several workers."""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any

# Neither gunicorn nor uvicorn-worker ships type information.
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.workers.base import Worker  # type: ignore[import-untyped]
from uvicorn.config import Config
from uvicorn_worker import UvicornWorker  # type: ignore[import-untyped]

from reach.cli.protocol import HeadLimits, bounded_protocol
from reach.kit.logs import uvicorn_log_config

if TYPE_CHECKING:
    from fastapi import FastAPI
    from gunicorn.arbiter import Arbiter  # type: ignore[import-untyped]

    from reach.config import Settings

# uvicorn's own keep-alive: a single-process server and a worker close idle connections alike.
KEEP_ALIVE_SECONDS = 5
# How long a stopping worker may finish the calls it has (SIGTERM), and how long a worker may
# go without telling the master it is alive before it is replaced.
GRACEFUL_SECONDS = 30
SILENT_WORKER_SECONDS = 60
METRICS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"


def worker_class(settings: Settings) -> type[UvicornWorker]:
    """uvicorn's gunicorn worker, serving as ``reach serve`` does with one process."""
    limits = HeadLimits.from_settings(settings)

    class ReachWorker(UvicornWorker):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # gunicorn's worker, without what UvicornWorker adds to it: handing uvicorn's
            # loggers to gunicorn's handlers (Reach's logging, set up once in the master, stays
            # as a single process has it) and a configuration of its own.
            Worker.__init__(self, *args, **kwargs)
            self.config = Config(
                # The app the master loaded before forking (``preload_app``).
                app=self.app.wsgi(),
                loop="auto",
                http=bounded_protocol(limits),
                log_config=None,
                log_level=settings.log_level,
                # Reach logs each call itself (REACH_ACCESS_LOG), as with one process.
                access_log=False,
                proxy_headers=False,
                server_header=False,
                timeout_keep_alive=self.cfg.keepalive,
                timeout_notify=self.timeout,
                callback_notify=self.callback_notify,
                limit_max_requests=self.max_requests,
                backlog=self.cfg.backlog,
            )

    return ReachWorker


def bind_address(host: str, port: int) -> str:
    """gunicorn's ``bind`` of an address: an IPv6 address goes in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Workers(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured in code (no configuration file, no command line of its own)."""

    def __init__(self, app: FastAPI, settings: Settings, host: str, port: int, count: int) -> None:
        self.application = app
        self.options: dict[str, Any] = {
            "bind": [bind_address(host, port)],
            "workers": count,
            "worker_class": worker_class(settings),
            "preload_app": True,
            "keepalive": KEEP_ALIVE_SECONDS,
            "graceful_timeout": GRACEFUL_SECONDS,
            "timeout": SILENT_WORKER_SECONDS,
            "loglevel": settings.log_level,
            # gunicorn's own lines (workers booted, exited, replaced) rendered like Reach's.
            "logconfig_dict": uvicorn_log_config(settings),
            "post_fork": self.post_fork,
            "child_exit": child_exit,
        }
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn 24+ opens a control socket in the home directory; Reach is stopped and
            # scaled by signals, as with one process.
            self.cfg.set("control_socket_disable", True)

    def load(self) -> FastAPI:
        return self.application

    def post_fork(self, _arbiter: Arbiter, _worker: Worker) -> None:
        """In the new worker: the store's connections opened by the master belong to the
        master; the worker forgets them (without closing them) and opens its own."""
        self.application.state.database.engine.dispose(close=False)


def child_exit(_arbiter: Arbiter, worker: Worker) -> None:
    """In the master, once a worker has exited: its metrics files are merged into the dead
    processes' totals."""
    from reach.kit.metrics import process_exited  # noqa: PLC0415

    process_exited(worker.pid)


def run_workers(settings: Settings, host: str, port: int, count: int) -> None:
    """Serve with ``count`` worker processes until SIGTERM (or SIGINT)."""
    master = os.getpid()
    own_metrics = METRICS_DIRECTORY not in os.environ
    if own_metrics:
        # Before anything imports prometheus_client: every worker writes its own files there.
        os.environ[METRICS_DIRECTORY] = tempfile.mkdtemp(prefix="reach-metrics-")
    try:
        from reach.app import create_app  # noqa: PLC0415
        from reach.kit.logs import configure_logging  # noqa: PLC0415

        # Before the app is built: what it logs at start is rendered like the rest.
        configure_logging(settings)
        app = create_app(settings.model_copy(update={"workers": count}))
        # What the master loaded lives as long as every worker: frozen out of the collector's
        # full passes, which would otherwise touch (and so copy) the shared pages in each one.
        gc.collect()
        gc.freeze()
        Workers(app, settings, host, port, count).run()
    finally:
        # Workers leave through here too (gunicorn's fork returns into this call).
        if own_metrics and os.getpid() == master:
            shutil.rmtree(os.environ.pop(METRICS_DIRECTORY), ignore_errors=True)
