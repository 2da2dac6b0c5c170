"""The retry policy, in one place (README "Reliability" says the same in prose).

Triggering a deploy is not idempotent, so a trigger is retried ONLY when the server provably did
not act on it:
  - the connection was refused or failed before the request was sent (Unreachable, sent=False);
  - the server answered 429 or 503 with a Retry-After header (e.g. Coolify's "Deployment queue is
    full": nothing was queued).
A time-out, a reset or any other failure once the request may have reached the server is never
retried: a second trigger could deploy twice. The step then fails (exit 3) and says so.

Reads before the trigger (looking names up) are idempotent and nothing has been deployed yet: they
are retried on transient faults (network, 429, 5xx), honouring Retry-After, up to 5 attempts.

Status checks (polls) are idempotent: the follow loop retries them on network errors, 429
(honouring Retry-After), 5xx and odd answers, with growing pauses and jitter, until the deadline;
a run of failed checks that reaches the deadline ends as a timeout (exit 4) naming the last error,
never as a success.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from deployer.errors import HTTPStatusError, ServerError, Unreachable

T = TypeVar("T")
MAX_TRIGGER_ATTEMPTS = 5


def jittered(seconds: float) -> float:
    """Spread retries so many runners do not hit the server in step."""
    return seconds * random.uniform(0.8, 1.2)


def unsent_retry_delay(error: ServerError, attempt: int) -> float | None:
    """How long to wait before sending a trigger again, or None when it must not be sent again."""
    if isinstance(error, Unreachable) and not error.sent and error.transient:
        return jittered(min(30.0, 2.0**attempt))
    if isinstance(error, HTTPStatusError) and error.status in (429, 503) and error.retry_after is not None:
        return error.retry_after
    return None


def transient_read_delay(error: ServerError, attempt: int) -> float | None:
    """How long to wait before an idempotent read again (Retry-After, else a growing pause), or None."""
    if not error.transient:
        return None
    retry_after = error.retry_after if isinstance(error, HTTPStatusError) else None
    return retry_after if retry_after is not None else jittered(min(30.0, 2.0**attempt))


@dataclass
class _Retry:
    """Runs one request, trying again after `delay(error, attempt)` (None: never), within the deadline."""

    deadline: float
    on_retry: Callable[[str], None] = lambda message: None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def delay(self, error: ServerError, attempt: int) -> float | None:
        raise NotImplementedError

    def said(self, error: ServerError, wait: float) -> str:
        raise NotImplementedError

    def run(self, action: Callable[[], T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return action()
            except ServerError as exc:
                wait = self.delay(exc, attempt)
                if wait is None or attempt >= MAX_TRIGGER_ATTEMPTS or self.clock() + wait >= self.deadline:
                    raise
                self.on_retry(self.said(exc, wait))
                self.sleep(wait)


class TriggerRetry(_Retry):
    """Sends one mutating request, retrying only as the policy above allows."""

    def delay(self, error: ServerError, attempt: int) -> float | None:
        return unsent_retry_delay(error, attempt)

    def said(self, error: ServerError, wait: float) -> str:
        if isinstance(error, Unreachable):
            return f"the deploy request never reached the server ({error.message}); sending it again in {wait:.0f}s"
        return f"the server did not take the deploy ({error.message}); sending it again in {wait:.0f}s"


class ReadRetry(_Retry):
    """Runs an idempotent read before anything is deployed, retrying transient faults."""

    def delay(self, error: ServerError, attempt: int) -> float | None:
        return transient_read_delay(error, attempt)

    def said(self, error: ServerError, wait: float) -> str:
        return f"{error.message}; nothing is deployed yet, trying again in {wait:.0f}s"
