"""After every deployment finished: wait until the app is healthy, within what is left of the timeout.

A check is a URL that must answer 2xx (`--health-url`), or Coolify's own view of an application
(`--wait-healthy`: `running:healthy`, or its domain answering 2xx when it has no health check).
A check still failing at the deadline fails its deployment, with the last answer in the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deployer.events import Emit, Message, StatusChanged
from deployer.model import Deployment, Status, utc_now
from deployer.providers.base import Probe

if TYPE_CHECKING:
    import httpx

    from deployer.config.settings import Settings
    from deployer.providers.base import Provider


PROBE_SECONDS = 10.0
FIRST_PAUSE = 0.5
SNIPPET = 200


@dataclass
class HealthCheck:
    """One thing that must be healthy; its outcome lands in `deployment` (the result entry)."""

    deployment: Deployment
    what: str
    probe: Probe
    healthy: bool = False
    last: str = "not checked yet"


class UrlProber:
    """GETs health URLs through one connection pool; redirects are followed, as a browser would."""

    def __init__(self, verify: Any) -> None:
        import httpx

        from deployer import __version__

        self.client: httpx.Client = httpx.Client(
            verify=verify,
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": f"deployer/{__version__} (health check)"},
        )

    def close(self) -> None:
        self.client.close()

    def probe(self, url: str) -> Probe:
        def look(timeout: float) -> tuple[bool, str]:
            import threading

            import httpx

            from deployer.http import Overdue, within

            def get(cancelled: threading.Event) -> tuple[Any, bytes]:
                with self.client.stream("GET", url, timeout=timeout) as response:
                    body = b""
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) >= SNIPPET or cancelled.is_set():
                            break
                return response, body

            try:
                response, body = within(timeout, get)  # a trickling answer cannot outlast the timeout
            except Overdue:
                return False, f"no complete answer within {timeout:.0f}s"
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
                return False, f"no answer ({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})"
            said = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
            if 200 <= response.status_code < 300:
                return True, said
            text = " ".join(body[:SNIPPET].decode("utf-8", "replace").split())
            return False, f"{said}: {text}" if text else said

        return look


def url_check(url: str, provider: str, prober: UrlProber) -> HealthCheck:
    """A check with its own result entry (kind `health-check`): it belongs to no one deployment."""
    record = Deployment(
        provider,
        resource=url,
        kind="health-check",
        status=Status.IN_PROGRESS,
        name=f"health {url}",
        started_at=utc_now(),
    )
    return HealthCheck(record, url, prober.probe(url))


def gate(
    settings: Settings,
    provider: Provider,
    deployments: list[Deployment],
    emit: Emit,
    *,
    started: float,
    deadline: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> list[Deployment]:
    """The health gate after the deployments: only when every one finished. Returns the result
    entries of the URL checks (a server's own checks report in their deployment's entry)."""
    if not (settings.health_urls or settings.wait_healthy):
        return []
    if any(d.status != Status.FINISHED for d in deployments):
        emit(Message("health checks skipped: not every deployment finished"))
        return []
    prober = UrlProber(settings.verify)
    try:
        checks = []
        if settings.wait_healthy:
            apps = [d for d in deployments if d.kind == "application"]
            for d in apps:
                probe = provider.health_probe(d, prober)
                if probe is not None:
                    checks.append(HealthCheck(d, f"{d.label} (Coolify's health check)", probe))
            if not apps:
                emit(
                    Message(
                        "--wait-healthy: no application was deployed, so there is no Coolify health check to wait for"
                    )
                )
        checks += [url_check(url, settings.provider, prober) for url in settings.health_urls]
        wait_until_healthy(
            checks,
            emit,
            started=started,
            deadline=deadline,
            poll_interval=settings.poll_interval,
            clock=clock,
            sleep=sleep,
        )
    finally:
        prober.close()
    return [c.deployment for c in checks if c.deployment.kind == "health-check"]


def wait_until_healthy(
    checks: list[HealthCheck],
    emit: Emit,
    *,
    started: float,
    deadline: float,
    poll_interval: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    """Probe every unhealthy check, pausing 0.5 s and doubling up to the poll interval, until all
    are healthy or the deadline passes (each is probed at least once)."""
    pause = FIRST_PAUSE
    pending = list(checks)
    for check in pending:
        emit(Message(f"waiting for {check.what} to be healthy"))
    while pending:
        for check in pending:
            check.healthy, check.last = check.probe(max(1.0, min(PROBE_SECONDS, deadline - clock())))
            if check.healthy:
                _settle(check, Status.FINISHED, f"healthy: {check.last}", clock() - started)
                emit(Message(f"{check.what} is healthy: {check.last}"))
        pending = [c for c in pending if not c.healthy]
        if not pending or clock() >= deadline:
            break
        sleep(min(pause, max(0.0, deadline - clock())))
        pause = min(pause * 2, poll_interval)
    for check in pending:
        _settle(
            check,
            Status.FAILED,
            f"{check.what} was not healthy within the timeout; last answer: {check.last}",
            clock() - started,
        )
        emit(StatusChanged(check.deployment, clock() - started))


def _settle(check: HealthCheck, status: Status, message: str, elapsed: float) -> None:
    d = check.deployment
    if d.kind == "health-check":
        d.status, d.message = status, message
        d.finished_at, d.duration = utc_now(), int(round(elapsed))
    elif status == Status.FAILED:  # a deployment that finished, but whose app never became healthy
        d.status, d.message = Status.FAILED, f"deployed, but {message}"
