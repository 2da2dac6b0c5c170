"""A tiny threaded JSON server on 127.0.0.1 that records every request: the simulators' base."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One request as the server saw it; tests check these against the OpenAPI documents."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    at: float = field(default_factory=time.monotonic)  # when it arrived

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"
    #: Seconds to wait before answering (outside the server's lock: other requests go on meanwhile).
    delay: float = 0.0


_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Peer:
    """The server's end of one WebSocket (RFC 6455, no extensions): text frames out, and the
    client's close and pings read on a thread of its own."""

    def __init__(self, handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        self._handler = handler
        self._send_lock = threading.Lock()
        self._stopping = stopping
        #: Set when the client closed, the connection broke, or the server is stopping.
        self.gone = threading.Event()
        self.sent_close = False
        threading.Thread(target=self._read, daemon=True).start()

    def _frame(self, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, size)
        elif size < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
        with self._send_lock:
            try:
                self._handler.wfile.write(head + payload)
                self._handler.wfile.flush()
            except (OSError, ValueError):  # the client went, or the handler has closed its end
                self.gone.set()

    def send(self, text: str) -> None:
        if not self.gone.is_set():
            self._frame(0x1, text.encode())

    def close(self, code: int | None = None, reason: str = "") -> None:
        """Close from the server's side (no code at all, as `ws.close()` does, when `code` is None)."""
        if not self.sent_close:
            self.sent_close = True
            self._frame(0x8, b"" if code is None else struct.pack("!H", code) + reason.encode())
        self.gone.wait(1.0)

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds`; True while the socket is still open and the server running."""
        self.gone.wait(seconds)
        if self._stopping.is_set():
            self.gone.set()
        return not self.gone.is_set()

    def _read(self) -> None:
        read = self._handler.rfile.read
        try:
            while True:
                head = read(2)
                if len(head) < 2:
                    break
                opcode, size = head[0] & 0x0F, head[1] & 0x7F
                if size == 126:
                    size = struct.unpack("!H", read(2))[0]
                elif size == 127:
                    size = struct.unpack("!Q", read(8))[0]
                mask = read(4) if head[1] & 0x80 else b"\0\0\0\0"
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(read(size)))
                if opcode == 0x8:  # the client closes: answer it, as a server must
                    if not self.sent_close:
                        self.sent_close = True
                        self._frame(0x8, payload[:2])
                    break
                if opcode == 0x9:
                    self._frame(0xA, payload)
        except (OSError, ValueError, struct.error):
            pass
        self.gone.set()


#: What a server does with a WebSocket it accepted (a Reply instead refuses the upgrade).
Session = Callable[[Peer], None]

FAULT_KINDS = ("reset", "reset_after", "hang", "5xx", "429", "html", "garbage", "stale", "vanish")


@dataclass
class Faults:
    """Seeded, reproducible faults: each request gets one with probability `rate`.

    reset: the connection drops before the server acts; reset_after: it acts, then drops;
    hang: no answer for `hang_seconds`, then a drop; 5xx: 502/503/504 (503 sometimes with
    Retry-After); 429: Retry-After 1; html: a proxy's HTML page; garbage: it acts, then answers
    truncated JSON; stale: an answer from 2 s ago (out-of-order status); vanish: the deployment
    asked about is deleted.
    """

    seed: int
    rate: float = 0.2
    kinds: tuple[str, ...] = FAULT_KINDS
    hang_seconds: float = 3.0
    log: list[tuple[str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def pick(self, request: Request) -> str | None:
        if self._random.random() >= self.rate:
            return None
        kind = self._random.choice(self.kinds)
        self.log.append((kind, request.method, request.path))
        return kind

    def choice(self, options: list[Any]) -> object:
        return self._random.choice(options)


class SimulatedServer:
    """Subclasses implement `handle(request) -> Reply`; `start()` serves on a free loopback port.

    Its clock runs `speed` times faster than real time, so long deployments can be simulated quickly.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, speed: float = 1.0, faults: Faults | None = None
    ) -> None:
        self.speed = speed
        self.faults = faults
        self._shift = 0.0
        self._t0 = time.monotonic()
        self._epoch = datetime.now(timezone.utc)
        self.requests: list[Request] = []
        self._lock = threading.RLock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                if self.headers.get("Upgrade", "").lower() == "websocket":
                    self._upgrade()
                    return
                length = int(self.headers.get("Content-Length") or 0)
                request = self._request(self.rfile.read(length) if length else b"")
                fault = server.faults.pick(request) if server.faults else None
                if fault in ("reset", "hang"):
                    if fault == "hang":
                        time.sleep(server.faults.hang_seconds)  # type: ignore[union-attr]
                    self._drop()
                    return
                if fault in ("5xx", "429", "html"):
                    self._fake_reply(fault)
                    return
                with server._lock:
                    server.requests.append(request)
                    if fault == "vanish":
                        server.vanish(request)
                    server._shift = -2.0 if fault == "stale" else 0.0
                    try:
                        reply = server.handle(request)
                    finally:
                        server._shift = 0.0
                if reply.delay:
                    time.sleep(reply.delay)
                if fault == "reset_after":
                    self._drop()
                    return
                if fault == "garbage":
                    reply = Reply(reply.status, raw=b'{"deployments": [{"mess', content_type="application/json")
                self._send(reply)

            def _request(self, body: bytes = b"") -> Request:
                parts = urlsplit(self.path)
                return Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )

            def _send(self, reply: Reply) -> None:
                if reply.raw is not None:
                    payload = reply.raw
                elif reply.body is None:
                    payload = b""
                else:
                    payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def _upgrade(self) -> None:
                request = self._request()
                with server._lock:
                    server.requests.append(request)
                session = server.socket(request)
                self.close_connection = True
                if isinstance(session, Reply):  # refused: an ordinary answer
                    self._send(session)
                    return
                digest = hashlib.sha1((request.headers.get("sec-websocket-key", "") + _WS_GUID).encode()).digest()
                self.send_response(101, "Switching Protocols")
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", base64.b64encode(digest).decode())
                self.end_headers()
                self.wfile.flush()
                peer = Peer(self, server._stopping)
                try:
                    session(peer)
                finally:
                    peer.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def _drop(self) -> None:
                """Close with a reset and no answer, like a crashed proxy or a cut connection."""
                self.close_connection = True
                try:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                except OSError:
                    pass

            def _fake_reply(self, fault: str) -> None:
                if fault == "5xx":
                    status = int(str(server.faults.choice([502, 503, 504])))  # type: ignore[union-attr]
                    headers = {"Retry-After": "1"} if status == 503 and server.faults.choice([True, False]) else {}  # type: ignore[union-attr]
                    payload, kind = f"<html><body><h1>{status}</h1>nginx</body></html>".encode(), "text/html"
                elif fault == "429":
                    status, headers = 429, {"Retry-After": "1"}
                    payload, kind = b'{"message":"Too Many Attempts."}', "application/json"
                else:
                    status, headers = 200, {}
                    payload, kind = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>", "text/html"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:  # keep test and demo output clean
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128  # a real server's backlog: many clients connecting at once wait, not fail

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that hangs up mid-answer (a time-out, an answer it would not read) is normal.
                if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                    super().handle_error(request, client_address)

        self._stopping = threading.Event()
        self._httpd = Server((host, port), Handler)
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        """Simulated seconds since the server started."""
        return (time.monotonic() - self._t0) * self.speed + self._shift

    def vanish(self, request: Request) -> None:
        """The 'vanish' fault: forget the deployment this request asks about (simulators override)."""

    def wall(self, at: float) -> datetime:
        """The wall-clock time of simulated second `at`."""
        return self._epoch + timedelta(seconds=at)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def socket(self, request: Request) -> Reply | Session:
        """A WebSocket upgrade: by default refused with a plain 404, as a server without one answers."""
        return Reply(404, {"message": "Not found"})

    def start(self) -> SimulatedServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # open WebSockets end (a tail -f never does by itself)
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> SimulatedServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
