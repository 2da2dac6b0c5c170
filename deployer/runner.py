"""Orchestration: trigger the deploy (retrying only when the server provably did nothing),
follow what it started, and reduce the deployments to one status and one exit code.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from deployer.errors import DeployerError, HTTPStatusError, ServerError, Unreachable
from deployer.follow import Reporter, follow_all, utc_now
from deployer.models import CANCELLED, FAILED, FINISHED, QUEUED, TIMEOUT, Deployment, Follower, Provider
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


def overall_status(deployments: list[Deployment], waited: bool) -> str:
    """CONTRACT.md: failed if any failed, else cancelled, else timeout, else finished (queued with --no-wait)."""
    statuses = {d.status for d in deployments}
    if FAILED in statuses or not deployments:
        return FAILED
    if not waited:
        return QUEUED
    for status in (CANCELLED, TIMEOUT):
        if status in statuses:
            return status
    return FINISHED if statuses == {FINISHED} else QUEUED


def exit_code(deployments: list[Deployment], error: DeployerError | None) -> int:
    """1 for a real failure beats 3 (server unusable), which beats 4 (timeout)."""
    if any(d.status in (FAILED, CANCELLED) and not d.server_problem for d in deployments):
        return 1
    if error is not None:
        return error.exit_code
    if any(d.server_problem for d in deployments):
        return 3
    if any(d.status == TIMEOUT for d in deployments):
        return 4
    return 0


def trigger_once(
    provider: Provider,
    reporter: Reporter,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Follower]:
    """Trigger, retrying only when nothing can have been deployed: the request never left this
    machine, or the server said so (429/503 with Retry-After, e.g. Coolify's full queue).
    A timeout or a reset after sending is never retried: that could deploy twice.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return provider.trigger()
        except Unreachable as exc:
            if exc.sent:
                raise
            wait = min(30.0, 2.0 ** attempt) * random.uniform(0.8, 1.2)
            error: ServerError = exc
        except HTTPStatusError as exc:
            if exc.status not in (429, 503) or exc.retry_after is None:
                raise
            wait, error = exc.retry_after, exc
        if clock() + wait >= deadline or attempt >= 5:
            raise error
        reporter.warning(f"the deploy was not accepted yet ({error.message}); trying again in {wait:.0f}s")
        sleep(wait)


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
    error: DeployerError | None = None
    try:
        followers = trigger_once(provider, reporter, deadline, clock, sleep)
        deployments = [f.deployment for f in followers]
        started_at = utc_now()
        for d in deployments:
            d.started_at = started_at
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
                clock=clock,
                sleep=sleep,
            )
    except DeployerError as exc:
        error = exc
        for d in deployments:
            if not d.ended:
                d.message = str(exc)
    finally:
        provider.close()
    duration = max([d.duration for d in deployments if d.duration is not None], default=int(round(clock() - started)))
    return RunResult(
        deployments=deployments,
        status=overall_status(deployments, settings.wait and error is None),
        exit_code=exit_code(deployments, error),
        duration=duration,
        error=str(error) if error else None,
    )
