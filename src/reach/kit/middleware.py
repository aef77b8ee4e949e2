"""ASGI middleware: a trace id for every call, echoed in a header next to rate-limit headers."""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reach.kit.ratelimit import RateLimitState

TRACE_HEADER = b"x-trace-id"


def new_trace_id() -> str:
    return uuid.uuid4().hex


class TraceMiddleware:
    """Gives each HTTP call a trace id (``request.state.trace_id``) and adds it to the answer.

    The answer also carries the ``x-ratelimit-*`` headers when authentication counted the call.
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

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((TRACE_HEADER, trace_id.encode()))
                rate: RateLimitState | None = state.get("rate_limit")
                if rate is not None:
                    headers.extend(rate.headers())
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
