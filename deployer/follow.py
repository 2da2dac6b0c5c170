"""Follow many deployments at the same time until each ends or the deadline passes.

One loop owns the schedule: each follower is checked when due (several at once on a small thread
pool), checks start often right after the trigger and space out to `poll_interval`, and every
request's own timeout is cut to the time left, so the deadline is kept within one poll interval.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Protocol

from deployer.errors import AuthenticationFailed, NotFound, PermissionDenied, ServerError
from deployer.models import CANCELLED, FAILED, TIMEOUT, Deployment, Follower
from deployer.retry import jittered

FIRST_DELAY = 0.5
GROWTH = 1.5
TAIL_LINES = 50
MAX_REQUEST_TIMEOUT = 30.0


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Reporter(Protocol):
    """Where progress goes: the console, a CI platform's log; see deployer.console."""

    def status(self, deployment: Deployment, elapsed: float) -> None: ...
    def log(self, deployment: Deployment, lines: list[str]) -> None: ...
    def failure_log(self, deployment: Deployment, lines: list[str]) -> None: ...
    def notice(self, text: str) -> None: ...
    def warning(self, text: str) -> None: ...
    def tick(self, elapsed: float) -> None: ...


@dataclass
class _Watch:
    follower: Follower
    due: float
    delay: float
    tail: deque = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    last_error: ServerError | None = None
    last_status: str = ""


def follow_all(
    followers: list[Follower],
    reporter: Reporter,
    *,
    started: float,
    deadline: float,
    poll_interval: float,
    logs: str,
    cancel_on_timeout: bool,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Check every follower until its deployment ends; mark the rest `timeout` at the deadline.

    Raises AuthenticationFailed or PermissionDenied (for all deployments at once) when the token
    cannot read deployments; every other server fault is retried until the deadline.
    """
    now = clock()
    watches = [
        _Watch(f, due=now, delay=min(FIRST_DELAY, poll_interval), last_status=f.deployment.status)
        for f in followers
        if not f.deployment.ended
    ]
    for f in followers:
        if f.deployment.ended:
            _finish(f.deployment, started, clock())
    want_logs = logs != "none"
    pool = ThreadPoolExecutor(max_workers=max(1, min(8, len(watches))))
    try:
        while True:
            active = [w for w in watches if not w.follower.deployment.ended]
            if not active:
                return
            now = clock()
            if now >= deadline:
                break
            reporter.tick(now - started)
            due = [w for w in active if w.due <= now]
            if not due:
                # Wake at least once a second, so a live view's clock and heartbeats keep moving.
                sleep(max(0.0, min(min(w.due for w in active), deadline, now + 1.0) - now))
                continue
            request_timeout = max(0.1, min(MAX_REQUEST_TIMEOUT, deadline - now))
            results = list(pool.map(lambda w: _check(w, want_logs, request_timeout), due))
            for watch, (lines, error) in zip(due, results):
                _handle(watch, lines, error, reporter, logs, started, clock(), poll_interval)
    finally:
        # Never wait for a check still in flight (an interrupt must not hang on a slow server).
        pool.shutdown(wait=False, cancel_futures=True)
    for watch in (w for w in watches if not w.follower.deployment.ended):
        _time_out(watch, reporter, started, clock(), cancel_on_timeout)


def _check(watch: _Watch, want_logs: bool, timeout: float) -> tuple[list[str], ServerError | None]:
    try:
        return watch.follower.check(want_logs=want_logs, timeout=timeout), None
    except ServerError as exc:
        return [], exc


def _handle(watch: _Watch, lines: list[str], error: ServerError | None, reporter: Reporter, logs: str, started: float, now: float, poll_interval: float) -> None:
    follower, d = watch.follower, watch.follower.deployment
    for text in follower.notices:
        reporter.notice(text)
    follower.notices.clear()
    if error is not None and not d.ended:
        if isinstance(error, (AuthenticationFailed, PermissionDenied)):
            raise error
        if isinstance(error, NotFound):
            d.status, d.server_problem, d.message = FAILED, True, str(error)
            _finish(d, started, now)
            reporter.status(d, now - started)
            return
        if watch.last_error is None or type(watch.last_error) is not type(error):
            reporter.warning(f"{d.label}: could not read its status, retrying: {error}")
        watch.last_error = error
        retry_after = getattr(error, "retry_after", None) or 0.0
        watch.due = now + max(jittered(watch.delay), retry_after)
        watch.delay = min(poll_interval, watch.delay * GROWTH)
        return
    if error is not None:  # the check saw the end, then failed on something else (the log): still an end
        reporter.warning(f"{d.label}: {error}")
    watch.last_error = None
    if lines:
        watch.tail.extend(lines)
        if logs == "stream":
            reporter.log(d, lines)
    if d.ended:
        d.log_tail = list(watch.tail)
    if d.status != watch.last_status:
        watch.last_status = d.status
        if d.ended:
            _finish(d, started, now)
        reporter.status(d, now - started)
    if d.ended:
        if d.status in (FAILED, CANCELLED) and logs == "on-failure" and d.log_tail:
            reporter.failure_log(d, d.log_tail)
        return
    watch.due = now + watch.delay
    watch.delay = min(poll_interval, watch.delay * GROWTH)


def _time_out(watch: _Watch, reporter: Reporter, started: float, now: float, cancel: bool) -> None:
    d = watch.follower.deployment
    was = d.status
    d.status = TIMEOUT
    d.message = f"still {was} at the timeout"
    if watch.last_error is not None:
        d.message += f"; last error: {watch.last_error}"
    if cancel:
        d.message += f"; {watch.follower.cancel()}"
    d.log_tail = list(watch.tail)
    _finish(d, started, now)
    reporter.status(d, now - started)


def _finish(d: Deployment, started: float, now: float) -> None:
    d.finished_at = d.finished_at or utc_now()
    if d.duration is None:
        d.duration = int(round(now - started))

