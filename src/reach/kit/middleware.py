"""ASGI middleware: a trace id for every call, echoed in a header next to rate-limit headers."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reach.kit.problems import Problem
from reach.kit.ratelimit import RateLimitState

TRACE_HEADER = b"x-trace-id"


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
    wired = []
    for problem in problems:
        number = getattr(request.state, "problems_sent", 0) + 1
        request.state.problems_sent = number
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
    and the warnings ``add_warnings`` left for it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        trace_id = new_trace_id()
        state["trace_id"] = trace_id

        held: list[Message] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
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

        await self.app(scope, receive, send_with_headers)


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
