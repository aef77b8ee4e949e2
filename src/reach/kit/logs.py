"""Logging: every log line of a Reach process rendered by structlog, JSON or readable text, and
the one line per HTTP call (the access log).

Reach's modules, uvicorn and gunicorn log through the standard library; structlog's
``ProcessorFormatter`` on the root logger renders each record, so a JSON consumer never meets a
plain line. Fields given as ``extra`` become fields of the line; the call's trace id is added to
whatever is logged while the call runs.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

if TYPE_CHECKING:
    from reach.config import Settings
    from reach.kit.middleware import Call

ACCESS_LOGGER = "reach.access"
access_log = logging.getLogger(ACCESS_LOGGER)


def renders_json(settings: Settings) -> bool:
    """JSON lines unless asked for text, or, by default, when standard error is a terminal."""
    if settings.log_format == "auto":
        return not sys.stderr.isatty()
    return settings.log_format == "json"


def _without_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # uvicorn gives some records a copy of their message with terminal colours.
    event_dict.pop("color_message", None)
    return event_dict


def _json(document: Any, **_: Any) -> str:
    return orjson.dumps(document, default=str).decode()


def _shared() -> list[Processor]:
    """What every line gets, whether a standard-library logger or structlog's made it."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def formatter(json: bool) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of every Reach log line: JSON (tracebacks in an ``exception`` field) or
    readable ``key=value`` text."""
    rendering: list[Processor]
    if json:
        rendering = [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_json),
        ]
    else:
        rendering = [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared(), structlog.stdlib.ExtraAdder(), _without_color_message],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    )


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of a Reach server process, for uvicorn's
    ``log_config`` and gunicorn's ``logconfig_dict``: one handler on standard error, on the
    root logger, that every logger propagates to. uvicorn's and gunicorn's access logs are off:
    Reach logs each call itself (``REACH_ACCESS_LOG``)."""
    level = settings.log_level.upper()
    quiet = {"handlers": [], "propagate": False, "level": "CRITICAL"}
    through_root = {"handlers": [], "propagate": True, "level": level}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "reach": {
                "()": formatter,
                "json": renders_json(settings),
            }
        },
        "handlers": {
            "reach": {
                "class": "logging.StreamHandler",
                "formatter": "reach",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["reach"], "level": level},
        "loggers": {
            "reach": through_root,
            ACCESS_LOGGER: {
                "handlers": [],
                "propagate": True,
                "level": "INFO" if settings.access_log else "CRITICAL",
            },
            "uvicorn": through_root,
            "uvicorn.error": through_root,
            "uvicorn.access": quiet,
            "gunicorn.error": through_root,
            "gunicorn.access": quiet,
            # Readiness reads the schema's revision: alembic would say so at every probe.
            "alembic.runtime.migration": {"handlers": [], "propagate": True, "level": "WARNING"},
        },
    }


def configure_logging(settings: Settings) -> None:
    """Set up this process's logging as ``settings`` say (again on every call: idempotent), and
    structlog's own loggers to go the same way."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(uvicorn_log_config(settings))


def log_call(call: Call) -> None:
    """The access-log line of one HTTP call: who (client id, advertiser ids; never a token),
    what (method, path without its query, operation, API version) and how it ended (status,
    duration, the codes of the problems answered)."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    fields: dict[str, Any] = {
        "trace_id": call.trace_id,
        "method": call.method,
        "path": call.path,
        "operation": call.operation,
        "api_version": call.api_version,
        "status": call.status,
        "duration_ms": round(call.seconds * 1000, 3),
        "problems": list(call.problems),
    }
    if call.client_id is not None:
        fields["client_id"] = call.client_id
        fields["advertiser_ids"] = [str(a) for a in sorted(call.advertiser_ids)]
    access_log.info("request", extra=fields)
