"""Orchestration: trigger the deploy (under deployer.retry's policy), follow what it started, and
reduce the deployments to one status and one exit code.
"""

from __future__ import annotations

import time
from contextlib import closing
from dataclasses import dataclass
from typing import Callable, Protocol

from deployer.errors import DeployerError, Interrupted, ServerError, lost_trigger
from deployer.follow import Reporter, cancel_all, follow_all, utc_now
from deployer.models import (
    CANCELLED,
    FAILED,
    FINISHED,
    QUEUED,
    TIMEOUT,
    UNKNOWN,
    Deployment,
    Follower,
    Provider,
)
from deployer.retry import ReadRetry, TriggerRetry
from deployer.settings import Settings


@dataclass
class RunResult:
    """What one run did: the per-resource records, the overall status and the exit code."""

    deployments: list[Deployment]
    status: str
    exit_code: int
    duration: int
    error: str | None = None


class RunReporter(Reporter, Protocol):
    """A Reporter that is also told what the trigger started."""

    def start(self) -> None: ...
    def triggered(self, deployments: list[Deployment], where: str) -> None: ...


def make_provider(settings: Settings) -> Provider:
    if settings.provider == "coolify":
        from deployer.coolify import CoolifyProvider

        return CoolifyProvider(settings)
    from deployer.dokploy import DokployProvider

    return DokployProvider(settings)


def overall_status(deployments: list[Deployment], waited: bool, interrupted: bool = False) -> str:
    """CONTRACT.md: failed if any failed, else cancelled, else unknown (ours could not be told from
    another deployment), else timeout, else finished (queued with --no-wait, or when the server
    stopped answering before the deployments ended: what is known of them). A run stopped by the
    CI job's cancellation, before every deployment ended, is `cancelled`."""
    statuses = {d.status for d in deployments}
    if FAILED in statuses or (not deployments and not interrupted):
        return FAILED
    if interrupted:
        return CANCELLED
    if not waited:
        return QUEUED
    for status in (CANCELLED, UNKNOWN, TIMEOUT):
        if status in statuses:
            return status
    return FINISHED if statuses == {FINISHED} else QUEUED


def exit_code(deployments: list[Deployment], error: DeployerError | None) -> int:
    """1 for a real failure beats 3 (server unusable), which beats 4 (timeout); an interrupted run
    exits as signals do (130 SIGINT, 143 SIGTERM)."""
    if isinstance(error, Interrupted):
        return error.exit_code
    if any(d.status in (FAILED, CANCELLED, UNKNOWN) and not d.server_problem for d in deployments):
        return 1
    if not deployments and error is None:
        return 1  # nothing was deployed: never a success
    if error is not None:
        return error.exit_code
    if any(d.server_problem for d in deployments):
        return 3
    if any(d.status == TIMEOUT for d in deployments):
        return 4
    return 0


def deploy(
    settings: Settings,
    reporter: RunReporter,
    *,
    provider: Provider | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Run one deploy end to end. Never raises DeployerError: it becomes the result's error."""
    provider = provider or make_provider(settings)
    started = clock()
    deadline = started + settings.timeout
    deployments: list[Deployment] = []
    followers: list[Follower] = []
    error: DeployerError | None = None
    try:
        if settings.names:
            ReadRetry(deadline, on_retry=reporter.warning, clock=clock, sleep=sleep).run(provider.resolve_names)
        retry = TriggerRetry(deadline, on_retry=reporter.warning, clock=clock, sleep=sleep)
        try:
            followers = list(provider.trigger(retry))
        except ServerError as exc:
            raise lost_trigger(exc) from None
        deployments = [f.deployment for f in followers]
        started_at = utc_now()
        for d in deployments:
            d.started_at = started_at
        if not settings.wait:
            for follower in followers:
                follower.confirm_started(settings.request_timeout)
        reporter.triggered(deployments, settings.url)
        if settings.wait:
            follow_all(
                followers,
                reporter,
                started=started,
                deadline=deadline,
                poll_interval=settings.poll_interval,
                logs=settings.logs,
                cancel_on_timeout=settings.cancel_on_timeout,
                budget_per_minute=settings.request_budget,
                check_batch=getattr(provider, "check_batch", None),
                clock=clock,
                sleep=sleep,
            )
            deployments = deployments + _wait_until_healthy(settings, provider, deployments, reporter,
                                               started=started, deadline=deadline, clock=clock, sleep=sleep)
    except Interrupted as exc:
        error = exc
        if deployments and all(d.ended for d in deployments):
            # Every deployment had already ended: what the server said of them stands, nothing was cancelled.
            exc.message = f"stopped by {exc.signal_name} after every deployment had ended; nothing was cancelled"
        else:
            _stop_following(followers, settings.cancel_on_timeout, str(exc))
    except DeployerError as exc:
        error = exc
        for d in deployments:
            if not d.ended:
                d.message = str(exc)
    finally:
        provider.close()
    duration = int(round(clock() - started))  # from the trigger to the last end, as this run saw it
    return RunResult(
        deployments=deployments,
        status=overall_status(deployments, settings.wait and (error is None or isinstance(error, Interrupted)),
                              isinstance(error, Interrupted) and not all(d.ended for d in deployments)),
        exit_code=exit_code(deployments, error),
        duration=duration,
        error=str(error) if error else None,
    )


def _wait_until_healthy(settings: Settings, provider: Provider, deployments: list[Deployment], reporter: RunReporter, *,
                        started: float, deadline: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> list[Deployment]:
    """The health gate after the deployments: only when every one finished. Returns the result
    entries of the URL checks (Coolify's checks report in their application's own entry)."""
    if not (settings.health_urls or settings.wait_healthy):
        return []
    if any(d.status != FINISHED for d in deployments):
        reporter.notice("health checks skipped: not every deployment finished")
        return []
    from deployer.health import HealthCheck, UrlProber, url_check, wait_until_healthy

    prober = UrlProber(settings.verify)
    try:
        checks = []
        if settings.wait_healthy:
            apps = [d for d in deployments if d.kind == "application"]
            checks += [HealthCheck(d, f"{d.label} (Coolify's health check)", provider.health_probe(d, prober))  # type: ignore[attr-defined]
                       for d in apps]
            if not apps:
                reporter.notice("--wait-healthy: no application was deployed, so there is no Coolify health check to wait for")
        checks += [url_check(url, settings.provider, prober) for url in settings.health_urls]
        wait_until_healthy(checks, reporter, started=started, deadline=deadline, poll_interval=settings.poll_interval,
                           clock=clock, sleep=sleep)
    finally:
        prober.close()
    return [c.deployment for c in checks if c.deployment.kind == "health-check"]


def deployment_status(settings: Settings, deployment_id: str) -> Deployment:
    """One deployment as the server shows it now (`deployer status`)."""
    with closing(make_provider(settings)) as provider:
        return provider.deployment(deployment_id)


def cancel_deployment(settings: Settings, deployment_id: str) -> str:
    """Cancel one queued or running deployment (`deployer cancel`); the server's answer."""
    with closing(make_provider(settings)) as provider:
        return provider.cancel_deployment(deployment_id)


def _stop_following(followers: list[Follower], cancel: bool, reason: str) -> None:
    """The CI job was cancelled: cancel what still runs (if asked, all at once) and say so on each."""
    running = [f for f in followers if not f.deployment.ended]
    cancelled = cancel_all(running) if cancel else {}
    for follower in running:
        d = follower.deployment
        d.message = f"{reason} while it was {d.status}"
        if follower in cancelled:
            d.message += f"; {cancelled[follower]}"
