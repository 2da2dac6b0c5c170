"""When to ask: the pause before each deployment's next check, and the budget of requests a minute."""

from __future__ import annotations

from collections import deque

FIRST_DELAY = 0.5
GROWTH = 2.0
DENSE_STEP = 0.5
#: A window that opens within this part of a poll interval after the next regular check takes
#: that check's place (it would tell nothing the window's first check does not).
BEFORE_WINDOW_SLACK = 0.5
DEFAULT_BUDGET = 120.0  # requests per minute: 60% of Coolify's default limit of 200, enough to
# follow 50 deployments to within a second (a list request a second plus one end read each)
#: With a live log that tells the end (Dokploy's socket), status checks are this many poll intervals apart.
LIVE_FACTOR = 4.0
LIST_INTERVAL = 1.0  # how often one list request watches all deployments, once it is in use


class RequestBudget:
    """At most `per_minute` requests in any 60 seconds: how the servers' rate limits count them.

    A request is counted from when it is taken until 60 s after `settle()`: its answer has come by
    then, so it reached the server before, and the server's window of 60 s never holds more than
    the budget even when a check's second request goes out after its first one's answer.
    """

    def __init__(self, per_minute: float, now: float) -> None:
        self.limit = max(1, int(per_minute))
        self.sent: deque[float] = deque()
        self.now = now
        self.unsettled = 0

    def available(self, now: float) -> int:
        self.now = now
        while self.sent and self.sent[0] <= now - 60.0:
            self.sent.popleft()
        return self.limit - len(self.sent)

    def take(self, count: int = 1) -> None:
        self.sent.extend([self.now] * count)
        self.unsettled += count

    def settle(self, now: float) -> None:
        """The requests taken since the last settle have all been answered by `now`."""
        for _ in range(self.unsettled):
            self.sent.pop()
        self.sent.extend([now] * self.unsettled)
        self.unsettled = 0

    def next_token_in(self) -> float:
        return max(0.01, self.sent[0] + 60.0 - self.now) if len(self.sent) >= self.limit else 0.01


def pause_before(wanted: float, poll_interval: float) -> float:
    """The pause before a check wanted `wanted` seconds from now: that long where it comes at most
    half a poll interval after the next regular check would (it takes that check's place), else
    one poll interval (an early failure is still seen within one)."""
    return wanted if wanted <= poll_interval * (1 + BEFORE_WINDOW_SLACK) else poll_interval


class Backoff:
    """One deployment's pause between checks.

    Without a forecast: 0.5 s, doubling up to `poll_interval`. With one (the window in which the
    deployment should end): one check every poll interval and one as the window opens, then checks a
    third of the window apart (at least 0.5 s) inside it, and growth again once it has passed.
    """

    def __init__(self, poll_interval: float, first: float = FIRST_DELAY) -> None:
        self.poll_interval = poll_interval
        self.delay = min(first, poll_interval)

    def reset(self) -> None:
        self.delay = min(FIRST_DELAY, self.poll_interval)

    def next(self, now: float, window: tuple[float, float] | None) -> float:
        base = self.delay
        self.delay = min(self.poll_interval, self.delay * GROWTH)
        if not window:
            return base
        opens, closes = window
        if now < opens:
            # No early ramp: one check every poll interval (an early failure is still seen within
            # one), and one as the window opens; a regular check just before it would tell nothing.
            return pause_before(opens - now, self.poll_interval)
        step = max(DENSE_STEP, (closes - opens) / 3)  # a forecast's narrow window, or a log's hint
        if now <= closes + step:
            return min(step, self.poll_interval)
        return base
