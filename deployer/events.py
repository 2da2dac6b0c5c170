"""What a run tells as it goes: one small record per happening, for any consumer to render.

The waiting loop and the API emit these; the terminal, GitHub and GitLab output (deployer.reporting)
consume them, and so can a library user's own callback. They carry model objects only, never HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from deployer.model import Deployment, Status


@dataclass(frozen=True)
class Started:
    """The run began (before anything was sent)."""


@dataclass(frozen=True)
class Triggered:
    """The server accepted the deploy: one deployment per resource, refused ones already ended."""

    deployments: list[Deployment]
    where: str


@dataclass(frozen=True)
class StatusChanged:
    """A deployment moved to a new status (its record holds the rest: message, url, times)."""

    deployment: Deployment
    elapsed: float


@dataclass(frozen=True)
class LogLines:
    """New lines of a deployment's build log, in order, none repeated."""

    deployment: Deployment
    lines: list[str]


@dataclass(frozen=True)
class FailureLog:
    """The last lines of a failed deployment's log (with `logs="on-failure"`)."""

    deployment: Deployment
    lines: list[str]


@dataclass(frozen=True)
class Message:
    """A one-line remark for the user: a notice, a warning (retrying, a setting's risk) or an error."""

    text: str
    level: Literal["notice", "warning", "error"] = "notice"


@dataclass(frozen=True)
class Tick:
    """Time passes (at least once a second while waiting): a live view may redraw its clock."""

    elapsed: float


@dataclass(frozen=True)
class Finished:
    """The run ended: its overall status, duration in seconds, every deployment's record, what
    stopped it (if anything) and the exit code the CLI gives it."""

    status: Status
    duration: int
    deployments: list[Deployment]
    error: str | None = None
    exit_code: int = 0
    #: With --image-tag or --commit: the version the resources run, and whether it was rolled back.
    version: str | None = None
    rolled_back: bool | None = None


Event = Started | Triggered | StatusChanged | LogLines | FailureLog | Message | Tick | Finished
#: Where events go: any callable taking one event.
Emit = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The consumer that renders nothing (a library call without `on_event`)."""
