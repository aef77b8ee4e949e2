"""The request journal: the last calls of each client, as the server saw and answered them.

``JournalMiddleware`` is a pure ASGI middleware, installed only when the sandbox is on. It keeps
a copy of each API call's JSON body, with the identifiers of contact lists replaced (a list by
its count) and anything named like a secret or a token blanked, never a header, and only its
first ``BODY_KEPT_BYTES`` once elided; of the answer it keeps the status and the codes of its
problems.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson
from pydantic import ConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reach.kit.clock import Clock
from reach.kit.middleware import TRACE_HEADER
from reach.kit.wire import ResponseModel
from reach.versions import version_of

BODY_KEPT_BYTES = 64 * 1024
# Problem codes are read from answers up to this size (error answers are far smaller).
ANSWER_READ_BYTES = 1024 * 1024
SECRET_WORDS = ("secret", "token", "password", "authorization")
# The state key under which authentication leaves the caller's client id.
CLIENT_KEY = "sandbox_client"
FAULT_KEY = "sandbox_fault"


class JournalEntry(ResponseModel):
    """One call as the journal keeps it, and as ``GET /_reach/journal`` shows it."""

    model_config = ConfigDict(frozen=True)

    sequence: int
    at: datetime
    client_id: str | None
    method: str
    path: str
    api_version: str | None
    operation: str | None
    status: int
    trace_id: str | None
    problem_codes: list[str]
    warning_codes: list[str]
    duration_ms: float
    body: Any
    body_bytes: int
    body_truncated: bool
    fault: dict[str, str] | None


class Journal:
    """The last ``size`` entries of each client (and of calls whose caller is unknown)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: dict[str | None, deque[JournalEntry]] = {}
        self._sequence = 0

    def next_sequence(self) -> int:
        with self._lock:
            self._sequence += 1
            return self._sequence

    def add(self, entry: JournalEntry) -> None:
        with self._lock:
            kept = self._entries.get(entry.client_id)
            if kept is None:
                kept = self._entries[entry.client_id] = deque(maxlen=self.size)
            kept.append(entry)

    def entries(
        self, client_id: str | None, *, everyone: bool, limit: int | None
    ) -> list[JournalEntry]:
        """The newest ``limit`` entries (all when None), in order of arrival: of one client
        (None: calls whose caller is unknown), or of ``everyone``."""
        with self._lock:
            kept: Iterable[JournalEntry]
            if everyone:
                kept = (e for entries in self._entries.values() for e in entries)
            else:
                kept = iter(self._entries.get(client_id, ()))
            found = sorted(kept, key=lambda e: e.sequence)
        if limit is None:
            return found
        return found[len(found) - limit :] if limit else []

    def clear(self) -> int:
        with self._lock:
            cleared = sum(len(kept) for kept in self._entries.values())
            self._entries = {}
        return cleared


def elided(document: Any) -> Any:
    """``document`` with whatever stands under an ``identifiers`` member replaced (a list by
    its count), and every member named like a secret blanked, whatever their type."""
    if isinstance(document, dict):
        kept: dict[str, Any] = {}
        for key, value in document.items():
            lowered = str(key).lower()
            if lowered == "identifiers":
                kept[key] = (
                    f"<{len(value)} identifiers elided>"
                    if isinstance(value, list)
                    else "<identifiers elided>"
                )
            elif any(word in lowered for word in SECRET_WORDS):
                kept[key] = "<elided>"
            else:
                kept[key] = elided(value)
        return kept
    if isinstance(document, list):
        return [elided(value) for value in document]
    return document


def kept_body(raw: bytes, content_type: str) -> tuple[Any, bool]:
    """What the journal keeps of a request body: the elided JSON document, or the first
    ``BODY_KEPT_BYTES`` of its text when longer (then True). Anything but JSON is not kept."""
    if not raw or "json" not in content_type.lower():
        return None, False
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, False
    text = orjson.dumps(elided(document))
    if len(text) <= BODY_KEPT_BYTES:
        return orjson.loads(text), False
    return text[:BODY_KEPT_BYTES].decode(errors="ignore"), True


def problem_codes(raw: bytes, member: str) -> list[str]:
    """The ``code`` of each problem listed under ``member`` of a JSON answer."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    listed = document.get(member) if isinstance(document, dict) else None
    if not isinstance(listed, list):
        return []
    return [str(p["code"]) for p in listed if isinstance(p, dict) and "code" in p]


def _header(headers: Iterator[tuple[bytes, bytes]], name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), "")


# How long the journal waits for the rest of a body the call did not read.
REST_READ_SECONDS = 2.0


def _announces_no_body(scope: Scope) -> bool:
    """A request that says it has no body (no Content-Length or zero, and not chunked)."""
    headers = dict(scope.get("headers", []))
    length = headers.get(b"content-length", b"0").strip()
    return b"transfer-encoding" not in headers and (not length.isdigit() or int(length) == 0)


class JournalMiddleware:
    """Records every API call (the paths under a version) in the journal."""

    def __init__(self, app: ASGIApp, journal: Journal, clock: Clock, max_body_bytes: int) -> None:
        self.app = app
        self.journal = journal
        self.clock = clock
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or version_of(scope["path"]) is None:
            await self.app(scope, receive, send)
            return
        # Numbered on arrival: a call that takes long (a latency fault) keeps its place.
        sequence = self.journal.next_sequence()
        at = self.clock.now()
        started = time.perf_counter()
        body = bytearray()
        body_bytes = 0
        # Whether the request's body was read to its end (by the app, or here).
        body_read = _announces_no_body(scope)
        answer = bytearray()
        answered: dict[str, Any] = {"status": 500, "headers": []}

        async def receive_copy() -> Message:
            nonlocal body_bytes, body_read
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                body_bytes += len(chunk)
                # Past the server's own limit the call is refused anyway (413).
                if len(body) + len(chunk) <= self.max_body_bytes:
                    body.extend(chunk)
                body_read = not message.get("more_body", False)
            elif message["type"] == "http.disconnect":
                body_read = True
            return message

        async def read_rest() -> None:
            """The body a call answered before reading it (a fault, a refused token): read
            here, before the answer starts, while the server still hands it over."""
            while not body_read and body_bytes <= self.max_body_bytes:
                await receive_copy()

        async def send_copy(message: Message) -> None:
            if message["type"] == "http.response.start":
                if not body_read:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(read_rest(), REST_READ_SECONDS)
                answered["status"] = message["status"]
                answered["headers"] = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if len(answer) + len(chunk) <= ANSWER_READ_BYTES:
                    answer.extend(chunk)
            await send(message)

        try:
            await self.app(scope, receive_copy, send_copy)
        finally:
            self._record(
                scope, sequence, at, started, bytes(body), body_bytes, bytes(answer), answered
            )

    def _record(
        self,
        scope: Scope,
        sequence: int,
        at: datetime,
        started: float,
        body: bytes,
        body_bytes: int,
        answer: bytes,
        answered: dict[str, Any],
    ) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        request_headers = scope.get("headers", [])
        kept, truncated = kept_body(
            body if len(body) == body_bytes else b"",
            _header(iter(request_headers), b"content-type"),
        )
        truncated = truncated or (body_bytes > 0 and len(body) < body_bytes)
        headers = answered["headers"]
        is_json = "json" in _header(iter(headers), b"content-type")
        state = scope.get("state", {})
        route = scope.get("route")
        self.journal.add(
            JournalEntry(
                sequence=sequence,
                at=at,
                client_id=state.get(CLIENT_KEY),
                method=scope["method"],
                path=scope["path"],
                api_version=version_of(scope["path"]),
                operation=getattr(route, "operation_id", None),
                status=answered["status"],
                trace_id=_header(iter(headers), TRACE_HEADER) or state.get("trace_id"),
                problem_codes=problem_codes(answer, "errors") if is_json else [],
                warning_codes=problem_codes(answer, "warnings") if is_json else [],
                duration_ms=round(duration_ms, 3),
                body=kept,
                body_bytes=body_bytes,
                body_truncated=truncated,
                fault=state.get(FAULT_KEY),
            )
        )
