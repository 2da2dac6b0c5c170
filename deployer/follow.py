"""Follow many deployments at the same time until each ends or the deadline passes.

One loop owns the schedule. Each deployment is checked when due: often right after the trigger
(fast failures), then less often up to `poll_interval`; where the server's history says when such
a deployment usually ends, densely in that window. Every request draws on one budget of requests
per minute, whatever the number of deployments, and a provider that can answer for many
deployments in one request (Coolify's list of active deployments) is asked once for all of them.
Each request's own time limit is cut to the time left, so the deadline is kept within one poll
interval.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from deployer.errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    ServerError,
)
from deployer.models import (
    CANCELLED,
    FAILED,
    MAX_REQUEST_SECONDS,
    TIMEOUT,
    Deployment,
    Follower,
    seconds_from_to,
)
from deployer.retry import jittered

FIRST_DELAY = 0.5
GROWTH = 2.0
DENSE_STEP = 0.5
TAIL_LINES = 50
WORKERS = 4  # checks in flight at once
DEFAULT_BUDGET = 120.0  # requests per minute: 60% of Coolify's default limit of 200, enough to
# follow 50 deployments to within a second (a list request a second plus one end read each)
#: How long cancels may take after the deadline: Coolify answers a cancel in 6-7 s (it first stops
#: the build container) and still succeeds.
CANCEL_GRACE = 15.0
CANCEL_WORKERS = 16
LIST_INTERVAL = 1.0  # how often one list request watches all deployments, once it is in use

Result = tuple[list[str], "ServerError | None"]


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


class RequestBudget:
    """At most `per_minute` requests in any 60 seconds: how the servers' rate limits count them."""

    def __init__(self, per_minute: float, now: float) -> None:
        self.limit = max(1, int(per_minute))
        self.sent: deque[float] = deque()
        self.now = now

    def available(self, now: float) -> int:
        self.now = now
        while self.sent and self.sent[0] <= now - 60.0:
            self.sent.popleft()
        return self.limit - len(self.sent)

    def take(self, count: int = 1) -> None:
        self.sent.extend([self.now] * count)

    def next_token_in(self) -> float:
        return max(0.01, self.sent[0] + 60.0 - self.now) if len(self.sent) >= self.limit else 0.01


@dataclass
class _Watch:
    follower: Follower
    due: float
    delay: float
    tail: deque = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    last_error: ServerError | None = None
    last_status: str = ""
    #: It left the provider's list of active deployments: read its end with a check of its own.
    alone_next: bool = False


def next_delay(watch: _Watch, now: float, poll_interval: float) -> float:
    """The pause before this deployment's next check.

    Without a forecast: 0.5 s, doubling up to `poll_interval`. With one (the window in which the
    previous deployments ended): the same growth, cut so the next check lands at the window's start,
    every 0.5 s inside it, and growth again once it has passed.
    """
    base = watch.delay
    watch.delay = min(poll_interval, watch.delay * GROWTH)
    window = getattr(watch.follower, "expected_end", None)
    if not window:
        return base
    opens, closes = window
    if now < opens:
        return max(DENSE_STEP, min(base, opens - now))
    if now <= closes:
        return min(DENSE_STEP, poll_interval)
    return base


def follow_all(
    followers: list[Follower],
    reporter: Reporter,
    *,
    started: float,
    deadline: float,
    poll_interval: float,
    logs: str,
    cancel_on_timeout: bool,
    budget_per_minute: float = DEFAULT_BUDGET,
    check_batch: Callable[..., tuple[dict[Any, Result], list[Any]]] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Check every follower until its deployment ends; mark the rest `timeout` at the deadline.

    `check_batch(due, active, want_logs=, timeout=)` may answer for several followers with one
    request: it returns ({follower: (new log lines, error)} for those it answered, the followers
    to check on their own right away), or ({}, []) when it sent nothing.
    Raises AuthenticationFailed or PermissionDenied (for all deployments at once) when the token
    cannot read deployments; every other server fault is retried until the deadline.
    """
    now = clock()
    budget = RequestBudget(budget_per_minute, now)
    budget.take()  # the trigger counts against the same limit
    watches = [
        _Watch(f, due=now, delay=min(FIRST_DELAY, poll_interval), last_status=f.deployment.status)
        for f in followers
        if not f.deployment.ended
    ]
    for f in followers:
        if f.deployment.ended:
            _finish(f.deployment, started, clock())
    want_logs = logs != "none"
    pool = ThreadPoolExecutor(max_workers=max(1, min(WORKERS, len(watches))))
    try:
        while True:
            active = [w for w in watches if not w.follower.deployment.ended]
            if not active:
                return
            now = clock()
            if now >= deadline:
                break
            reporter.tick(now - started)
            due = sorted((w for w in active if w.due <= now), key=lambda w: w.due)
            tokens = budget.available(now)
            if not due or tokens < 1:
                wake = min(w.due for w in active) if tokens >= 1 else now + budget.next_token_in()
                # Wake at least once a second, so a live view's clock and heartbeats keep moving.
                sleep(max(0.0, min(wake, deadline, now + 1.0) - now))
                continue
            request_timeout = max(0.1, min(MAX_REQUEST_SECONDS, deadline - now))
            results: dict[int, Result] = {}
            batched: set[int] = set()
            flagged = [w for w in active if w.alone_next]
            # Deployments that left the list go first: a new list request would not tell their end.
            if check_batch is not None and not flagged:
                answered, left = check_batch([w.follower for w in due], [w.follower for w in active],
                                             want_logs=want_logs, timeout=request_timeout)
                if answered or left:
                    budget.take()
                    tokens -= 1
                results.update({id(f): r for f, r in answered.items()})
                batched = {id(f) for f in answered}
                left_ids = {id(f) for f in left}
                for w in active:
                    if id(w.follower) in left_ids:
                        w.alone_next = True
                flagged = [w for w in active if w.alone_next]
            candidates = flagged + [w for w in due if id(w.follower) not in results and not w.alone_next]
            alone: list[_Watch] = []
            # At most one check per worker a turn: a burst of checks each carrying a whole build log
            # would otherwise hold all their answers at once (memory), and the budget stays spread.
            for watch in candidates[:WORKERS]:
                cost = getattr(watch.follower, "cost", 1)
                if cost > tokens:
                    break
                tokens -= cost
                budget.take(cost)
                watch.alone_next = False
                alone.append(watch)
            if not results and not alone:
                sleep(max(0.0, min(now + budget.next_token_in(), deadline) - now))
                continue
            for watch, result in zip(alone, pool.map(lambda w, t=request_timeout: _check(w, want_logs, t), alone), strict=True):
                results[id(watch.follower)] = result
            for watch in active:
                if id(watch.follower) in results:
                    lines, error = results[id(watch.follower)]
                    _handle(watch, lines, error, reporter, logs, started, clock(), poll_interval)
                    if id(watch.follower) in batched and not watch.follower.deployment.ended:
                        # One list request watches them all: it costs the same for one deployment or fifty.
                        watch.due = clock() + min(LIST_INTERVAL, poll_interval)
                        watch.delay = min(FIRST_DELAY, poll_interval)
    finally:
        # Never wait for a check still in flight (an interrupt must not hang on a slow server).
        pool.shutdown(wait=False, cancel_futures=True)
    running = [w for w in watches if not w.follower.deployment.ended]
    cancelled = cancel_all([w.follower for w in running]) if cancel_on_timeout else {}
    for watch in running:
        _time_out(watch, reporter, started, clock(), cancelled.get(watch.follower))


def _check(watch: _Watch, want_logs: bool, timeout: float) -> Result:
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
        watch.due = now + max(jittered(next_delay(watch, now, poll_interval)), retry_after)
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
    watch.due = now + next_delay(watch, now, poll_interval)


def cancel_all(followers: list[Follower]) -> dict[Follower, str]:
    """Cancel every deployment at once (a cancel can take seconds to answer), each given up to
    CANCEL_GRACE seconds; what each cancel did, in one line."""
    if not followers:
        return {}
    with ThreadPoolExecutor(max_workers=min(CANCEL_WORKERS, len(followers))) as pool:
        futures = {f: pool.submit(f.cancel, CANCEL_GRACE) for f in followers}
    said: dict[Follower, str] = {}
    for follower, future in futures.items():
        try:
            said[follower] = future.result()
        except Exception as exc:  # a cancel must never cost the report of the others
            said[follower] = f"cancel failed: {exc}"
    return said


def _time_out(watch: _Watch, reporter: Reporter, started: float, now: float, cancelled: str | None) -> None:
    d = watch.follower.deployment
    was = d.status
    d.status = TIMEOUT
    d.message = f"still {was} at the timeout"
    if watch.last_error is not None:
        d.message += f"; last error: {watch.last_error}"
    if cancelled:
        d.message += f"; {cancelled}"
    d.log_tail = list(watch.tail)
    _finish(d, started, now)
    reporter.status(d, now - started)


def _finish(d: Deployment, started: float, now: float) -> None:
    """An end: its time, and how long it took (by the server's own times where it gave both)."""
    d.finished_at = d.finished_at or utc_now()
    if d.duration is None:
        d.duration = seconds_from_to(d.started_at, d.finished_at)
    if d.duration is None:
        d.duration = int(round(now - started))
