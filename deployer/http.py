"""The HTTP layer: one JSON API client that turns every transport fault into a DeployerError."""

from __future__ import annotations

import json
import ssl
from typing import Any

import httpx

from deployer import __version__
from deployer.errors import AnswerTooLarge, HTTPStatusError, TLSFailure, Unreachable, UnexpectedAnswer

USER_AGENT = f"deployer/{__version__}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _looks_like_html(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "")
    return "html" in kind or response.text.lstrip()[:1] == "<"


class ApiClient:
    """A JSON API at `base_url`: sends the auth headers, decodes answers, names the URL on errors.

    Redirects are never followed, so a token is never sent to another address.
    """

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        verify: bool | str = True,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **headers},
            verify=verify,
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
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
            if max_bytes is None:
                response = self._client.request(method, url, params=params, json=json_body, **extra)
            else:
                response = self._bounded(method, url, params, json_body, extra, max_bytes)
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
        return self._decode(method, url, response)

    def _bounded(self, method: str, url: str, params: Any, json_body: Any, extra: dict[str, Any], max_bytes: int) -> httpx.Response:
        request = self._client.build_request(method, url, params=params, json=json_body, **extra)
        response = self._client.send(request, stream=True)
        try:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise AnswerTooLarge(f"{method} {url} answered more than {max_bytes // 1_000_000} MB")
                chunks.append(chunk)
        finally:
            response.close()
        # iter_bytes() already decoded any gzip: drop the headers that describe the encoded body.
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks), request=request)

    def _decode(self, method: str, url: str, response: httpx.Response) -> Any:
        status = response.status_code
        if 300 <= status < 400:
            where = response.headers.get("location", "elsewhere")
            raise UnexpectedAnswer(
                f"{method} {url} was redirected to {where}",
                hint="check the URL (http vs https, the path) or an auth wall in front of the API",
            )
        body: Any = None
        text = response.text
        if text.strip():
            try:
                body = json.loads(text)
            except ValueError:
                if status >= 400:
                    body = None  # an error page: reported by its status below
                elif _looks_like_html(response):
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
            page = " with an HTML page" if body is None and _looks_like_html(response) else ""
            raise HTTPStatusError(
                f"{method} {url} answered HTTP {status}{page}" + (f": {server_message}" if server_message else ""),
                status=status,
                server_message=server_message,
                retry_after=_retry_after(response),
            )
        return body
