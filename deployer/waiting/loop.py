"""Follow many deployments at the same time until each ends or the deadline passes.

One loop owns the schedule (deployer.waiting.schedule). Each deployment is checked when due: often
right after the trigger (fast failures), then less often up to `poll_interval`; where the server's
history says when such a deployment usually ends, densely in that window. Every request draws on
one budget of requests per minute, whatever the number of deployments, and a provider that can
answer for many deployments in one request (Coolify's list of active deployments) is asked once
for all of them. Each request's own time limit is cut to the time left, so the deadline is kept
within one poll interval. What happens is emitted as deployer.events, for any consumer to show.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from deployer.errors import AuthenticationFailed, NotFound, PermissionDenied, ServerError
from deployer.events import Emit, FailureLog, LogLines, Message, StatusChanged, Tick
from deployer.http import MAX_REQUEST_SECONDS
from deployer.model import Deployment, Status, seconds_from_to, utc_now
from deployer.providers.base import CheckResult, Follower
from deployer.retry import jittered
from deployer.waiting.schedule import (
    DEFAULT_BUDGET,
    FIRST_DELAY,
    LIST_INTERVAL,
    LIVE_FACTOR,
    Backoff,
    RequestBudget,
    pause_before,
)

TAIL_LINES = 50
WORKERS = 4  # checks in flight at once
#: How long cancels may take after the deadline: Coolify answers a cancel in 6-7 s (it first stops
#: the build container) and still succeeds.
CANCEL_GRACE = 15.0
CANCEL_WORKERS = 16

#: A provider's one-request check of several followers (providers.base.Provider.check_batch).
BatchCheck = Callable[..., "tuple[dict[Follower, CheckResult], list[Follower]]"]


def no_batch(
    due: list[Follower], active: list[Follower], *, want_logs: bool, timeout: float
) -> tuple[dict[Follower, CheckResult], list[Follower]]:
    """Every follower checks on its own."""
    return {}, []


@dataclass(eq=False)
class _Watch:
    """One deployment under watch: when it is due, its pause, the tail of its log, its last error."""

    follower: Follower
    due: float
    backoff: Backoff
    last_status: Status
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    last_error: ServerError | None = None
    #: It left the provider's list of active deployments: read its end with a check of its own.
    alone_next: bool = False

    @property
    def deployment(self) -> Deployment:
        return self.follower.deployment


def follow_all(
    followers: list[Follower],
    emit: Emit,
    *,
    started: float,
    deadline: float,
    poll_interval: float,
    logs: str,
    cancel_on_timeout: bool,
    budget_per_minute: float = DEFAULT_BUDGET,
    check_batch: BatchCheck = no_batch,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] | None = None,
) -> None:
    """Check every follower until its deployment ends; mark the rest `timeout` at the deadline.

    Raises AuthenticationFailed or PermissionDenied (for all deployments at once) when the token
    cannot read deployments; every other server fault is retried until the deadline.
    """
    loop = _Loop(
        followers,
        emit,
        started=started,
        deadline=deadline,
        poll_interval=poll_interval,
        logs=logs,
        budget_per_minute=budget_per_minute,
        check_batch=check_batch,
        clock=clock,
        sleep=sleep,
    )
    running = loop.run()
    said = cancel_all([w.follower for w in running]) if cancel_on_timeout else {}
    for watch in running:
        loop.time_out(watch, said.get(watch.follower))


class _Loop:
    """The schedule of one run's checks: who is due, what the budget allows, what each answer means."""

    def __init__(
        self,
        followers: list[Follower],
        emit: Emit,
        *,
        started: float,
        deadline: float,
        poll_interval: float,
        logs: str,
        budget_per_minute: float,
        check_batch: BatchCheck,
        clock: Callable[[], float],
        sleep: Callable[[float], None] | None,
    ) -> None:
        self.emit, self.started, self.deadline, self.logs = emit, started, deadline, logs
        self.poll_interval, self.check_batch, self.clock = poll_interval, check_batch, clock
        #: Set by a follower whose server pushed news (a live log's last line): ends the loop's nap.
        self.woken = threading.Event()
        self.sleep = sleep or self._nap
        self.followers = followers
        for f in followers:
            f.wake = self.woken.set
        self.want_logs = logs != "none"
        now = clock()
        self.budget = RequestBudget(budget_per_minute, now)
        self.budget.take()  # the trigger counts against the same limit
        self.watches = [
            _Watch(
                f,
                due=now + pause_before(f.first_check_after, poll_interval),
                backoff=Backoff(poll_interval, f.first_check_after or FIRST_DELAY),
                last_status=f.deployment.status,
            )
            for f in followers
            if not f.deployment.ended
        ]
        for f in followers:
            if f.deployment.ended:
                _finish(f.deployment, started, clock())

    def run(self) -> list[_Watch]:
        """Check until every deployment ended (returns []) or the deadline passed (returns those still running)."""
        pool = ThreadPoolExecutor(max_workers=max(1, min(WORKERS, len(self.watches))))
        try:
            while True:
                self.woken.clear()
                active = [w for w in self.watches if not w.deployment.ended]
                now = self.clock()
                if not active or now >= self.deadline:
                    return active
                self.emit(Tick(now - self.started))
                for watch in active:
                    self._take_pushed(watch)
                self._turn(active, now, pool)
        finally:
            # Never wait for a check still in flight (an interrupt must not hang on a slow server).
            pool.shutdown(wait=False, cancel_futures=True)
            for f in self.followers:
                f.close()

    def _nap(self, seconds: float) -> None:
        """Sleep, unless a follower wakes the loop first."""
        self.woken.wait(seconds)

    def _take_pushed(self, watch: _Watch) -> None:
        """What a follower's server pushed since the last turn: its log lines, and a wish for a check."""
        follower = watch.follower
        self._show(watch, follower.pushed())
        if follower.check_by is not None:
            watch.due = min(watch.due, follower.check_by)
            watch.backoff.reset()  # and close checks after it, until the end shows
            follower.check_by = None

    def _show(self, watch: _Watch, lines: list[str]) -> None:
        """New log lines: into the tail kept for a failure, and out as they come with --logs stream."""
        if lines:
            watch.tail.extend(lines)
            if self.logs == "stream":
                self.emit(LogLines(watch.deployment, lines))

    def _turn(self, active: list[_Watch], now: float, pool: ThreadPoolExecutor) -> None:
        """One turn: sleep until something is due, or send what is due and the budget allows."""
        due = sorted((w for w in active if w.due <= now), key=lambda w: w.due)
        tokens = self.budget.available(now)
        if not due or tokens < 1:
            wake = min(w.due for w in active) if tokens >= 1 else now + self.budget.next_token_in()
            # Wake at least once a second, so a live view's clock and heartbeats keep moving.
            self.sleep(max(0.0, min(wake, self.deadline, now + 1.0) - now))
            return
        timeout = max(0.1, min(MAX_REQUEST_SECONDS, self.deadline - now))
        results, sent = self._batch(due, active, timeout)
        batched = set(results)
        tokens -= sent
        alone = self._alone(active, due, results, tokens)
        if not results and not alone:
            self.budget.settle(self.clock())
            self.sleep(max(0.0, min(now + self.budget.next_token_in(), self.deadline) - now))
            return
        checks = pool.map(lambda w: _check(w, self.want_logs, timeout), alone)
        results.update(zip(alone, checks, strict=True))
        self.budget.settle(self.clock())  # every request of this turn has been answered
        for watch in active:
            if watch in results:
                self._handle(watch, *results[watch])
                if watch in batched and not watch.deployment.ended:
                    # One list request watches them all: it costs the same for one deployment or fifty.
                    watch.due = self.clock() + min(LIST_INTERVAL, self.poll_interval)
                    watch.backoff.reset()

    def _batch(self, due: list[_Watch], active: list[_Watch], timeout: float) -> tuple[dict[_Watch, CheckResult], int]:
        """Ask the provider to answer for many at once, unless some deployment left its list and
        must first be read on its own (a new list request would not tell its end). Returns the
        answers and the number of requests sent (0 or 1)."""
        if any(w.alone_next for w in active):
            return {}, 0
        by_follower = {w.follower: w for w in active}
        answered, left = self.check_batch(
            [w.follower for w in due], list(by_follower), want_logs=self.want_logs, timeout=timeout
        )
        sent = 1 if answered or left else 0
        self.budget.take(sent)
        for follower in left:
            by_follower[follower].alone_next = True
        return {by_follower[f]: result for f, result in answered.items()}, sent

    def _alone(
        self, active: list[_Watch], due: list[_Watch], results: dict[_Watch, CheckResult], tokens: int
    ) -> list[_Watch]:
        """Who checks on their own this turn: those that left the list first, then the due ones.
        At most one per worker: a burst of checks each carrying a whole build log would otherwise
        hold all their answers at once (memory), and the budget stays spread."""
        flagged = [w for w in active if w.alone_next]
        candidates = flagged + [w for w in due if w not in results and not w.alone_next]
        chosen: list[_Watch] = []
        for watch in candidates[:WORKERS]:
            cost = watch.follower.cost
            if cost > tokens:
                break
            tokens -= cost
            self.budget.take(cost)
            watch.alone_next = False
            chosen.append(watch)
        return chosen

    def _handle(self, watch: _Watch, lines: list[str], error: ServerError | None) -> None:
        """Take in one check's answer: report what changed and schedule the next check."""
        follower, d, now = watch.follower, watch.deployment, self.clock()
        for text in follower.notices:
            self.emit(Message(text))
        follower.notices.clear()
        self._show(watch, follower.pushed())  # pushed while the check was in flight: they came first
        if error is not None and not d.ended:
            self._failed_check(watch, error, now)
            return
        if error is not None:  # the check saw the end, then failed on something else (the log): still an end
            self.emit(Message(f"{d.label}: {error}", "warning"))
        watch.last_error = None
        self._show(watch, lines)
        if d.ended:
            d.log_tail = list(watch.tail)
        if d.status != watch.last_status:
            watch.last_status = d.status
            if d.ended:
                _finish(d, self.started, now)
            self.emit(StatusChanged(d, now - self.started))
        if d.ended:
            if d.status in (Status.FAILED, Status.CANCELLED) and self.logs == "on-failure" and d.log_tail:
                self.emit(FailureLog(d, d.log_tail))
            return
        pause = watch.backoff.next(now, follower.expected_end)
        if follower.live:
            # Its log is pushed and will say the end (a forecast too): a check now and then is a safety net.
            pause = max(pause, LIVE_FACTOR * self.poll_interval)
        watch.due = now + pause

    def _failed_check(self, watch: _Watch, error: ServerError, now: float) -> None:
        """A check that could not read the status: fatal for the token, an end for a vanished
        deployment, else a warning (once per kind of error) and a later retry."""
        d = watch.deployment
        if isinstance(error, (AuthenticationFailed, PermissionDenied)):
            raise error
        if isinstance(error, NotFound):
            d.status, d.server_problem, d.message = Status.FAILED, True, str(error)
            _finish(d, self.started, now)
            self.emit(StatusChanged(d, now - self.started))
            return
        if watch.last_error is None or type(watch.last_error) is not type(error):
            self.emit(Message(f"{d.label}: could not read its status, retrying: {error}", "warning"))
        watch.last_error = error
        pause = jittered(watch.backoff.next(now, watch.follower.expected_end))
        watch.due = now + max(pause, error.retry_after or 0.0)

    def time_out(self, watch: _Watch, cancelled: str | None) -> None:
        """The deadline passed with this deployment still running: it ends as `timeout`."""
        d, now = watch.deployment, self.clock()
        was = d.status
        d.status = Status.TIMEOUT
        d.message = f"still {was} at the timeout"
        if watch.last_error is not None:
            d.message += f"; last error: {watch.last_error}"
        if cancelled:
            d.message += f"; {cancelled}"
        d.log_tail = list(watch.tail)
        _finish(d, self.started, now)
        self.emit(StatusChanged(d, now - self.started))


def _check(watch: _Watch, want_logs: bool, timeout: float) -> CheckResult:
    try:
        return watch.follower.check(want_logs=want_logs, timeout=timeout), None
    except ServerError as exc:
        return [], exc


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


def _finish(d: Deployment, started: float, now: float) -> None:
    """An end: its time, and how long it took (by the server's own times where it gave both)."""
    d.finished_at = d.finished_at or utc_now()
    if d.duration is None:
        d.duration = seconds_from_to(d.started_at, d.finished_at)
    if d.duration is None:
        d.duration = int(round(now - started))
