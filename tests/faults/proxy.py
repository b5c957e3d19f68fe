"""A fault-injecting HTTP proxy on 127.0.0.1, in front of a real test server.

:class:`FaultProxy` forwards every request to the upstream server, one request per connection
(``Connection: close`` both ways, so each request can be judged on its own), and applies the
first :class:`Fault` of its schedule whose pattern matches the request (``"POST /api/…"``
against a regular expression) on its n-th match. Each fault fires once. Kinds:

``503``, ``429``
    answered by the proxy, the request never reaches the server (``429`` with ``Retry-After: 1``);
``502-after``
    the server handles the request, the client gets a 502 instead of the answer;
``reset``, ``reset-after``
    the connection is reset before forwarding, or after the server has handled the request;
``timeout-after``
    the server handles the request; the client gets no answer for ``hold`` seconds, then a reset;
``truncate``
    the answer's headers and part of its body are sent, then the connection is reset;
``call``, ``call-after``
    ``action()`` runs (e.g. SIGKILL the server or the client) before the request is forwarded,
    or once the server has handled it; then the request goes on as usual (if it still can).

It runs its own asyncio loop in a thread. Example::

    with FaultProxy("127.0.0.1", 8080, [Fault("POST /api/projects/\\d+/import", "reset-after")]) as proxy:
        ...  # point the client at proxy.url
        assert proxy.fired == ["reset-after POST /api/projects/1/import"]
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

KINDS = ("503", "429", "502-after", "reset", "reset-after", "timeout-after", "truncate", "call", "call-after")


@dataclass
class Fault:
    """Inject ``kind`` into the ``nth`` request (1-based) whose ``"METHOD /path?query"`` matches ``pattern``."""

    pattern: str
    kind: str
    nth: int = 1
    hold: float = 3.0
    action: Callable[[], None] | None = None
    seen: int = field(default=0, init=False)
    done: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a crashed peer or a middlebox would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


def _close_header(head: bytes) -> bytes:
    """Replace the ``Connection`` header of a request or response head with ``close``."""
    lines = head.split(b"\r\n")
    kept = [ln for ln in lines[1:] if ln and not ln.lower().startswith((b"connection:", b"keep-alive:"))]
    return b"\r\n".join([lines[0], *kept, b"Connection: close", b"", b""])


def _status(code: int, reason: str, extra: str = "") -> bytes:
    body = f'{{"detail": "injected {code} {reason}"}}'.encode()
    return (f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{extra}Connection: close\r\n\r\n").encode() + body


class FaultProxy:
    """See the module docstring."""

    def __init__(self, upstream_host: str, upstream_port: int, faults: list[Fault] | None = None) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.faults = list(faults or [])
        self.fired: list[str] = []
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop).result(10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _pick(self, request_line: str) -> Fault | None:
        for fault in self.faults:
            if fault.done or not re.search(fault.pattern, request_line):
                continue
            fault.seen += 1
            if fault.seen == fault.nth:
                fault.done = True
                self.fired.append(f"{fault.kind} {request_line}")
                return fault
        return None

    async def _read_request(self, reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return None
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
            elif name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            body = b""
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                chunk = await reader.readexactly(size + 2)
                body += size_line + chunk
                if size == 0:
                    break
        else:
            body = await reader.readexactly(length) if length else b""
        return head, body

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await self._read_request(reader)
            if request is None:
                writer.close()
                return
            head, body = request
            self.requests += 1
            method, target = head.split(b" ", 2)[:2]
            fault = self._pick(f"{method.decode()} {target.decode()}")
            kind = fault.kind if fault else None
            if kind == "503":
                writer.write(_status(503, "Service Unavailable"))
                await writer.drain()
                writer.close()
                return
            if kind == "429":
                writer.write(_status(429, "Too Many Requests", "Retry-After: 1\r\n"))
                await writer.drain()
                writer.close()
                return
            if kind == "reset":
                _reset(writer)
                return
            if kind == "call" and fault is not None and fault.action is not None:
                await asyncio.get_running_loop().run_in_executor(None, fault.action)
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:  # the server is gone: what a client sees then
                _reset(writer)
                return
            up_writer.write(_close_header(head) + body)
            await up_writer.drain()
            if kind in ("502-after", "reset-after", "timeout-after", "call-after"):
                while await up_reader.read(1 << 16):  # the server handles it completely
                    pass
                up_writer.close()
                if kind == "call-after" and fault is not None and fault.action is not None:
                    await asyncio.get_running_loop().run_in_executor(None, fault.action)
                    _reset(writer)
                elif kind == "502-after":
                    writer.write(_status(502, "Bad Gateway"))
                    await writer.drain()
                    writer.close()
                elif kind == "timeout-after":
                    await asyncio.sleep(fault.hold if fault else 0)
                    _reset(writer)
                else:
                    _reset(writer)
                return
            try:
                resp_head = await up_reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                _reset(writer)
                return
            writer.write(_close_header(resp_head))
            sent = 0
            while True:
                chunk = await up_reader.read(1 << 16)
                if not chunk:
                    break
                if kind == "truncate" and sent + len(chunk) > 64:
                    writer.write(chunk[: max(0, 64 - sent)])
                    await writer.drain()
                    up_writer.close()
                    _reset(writer)
                    return
                writer.write(chunk)
                sent += len(chunk)
                await writer.drain()
            up_writer.close()
            await writer.drain()
            writer.close()
        except (ConnectionError, asyncio.IncompleteReadError):
            _reset(writer)
