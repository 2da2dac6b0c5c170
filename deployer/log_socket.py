"""A log a server pushes over a WebSocket, read line by line on a thread of its own.

Dokploy streams a deployment's build log this way (`tail -f` of its file): the whole log so far,
then each chunk as it is written, and the socket never closes by itself. Knows nothing of Dokploy:
it hands complete lines to a callback and says how the socket ended. `websockets` is imported
here only when a socket opens, so a run that never streams does not pay for it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from deployer.http import USER_AGENT

if TYPE_CHECKING:
    import ssl

#: A frame larger than this closes the socket (a tail sends chunks of 64 KB at most).
MAX_FRAME_BYTES = 4 * 1_048_576
#: How long closing may wait for the server's goodbye before the connection is just dropped.
CLOSE_SECONDS = 1.0


class LogSocket:
    """One live log. `start()` connects in the background; `on_lines` gets each batch of complete
    lines (on the socket's thread), `on_end` is called once when the socket ended for any reason.

    After the end, `refused` says why it never served a line (an answer other than an upgrade, a
    close at once: a bad key), and `dropped` that the server closed it after serving lines.
    """

    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        *,
        verify: bool | ssl.SSLContext,
        on_lines: Callable[[list[str]], None],
        on_end: Callable[[], None],
        open_timeout: float = 10.0,
    ) -> None:
        self.url, self.headers, self.verify = url, headers, verify
        self.on_lines, self.on_end, self.open_timeout = on_lines, on_end, open_timeout
        self.refused: str | None = None
        self.dropped = False
        self.lines_read = 0
        #: It sent a message over MAX_FRAME_BYTES: closed on our side.
        self.too_big = False
        self.ended = threading.Event()
        self._closing = threading.Event()
        self._connection: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._run, name="deployer-log-socket", daemon=True).start()

    @property
    def closed_by_us(self) -> bool:
        return self._closing.is_set()

    def close(self) -> None:
        """Stop reading (the server would follow the file forever); never waits for the server."""
        self._closing.set()
        with self._lock:
            connection = self._connection
        if connection is not None:
            threading.Thread(target=connection.close, name="deployer-log-socket-close", daemon=True).start()

    def _run(self) -> None:
        try:
            self._read()
        except Exception as exc:  # whatever the socket did, the deployment is still followed by its status
            if self.lines_read == 0 and self.refused is None:
                self.refused = _why(exc)
            elif not self._closing.is_set():
                self.dropped = True
        finally:
            self.ended.set()
            self.on_end()

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        ssl_context = None
        if self.url.startswith("wss:"):
            import httpx

            ssl_context = httpx.create_ssl_context(verify=self.verify)
        # Our own connection: websockets then never follows a redirect (the key would go with it).
        where = urlsplit(self.url)
        sock = socket.create_connection(
            (where.hostname or "", where.port or (443 if ssl_context else 80)), timeout=self.open_timeout
        )
        sock.settimeout(None)  # a quiet build step is no broken socket (the handshake keeps its own limit)
        pending = ""
        closed: tuple[int | None, str] = (None, "")
        try:
            with connect(
                self.url,
                sock=sock,
                additional_headers=self.headers,
                ssl=ssl_context,
                open_timeout=self.open_timeout,
                close_timeout=CLOSE_SECONDS,
                max_size=MAX_FRAME_BYTES,
                user_agent_header=USER_AGENT,
                compression=None,
            ) as connection:
                with self._lock:
                    self._connection = connection
                if self._closing.is_set():
                    return
                try:
                    for message in connection:  # ends when either side closes
                        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                        lines = (pending + text).split("\n")
                        pending = lines.pop()
                        if lines:
                            self.lines_read += len(lines)
                            self.on_lines([line.rstrip("\r") for line in lines])
                except ConnectionClosed as exc:  # an abnormal close: the same as any other end, below
                    if exc.sent is not None and exc.sent.code == 1009:
                        self.too_big = True
                closed = (connection.close_code, connection.close_reason or "")
        finally:
            if pending:
                self.lines_read += 1
                self.on_lines([pending.rstrip("\r")])
        if self._closing.is_set():
            return
        if self.lines_read:
            self.dropped = True
        elif self.too_big:
            self.refused = f"it sent a message over {MAX_FRAME_BYTES // 1_048_576} MB"
        else:
            code, reason = closed
            told = f" ({code} {reason}".rstrip() + ")" if code and code != 1005 else ""
            self.refused = "the server closed it at once" + told


def _why(exc: Exception) -> str:
    """Why a socket could not open, in a few words (never the URL's query or a header)."""
    cause = exc.__cause__ if getattr(exc.__cause__, "response", None) is not None else exc  # a refused redirect
    response = getattr(cause, "response", None)
    status = getattr(response, "status_code", None)
    if status is not None:
        return f"the server answered {status} instead of opening it"
    if isinstance(exc, TimeoutError):
        return "it did not open in time"
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")
