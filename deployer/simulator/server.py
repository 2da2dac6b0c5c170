"""A tiny threaded JSON server on 127.0.0.1 that records every request: the simulators' base."""

from __future__ import annotations

import json
import threading
import time
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

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"


class SimulatedServer:
    """Subclasses implement `handle(request) -> Reply`; `start()` serves on a free loopback port.

    Its clock runs `speed` times faster than real time, so long deployments can be simulated quickly.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, speed: float = 1.0) -> None:
        self.speed = speed
        self._t0 = time.monotonic()
        self._epoch = datetime.now(timezone.utc)
        self.requests: list[Request] = []
        self._lock = threading.RLock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with server._lock:
                    server.requests.append(request)
                    reply = server.handle(request)
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

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:  # keep test and demo output clean
                pass

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        """Simulated seconds since the server started."""
        return (time.monotonic() - self._t0) * self.speed

    def wall(self, at: float) -> datetime:
        """The wall-clock time of simulated second `at`."""
        return self._epoch + timedelta(seconds=at)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def start(self) -> "SimulatedServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "SimulatedServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
