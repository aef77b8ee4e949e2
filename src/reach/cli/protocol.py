"""HTTP as ``reach serve`` speaks it: uvicorn's httptools protocol with a bounded request head
(size, header count, time to send it).

uvicorn bounds neither the head nor the time a client takes to send it: one connection that
sends a header byte by byte, or an endless header, would hold a socket and a growing buffer for
ever. This module is imported by ``reach serve`` only (it loads uvicorn and httptools)."""

from __future__ import annotations

import asyncio
import http
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from reach.config import Settings


@dataclass(frozen=True)
class HeadLimits:
    """What one request head (request line and headers) may be."""

    max_bytes: int
    max_count: int
    timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadLimits:
        return cls(
            settings.max_header_bytes, settings.max_header_count, settings.header_timeout_seconds
        )


# How long a refused connection is still read (and what comes dropped) before it is closed:
# closing a socket with unread data resets it, and the client could lose the answer.
LINGER_SECONDS = 2.0


class HeadTooLarge(Exception):
    """Raised from a parser callback: the head grew past a limit (the parser stops)."""


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, holding every request head to ``limits``.

    The head is counted twice: as bytes arrive, so an unfinished head cannot grow past the cap
    (at most ``max_bytes`` of it are ever handed to the parser), and as the parser completes
    each header, which also holds a head pipelined behind another request to the caps. Its time
    runs from its first byte (or from the connection, for the first request) until its end.
    """

    limits: ClassVar[HeadLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_open = True  # a request head is awaited or arriving
        self._head_received = 0  # bytes handed to the parser since the head opened
        self._head_parsed = 0  # bytes of the head's URL and headers, as parsed
        self._head_count = 0
        self._heads_done = 0  # request heads completed on this connection
        self._head_timer: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str] | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a byte is closed too.
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if not self._head_open:
            super().data_received(data)
            return
        self._start_head_timer()
        heads_done = self._heads_done
        room = self.limits.max_bytes - self._head_received
        self._head_received += min(len(data), room)
        super().data_received(data[:room])
        if len(data) <= room or self._refused or self.transport.is_closing():
            return
        if self._heads_done == heads_done:
            # The cap is reached and the head goes on: refused before the rest is parsed.
            self._refuse(
                http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                f"The request line and headers exceed {self.limits.max_bytes} bytes.",
            )
            return
        self.data_received(data[room:])

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_parsed = 0
        self._head_count = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_parsed += len(url)
        self._check_head()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_parsed += len(name) + len(value) + 4  # ": " and the line break
        self._head_count += 1
        self._check_head()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._heads_done += 1
        self._stop_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_open = True
        self._head_received = 0

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers any parser error with 400; a head refused by a callback gets its own.
        if self._refusal is None:
            super().send_400_response(msg)
        else:
            self._refuse(*self._refusal)

    def _check_head(self) -> None:
        if self._head_count > self.limits.max_count:
            detail = f"The request has more than {self.limits.max_count} headers."
        elif self._head_parsed > self.limits.max_bytes:
            detail = f"The request line and headers exceed {self.limits.max_bytes} bytes."
        else:
            return
        self._refusal = (http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, detail)
        raise HeadTooLarge(detail)

    def _refuse(self, status: int, detail: str) -> None:
        """Answer a problem from outside the application (there is no request to give it), then
        end the connection: no more of it is parsed."""
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        self._stop_head_timer()
        self.logger.warning("Request refused (%d): %s", status, detail)
        phrase = http.HTTPStatus(status).phrase
        problem = {
            "type": "validation",
            "code": phrase.lower().replace(" ", "-"),
            "title": phrase,
            "detail": detail,
        }
        body = json.dumps({"errors": [problem]}).encode()
        head = [f"HTTP/1.1 {status} {phrase}".encode()]
        head += [name + b": " + value for name, value in self.server_state.default_headers]
        head += [
            b"content-type: application/json",
            b"content-length: " + str(len(body)).encode(),
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def _start_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(
                self.limits.timeout_seconds, self._head_timed_out
            )

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_received == 0:
            # Nothing of a request came: there is nobody to answer.
            self.transport.close()
            return
        self._refuse(
            http.HTTPStatus.REQUEST_TIMEOUT,
            f"The request line and headers did not arrive within {self.limits.timeout_seconds:g}"
            " seconds.",
        )


def bounded_protocol(chosen: HeadLimits) -> type[BoundedHeadProtocol]:
    """The protocol class uvicorn builds for each connection, bound to ``chosen`` limits."""

    class ReachHttpProtocol(BoundedHeadProtocol):
        limits = chosen

    return ReachHttpProtocol
