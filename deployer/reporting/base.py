"""The consumer side of deployer.events: one method per kind of event, each a no-op by default."""

from __future__ import annotations

from deployer.events import (
    Event,
    FailureLog,
    Finished,
    LogLines,
    Message,
    Started,
    StatusChanged,
    Tick,
    Triggered,
)
from deployer.model import Deployment, Status


def seconds_text(elapsed: float) -> str:
    """A duration as people read it: 42s, 3m07s."""
    whole = int(round(elapsed))
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


class Consumer:
    """Renders events: call it with each one. Subclasses override the methods they show."""

    def __call__(self, event: Event) -> None:
        if isinstance(event, StatusChanged):
            self.status(event.deployment, event.elapsed)
        elif isinstance(event, LogLines):
            self.log(event.deployment, event.lines)
        elif isinstance(event, Tick):
            self.tick(event.elapsed)
        elif isinstance(event, Message):
            {"notice": self.notice, "warning": self.warning, "error": self.error}[event.level](event.text)
        elif isinstance(event, FailureLog):
            self.failure_log(event.deployment, event.lines)
        elif isinstance(event, Triggered):
            self.triggered(event.deployments, event.where)
        elif isinstance(event, Started):
            self.start()
        elif isinstance(event, Finished):
            self.finished(event)

    def start(self) -> None:
        """Before the first request."""

    def triggered(self, deployments: list[Deployment], where: str) -> None:
        """What the trigger started."""

    def status(self, deployment: Deployment, elapsed: float) -> None:
        """A deployment's new status."""

    def log(self, deployment: Deployment, lines: list[str]) -> None:
        """New build log lines."""

    def failure_log(self, deployment: Deployment, lines: list[str]) -> None:
        """The tail of a failed deployment's log."""

    def notice(self, text: str) -> None:
        """A remark."""

    def warning(self, text: str) -> None:
        """Something the user should know (a retry, a risky setting)."""

    def error(self, text: str) -> None:
        """What ended the run, in one line."""

    def tick(self, elapsed: float) -> None:
        """Time passes."""

    def finished(self, event: Finished) -> None:
        """The run ended: the error (if any), then the summary."""
        if event.error:
            self.error(event.error)
        if event.deployments:
            self.summary(event.status, event.duration, event.deployments)

    def summary(self, status: Status, duration: int, deployments: list[Deployment]) -> None:
        """The table of every deployment's end."""
