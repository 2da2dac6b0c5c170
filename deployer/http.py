"""The HTTP layer: one JSON API client that turns every transport fault into a DeployerError."""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import httpx

from deployer import __version__
from deployer.errors import (
    AnswerTooLarge,
    HTTPStatusError,
    ServerError,
    TLSFailure,
    UnexpectedAnswer,
    Unreachable,
    Unresolvable,
)

USER_AGENT = f"deployer/{__version__}"
#: The most any answer may hold, decompressed: JSON answers are small, and a Coolify deployment
#: row with a 10,000-line build log is about 2 MB.
MAX_ANSWER_BYTES = 16 * 1_048_576
#: How much longer than its time limit a request's thread is waited for before it is abandoned.
GRACE_SECONDS = 0.5
_Answer = tuple[int, httpx.Headers, bytearray]
T = TypeVar("T")
E = TypeVar("E", bound=BaseException)
_HTML_START = re.compile(rb"\s*<")


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


#: No single request waits longer than this (a run's timeout may cut it shorter).
MAX_REQUEST_SECONDS = 30.0


class TimeLeft:
    """What remains of one check's time limit: every request of the check draws on it."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds

    def __call__(self) -> float:
        return max(0.1, self.ends - time.monotonic())


class Overdue(Exception):
    """The work given to `within` did not finish in time."""


def within(seconds: float, work: Callable[[threading.Event], T]) -> T:
    """Run `work` in a thread and give it `seconds` in all (Overdue past that; the event tells it to
    stop at its next step). httpx's time-outs count each read on its own, so a server that sends one
    byte a second would otherwise hold a request forever."""
    cancelled = threading.Event()
    box: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            box.append((True, work(cancelled)))
        except BaseException as exc:  # handed to the caller's thread
            box.append((False, exc))

    worker = threading.Thread(target=run, name="deployer-request", daemon=True)
    worker.start()
    worker.join(seconds + GRACE_SECONDS)
    if not box:
        cancelled.set()
        raise Overdue()
    ok, value = box[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def probe_provider(base_url: str, timeout: float = 3.0) -> str | None:
    """Which server answers at `base_url`, from its unauthenticated health check: Coolify's
    `/api/health` says `OK` in plain text, Dokploy's `{"ok": true}`. None when it cannot tell."""
    try:
        answer = httpx.get(
            base_url.rstrip("/") + "/api/health",
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError):
        return None
    if answer.status_code != 200 or len(answer.content) > 1000:
        return None
    text = answer.text.strip()
    if text == "OK":
        return "coolify"
    if text.startswith("{") and '"ok"' in text:
        return "dokploy"
    return None


def _server_time(headers: httpx.Headers) -> float | None:
    """The answer's Date header as epoch seconds, or None."""
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(headers.get("date", "")).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class ApiClient:
    """A JSON API at `base_url`: sends the auth headers, decodes answers, names the URL on errors.

    Redirects are never followed, so a token is never sent to another address.
    """

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        verify: bool | ssl.SSLContext = True,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._client = httpx.Client(
            # Only encodings deployer undoes itself, under its size cap (see _Decoder).
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
                **headers,
            },
            verify=verify,
            timeout=timeout,
            follow_redirects=False,
            transport=transport,  # tests may hand in an httpx.MockTransport
        )

    def close(self) -> None:
        self._client.close()

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON body (None for an empty one).

        The whole request, answer included, takes at most `timeout` seconds (a server that trickles
        one byte a second cannot hold it longer), and an answer past `max_bytes` after decompression
        (default MAX_ANSWER_BYTES) is abandoned (AnswerTooLarge) instead of held.
        """
        url = self.url(path)
        limit = self.timeout if timeout is None else timeout
        cap = MAX_ANSWER_BYTES if max_bytes is None else max_bytes
        try:
            status, headers, content = within(
                limit, lambda cancelled: self._send(method, url, params, json_body, limit, cap, cancelled)
            )
        except (Overdue, httpx.HTTPError, httpx.StreamError, httpx.InvalidURL, MemoryError) as exc:
            raise _transport_error(exc, method, url, limit) from None
        return self._decode(method, url, status, headers, content)

    def _send(
        self,
        method: str,
        url: str,
        params: Any,
        json_body: Any,
        timeout: float,
        max_bytes: int,
        cancelled: threading.Event,
    ) -> _Answer:
        """Send, read the answer's bytes (decompressing them here, under the cap), and let the
        response go at once.

        httpx's Response and its stream refer to each other, so a read Response lives until the
        cycle collector runs: with large build logs that held tens of MB. Only the bytes leave here.
        """
        request = self._client.build_request(method, url, params=params, json=json_body, timeout=timeout)
        response = self._client.send(request, stream=True)
        try:
            chunks: Iterable[bytes]
            if response.is_stream_consumed:  # an answer made in memory (httpx.MockTransport): read, and decoded
                decoder, chunks = _Decoder("", method, url), [response.content]
            else:
                decoder, chunks = (
                    _Decoder(response.headers.get("content-encoding", ""), method, url),
                    response.iter_raw(),
                )
            content = bytearray()  # grown in place: no second copy of a large answer
            for chunk in chunks:
                if cancelled.is_set():
                    break
                content += decoder.feed(chunk, room=max_bytes - len(content) + 1)
                if len(content) > max_bytes:
                    raise AnswerTooLarge(
                        f"{method} {url} answered more than {_size(max_bytes)}; deployer stopped reading it"
                    )
            return response.status_code, response.headers, content
        finally:
            response.close()

    def _decode(self, method: str, url: str, status: int, headers: httpx.Headers, content: bytearray) -> Any:
        if 300 <= status < 400:
            where = headers.get("location", "elsewhere")
            raise UnexpectedAnswer(
                f"{method} {url} was redirected to {where}",
                hint="check the URL (http vs https, the path) or an auth wall in front of the API",
            )
        if status == 400 and b"plain HTTP request was sent to HTTPS port" in content[:2000]:
            # The proxy answered, the API never saw the request.
            raise TLSFailure(f"{url} speaks https, not plain http", hint="use https:// in the URL")
        body: Any = None
        html = "html" in headers.get("content-type", "") or _HTML_START.match(content) is not None
        if content and not content.isspace():
            try:
                body = json.loads(content)
            except RecursionError:
                raise UnexpectedAnswer(f"{method} {url} answered JSON nested too deeply to read") from None
            except ValueError:
                if status >= 400:
                    body = None  # an error page: reported by its status below
                elif html:
                    raise UnexpectedAnswer(
                        f"{method} {url} answered HTTP {status} with an HTML page, not JSON",
                        hint="a proxy, login page or firewall may be in front of the API; check the URL",
                    ) from None
                else:
                    raise UnexpectedAnswer(f"{method} {url} answered HTTP {status} with invalid JSON") from None
        if status >= 400:
            server_message = ""
            if isinstance(body, dict):
                server_message = str(body.get("message") or "")[:500]
            elif isinstance(body, str):
                server_message = body[:200]
            page = " with an HTML page" if body is None and html else ""
            raise HTTPStatusError(
                f"{method} {url} answered HTTP {status}{page}" + (f": {server_message}" if server_message else ""),
                status=status,
                server_message=server_message,
                reasons=_reasons(body),
                conflicts=_conflicts(body),
                retry_after=_retry_after(headers),
                server_time=_server_time(headers),
            )
        return body


def _conflicts(body: Any) -> list[str]:
    """Coolify's domain conflicts: each domain and the resource that holds it, one line each."""
    rows = body.get("conflicts") if isinstance(body, dict) else None
    found = []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict):
            holder = str(row.get("resource_name") or "another resource")
            ident = f" ({row['resource_uuid']})" if row.get("resource_uuid") else ""
            kind = f"{row['resource_type']} " if row.get("resource_type") else ""
            found.append(" ".join(f"{row.get('domain')}: held by {kind}{holder}{ident}".split())[:300])
    return found[:50]


def _reasons(body: Any) -> list[str]:
    """Validation errors in an error body: Coolify's `errors` ({field: [messages]}), Dokploy's zod
    issues (`issues`, or `data.zodError.fieldErrors`); at most 10, each one line."""
    found: list[str] = []
    if not isinstance(body, dict):
        return found
    errors = body.get("errors")
    if isinstance(errors, dict):
        for name, said in errors.items():
            for text in said if isinstance(said, list) else [said]:
                found.append(f"{name}: {text}")
    data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
    zod: Any = data.get("zodError")
    fields: dict[str, Any] = {}
    if isinstance(zod, dict) and isinstance(zod.get("fieldErrors"), dict):
        fields = zod["fieldErrors"]
    for name, said in fields.items():
        for text in said if isinstance(said, list) else [said]:
            found.append(f"{name}: {text}")
    issues = body.get("issues") if isinstance(body.get("issues"), list) else zod
    for issue in issues if isinstance(issues, list) else []:
        if isinstance(issue, dict):
            where = ".".join(str(p) for p in issue.get("path") or [])
            found.append(f"{where}: {issue.get('message')}" if where else str(issue.get("message")))
    return [" ".join(str(line).split())[:200] for line in found[:10]]


def _transport_error(exc: BaseException, method: str, url: str, limit: float) -> ServerError:
    """What went wrong on the way, in the user's words: no answer, DNS, TLS, refused, unreadable.
    `sent` stays True (may have been acted on) unless the request provably never left."""
    if isinstance(exc, Overdue):
        return Unreachable(
            f"no complete answer from {url} within {limit:.0f}s (the server is slow or trickling its answer)",
            hint="the server may be overloaded or a proxy may hold the request",
        )
    if isinstance(exc, httpx.ConnectError):
        return _connect_error(exc, url)
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return Unreachable(
            f"cannot connect to {url}: no connection in time", hint="check the URL and the network", sent=False
        )
    if isinstance(exc, httpx.TimeoutException):
        return Unreachable(
            f"no answer from {url} in time", hint="the server may be overloaded or a proxy may hold the request"
        )
    if isinstance(exc, httpx.TransportError):
        # A reset or a broken answer: the request may have been acted on (sent stays True).
        plain = url.startswith("http://")
        return Unreachable(
            f"connection to {url} failed: {exc or type(exc).__name__}",
            hint="if this port serves https, use https://" if plain else "",
        )
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return UnexpectedAnswer(f"cannot send a request to {url[:200]}: {exc}", hint="check the URL and the ids")
    if isinstance(exc, MemoryError):
        return AnswerTooLarge(f"{method} {url} answered more than this machine could hold")
    # decoding and protocol errors
    return UnexpectedAnswer(f"{method} {url} answered something unreadable: {exc or type(exc).__name__}")


def _connect_error(exc: httpx.ConnectError, url: str) -> ServerError:
    """No connection: a name that does not resolve, TLS where there is none or it fails, or refused."""
    host = httpx.URL(url).host
    lookup = _cause(exc, socket.gaierror)
    if lookup is not None and lookup.errno != socket.EAI_AGAIN:  # EAI_AGAIN: a DNS blip, worth a retry
        return Unresolvable(
            f"cannot resolve {host} ({lookup.strerror or lookup})",
            hint="check the host name in the URL, and that this runner's DNS knows it",
        )
    if "WRONG_VERSION_NUMBER" in str(exc) or "wrong version number" in str(exc):
        return TLSFailure(
            f"no TLS at {url}: the server answered in plain http",
            hint="use http:// for this port, or the port that serves https",
        )
    if isinstance(exc.__context__, ssl.SSLError) or "SSL" in str(exc) or "certificate" in str(exc):
        return TLSFailure(
            f"TLS verification failed for {url}: {exc}",
            hint="use --ca-cert for a private CA, or --insecure to skip verification",
        )
    return Unreachable(
        f"cannot connect to {url}: {exc}",
        hint="check the URL and that the server is up and reachable from this runner",
        sent=False,
    )


def _cause(exc: BaseException, kind: type[E]) -> E | None:
    """The first exception of `kind` in `exc`'s chain of causes, or None."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _size(count: int) -> str:
    return f"{count / 1_048_576:g} MiB" if count >= 1_048_576 else f"{count} bytes"


class _Decoder:
    """Content-Encoding undone here, in bounded steps: a gzip bomb cannot inflate past the cap."""

    def __init__(self, encoding: str, method: str, url: str) -> None:
        names = [e.strip().lower() for e in encoding.split(",") if e.strip() and e.strip().lower() != "identity"]
        self.where = f"{method} {url}"
        self.stages: list[Any] = []
        for name in names:
            if name in ("gzip", "x-gzip"):
                self.stages.append(zlib.decompressobj(zlib.MAX_WBITS | 16))
            elif name == "deflate":
                self.stages.append(zlib.decompressobj())
            else:
                raise UnexpectedAnswer(
                    f"{self.where} answered with Content-Encoding {name!r}, which deployer does not read",
                    hint="a proxy may be compressing the API's answers",
                )
        self.stages.reverse()  # the last encoding applied is undone first

    def feed(self, data: bytes, room: int) -> bytes:
        """The decoded bytes of `data`, at most `room` of them (more is never needed). Nothing is
        held back between calls: output past `room` is refused, not kept for later."""
        for stage in self.stages:
            data = self._inflate(stage, data, room)
        return data

    def _inflate(self, stage: Any, data: bytes, room: int) -> bytes:
        try:
            out = bytes(stage.decompress(data, max(1, room)))
        except zlib.error:
            raise UnexpectedAnswer(
                f"{self.where} answered a body that does not decode as its Content-Encoding header says",
                hint="a proxy may be mislabelling the API's answers",
            ) from None
        if stage.unconsumed_tail:  # it inflates past the room left: too large, whatever follows
            raise AnswerTooLarge(f"{self.where} answered more than deployer reads (it inflates past the limit)")
        return out
