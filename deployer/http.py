"""The HTTP layer: one JSON API client that turns every transport fault into a DeployerError."""

from __future__ import annotations

import json
import re
import ssl
from typing import Any

import httpx

from deployer import __version__
from deployer.errors import (
    AnswerTooLarge,
    HTTPStatusError,
    TLSFailure,
    UnexpectedAnswer,
    Unreachable,
)

USER_AGENT = f"deployer/{__version__}"
_HTML_START = re.compile(rb"\s*<")


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **headers},
            verify=verify,
            timeout=timeout,
            follow_redirects=False,
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

        With `max_bytes`, an answer past that size is abandoned (AnswerTooLarge) instead of held.
        """
        url = self.url(path)
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = timeout
        try:
            status, headers, content = self._send(method, url, params, json_body, extra, max_bytes)
        except httpx.ConnectError as exc:
            if isinstance(exc.__context__, ssl.SSLError) or "SSL" in str(exc) or "certificate" in str(exc):
                raise TLSFailure(
                    f"TLS verification failed for {url}: {exc}",
                    hint="use --ca-cert for a private CA, or --insecure to skip verification",
                ) from None
            raise Unreachable(
                f"cannot connect to {url}: {exc}",
                hint="check the URL and that the server is up and reachable from this runner",
                sent=False,
            ) from None
        except (httpx.ConnectTimeout, httpx.PoolTimeout):
            raise Unreachable(f"cannot connect to {url}: no connection in time", hint="check the URL and the network", sent=False) from None
        except httpx.TimeoutException:
            raise Unreachable(f"no answer from {url} in time", hint="the server may be overloaded or a proxy may hold the request") from None
        except httpx.TransportError as exc:
            # A reset or a broken answer: the request may have been acted on (sent stays True).
            raise Unreachable(f"connection to {url} failed: {exc or type(exc).__name__}") from None
        return self._decode(method, url, status, headers, content)

    def _send(self, method: str, url: str, params: Any, json_body: Any, extra: dict[str, Any],
              max_bytes: int | None) -> tuple[int, httpx.Headers, bytearray]:
        """Send, read the answer's bytes, and let the response go at once.

        httpx's Response and its stream refer to each other, so a read Response lives until the
        cycle collector runs: with large build logs that held tens of MB. Only the bytes leave here.
        """
        request = self._client.build_request(method, url, params=params, json=json_body, **extra)
        response = self._client.send(request, stream=True)
        try:
            content = bytearray()  # grown in place: no second copy of a large answer
            for chunk in response.iter_bytes():
                content += chunk
                if max_bytes is not None and len(content) > max_bytes:
                    raise AnswerTooLarge(f"{method} {url} answered more than {max_bytes // 1_000_000} MB")
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
        body: Any = None
        html = "html" in headers.get("content-type", "") or _HTML_START.match(content) is not None
        if content and not content.isspace():
            try:
                body = json.loads(content)
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
                server_message = str(body.get("message") or "")
            elif isinstance(body, str):
                server_message = body[:200]
            page = " with an HTML page" if body is None and html else ""
            raise HTTPStatusError(
                f"{method} {url} answered HTTP {status}{page}" + (f": {server_message}" if server_message else ""),
                status=status,
                server_message=server_message,
                retry_after=_retry_after(headers),
                server_time=_server_time(headers),
            )
        return body
