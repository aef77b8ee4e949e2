"""ASGI middleware: a trace id for every call, echoed in a header next to rate-limit headers,
and what each call was (its ``Call``) handed to observers: the access log, the metrics."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bound_contextvars

from reach.kit.problems import InternalError, Problem
from reach.kit.ratelimit import RateLimitState

TRACE_HEADER = b"x-trace-id"
# Where authentication leaves the caller (an object with ``client_id`` and ``advertiser_ids``),
# and where the codes of the problems answered are gathered, in the call's state.
PRINCIPAL_KEY = "principal"
PROBLEM_CODES_KEY = "problem_codes"
# What a call that matched no route is counted as: never its raw path, which a caller chooses.
UNMATCHED = "unmatched"


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP call as it ended; nothing of its query string, headers or body."""

    trace_id: str
    method: str
    path: str
    # The route's operation id, else its path template; ``UNMATCHED`` when no route matched.
    operation: str
    api_version: str | None
    status: int
    seconds: float
    client_id: str | None = None
    advertiser_ids: frozenset[int] = frozenset()
    problems: tuple[str, ...] = field(default=())


Observer = Callable[[Call], None]


def operation_of(scope: Scope) -> str:
    """The route a call matched, by name: its operation id, else its path template."""
    route = scope.get("route")
    if route is None:
        return UNMATCHED
    operation = getattr(route, "operation_id", None) or getattr(route, "path", None)
    return str(operation) if operation else UNMATCHED


def new_trace_id() -> str:
    return uuid.uuid4().hex


def trace_id_of(request: Request) -> str:
    """The call's trace id (one is made for a call that never passed the middleware)."""
    trace_id: str | None = getattr(request.state, "trace_id", None)
    if trace_id is None:
        trace_id = request.state.trace_id = new_trace_id()
    return trace_id


def wire_problems(request: Request, problems: Iterable[Problem]) -> list[dict[str, Any]]:
    """Problems as sent. Each occurrence has its own ``traceId``: the call's trace id (the
    ``x-trace-id`` header) and the problem's number in the answer, ``<trace>-1``, ``<trace>-2``,
    numbered across the answer's errors and warnings, so any one leads to the call's logs."""
    trace_id = trace_id_of(request)
    codes: list[str] = request.state._state.setdefault(PROBLEM_CODES_KEY, [])
    wired = []
    for problem in problems:
        number = getattr(request.state, "problems_sent", 0) + 1
        request.state.problems_sent = number
        codes.append(problem.code)
        wired.append(problem.to_wire(trace_id=f"{trace_id}-{number}", instance=request.url.path))
    return wired


def add_warnings(request: Request, problems: Iterable[Problem]) -> None:
    """Warnings about the request itself (e.g. ignored members), added to whatever answer the
    call ends with: the ``warnings`` list of its JSON body."""
    pending: list[Problem] = request.state._state.setdefault("pending_warnings", [])
    pending.extend(problems)


def _with_warnings(body: bytes, warnings: list[dict[str, Any]]) -> bytes:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if isinstance(document, dict) and isinstance(document.get("warnings"), list):
        document["warnings"].extend(warnings)
        return orjson.dumps(document)
    return body


class TraceMiddleware:
    """Gives each HTTP call a trace id (``request.state.trace_id``) and adds it to the answer.

    The answer also carries the ``x-ratelimit-*`` headers when authentication counted the call,
    and the warnings ``add_warnings`` left for it. Whatever is logged while the call runs carries
    its trace id; once it is answered, each of ``observers`` is told what the call was.
    """

    def __init__(self, app: ASGIApp, observers: Sequence[Observer] = ()) -> None:
        self.app = app
        self.observers = tuple(observers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        trace_id = new_trace_id()
        state["trace_id"] = trace_id
        status = 500

        held: list[Message] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((TRACE_HEADER, trace_id.encode()))
                rate: RateLimitState | None = state.get("rate_limit")
                if rate is not None:
                    headers.extend(rate.headers())
                message["headers"] = headers
                if state.get("pending_warnings"):
                    held.append(message)
                    return
            elif held:
                held.append(message)
                if message.get("more_body", False):
                    return
                # Numbered last, after every problem the handler sent.
                warnings = wire_problems(Request(scope), state["pending_warnings"])
                await _send_held(send, held, warnings)
                return
            await send(message)

        with bound_contextvars(trace_id=trace_id):
            try:
                await self.app(scope, receive, send_with_headers)
            except Exception:
                # Answered by the outermost layer, as an internal error, after this one.
                state.setdefault(PROBLEM_CODES_KEY, []).append(InternalError.code)
                status = 500
                raise
            finally:
                if self.observers:
                    self._observe(scope, state, trace_id, status, started)

    def _observe(
        self, scope: Scope, state: dict[str, Any], trace_id: str, status: int, started: float
    ) -> None:
        principal = state.get(PRINCIPAL_KEY)
        call = Call(
            trace_id=trace_id,
            method=scope["method"],
            path=scope["path"],
            operation=operation_of(scope),
            api_version=scope.get("path_params", {}).get("api_version"),
            status=status,
            seconds=time.perf_counter() - started,
            client_id=getattr(principal, "client_id", None),
            advertiser_ids=getattr(principal, "advertiser_ids", frozenset()),
            problems=tuple(state.get(PROBLEM_CODES_KEY, ())),
        )
        for observe in self.observers:
            observe(call)


async def _send_held(send: Send, held: list[Message], warnings: list[dict[str, Any]]) -> None:
    """Send a held answer with ``warnings`` added to its JSON body."""
    start, *parts = held
    body = _with_warnings(b"".join(part.get("body", b"") for part in parts), warnings)
    start["headers"] = [
        (name, str(len(body)).encode() if name.lower() == b"content-length" else value)
        for name, value in start["headers"]
    ]
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})
