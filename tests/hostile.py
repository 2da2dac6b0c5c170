"""A server on 127.0.0.1 that answers with exactly the bytes a test scripts: trickled, truncated,
huge, mislabelled. It stops by itself when the test ends (a context manager)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator

#: path -> the answer's bytes, in pieces, each sent as it comes (a generator can sleep between them).
Script = Callable[[str, str], Iterable[bytes]]


def response(
    status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None, content_type: str = "application/json"
) -> bytes:
    head = [
        f"HTTP/1.1 {status} X",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class HostileServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[tuple[str, str]] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(32)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            line = data.split(b"\r\n", 1)[0].decode("latin-1")
            method, target = line.split(" ")[:2]
            self.requests.append((method, target))
            for piece in self.script(method, target):
                if self._stop.is_set():
                    return
                conn.sendall(piece)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass


def trickle(
    head: bytes, byte: bytes = b" ", every: float = 0.5, stop: threading.Event | None = None
) -> Iterator[bytes]:
    """Headers, then one byte at a time, forever (until the client hangs up or the test ends)."""
    yield head
    for _ in range(10_000):
        time.sleep(every)
        yield byte
