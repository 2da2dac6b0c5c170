"""What the user deploys and what becomes of it: resources, deployments, statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Status(str, Enum):
    """A deployment's status, in the user's words (CONTRACT.md); each compares equal to its text."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    #: The run cannot tell which of several deployments is the one it started (it says which).
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def ended(self) -> bool:
        return self in ENDED


ENDED = frozenset({Status.FINISHED, Status.FAILED, Status.CANCELLED, Status.TIMEOUT, Status.UNKNOWN})


@dataclass(frozen=True)
class ResourceName:
    """A resource asked for by name; the provider looks its id up before deploying."""

    name: str
    kind: str | None = None  # application, service, database or compose; None = any
    project: str | None = None
    environment: str | None = None  # the server's environment inside the project
    where: str = "--name"

    def __str__(self) -> str:
        scope = "/".join(p for p in (self.project, self.environment) if p)
        return f"{self.name!r}" + (f" in {scope}" if scope else "") + (f" ({self.kind})" if self.kind else "")


@dataclass(eq=False)
class Deployment:
    """One resource's deployment as this run knows it; it becomes one entry of the `result` output.
    Records are compared and hashed by identity: each is one deployment of this run."""

    provider: str
    resource: str
    kind: str
    deployment_id: str | None = None
    status: Status = Status.QUEUED
    url: str | None = None
    message: str = ""
    name: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration: int | None = None
    #: Exit code 3 when the server could not be used for this resource (not found, permission).
    server_problem: bool = False
    #: The last lines of its build log, kept for the failure report.
    log_tail: list[str] = field(default_factory=list)
    #: The version (image tag or commit) the resource runs after this deployment, where the run set one.
    version: str | None = None

    def __post_init__(self) -> None:
        self.status = Status(self.status)  # a library caller may pass the text

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def label(self) -> str:
        """How the resource is named in progress lines: its name when known, else its id."""
        return self.name or self.resource

    def as_result(self) -> dict[str, object]:
        """The entry of the `result` output; every text in it neutralised (it may come from the server)."""
        from deployer.safe_text import one_line

        def text(value: str | None) -> str | None:
            return None if value is None else one_line(value)

        return {
            "provider": self.provider,
            "resource": one_line(self.resource),
            "name": text(self.name),
            "kind": self.kind,
            "deployment_id": text(self.deployment_id),
            "status": Status(self.status).value,
            "url": text(self.url),
            "message": one_line(self.message),
            "started_at": text(self.started_at),
            "finished_at": text(self.finished_at),
            "duration": self.duration,
        }


def epoch(stamp: object) -> float | None:
    """A server's ISO 8601 time (`2026-12-02T04:47:59.726Z`, Coolify's `...59.000000Z`; UTC when it
    names no zone) as epoch seconds; None when it is not one. The one time parser of both providers."""
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def iso_utc(stamp: object) -> str | None:
    """A server's time as the one form every output uses, ISO 8601 UTC to the second
    (`2026-12-02T04:47:59Z`); None if it is none."""
    import time as clock

    seconds = epoch(stamp)
    return None if seconds is None else clock.strftime("%Y-%m-%dT%H:%M:%SZ", clock.gmtime(seconds))


def seconds_between(start: object, end: object) -> float | None:
    """Seconds from one server time to a later one, or None."""
    a, b = epoch(start), epoch(end)
    return b - a if a is not None and b is not None and b >= a else None


def seconds_from_to(start: str | None, end: str | None) -> int | None:
    """Whole seconds between two times, or None."""
    took = seconds_between(start, end)
    return None if took is None else int(round(took))


def utc_now() -> str:
    """Now, in the form every output uses (ISO 8601 UTC to the second)."""
    import time as clock

    return clock.strftime("%Y-%m-%dT%H:%M:%SZ", clock.gmtime())


MASK = "***"


@dataclass(frozen=True)
class Change:
    """One setting of one resource that the run changes before the deploy (--image-tag, --commit,
    --env). `old` is None where the resource had no such setting."""

    resource: str
    label: str
    #: What changes, in the user's words: "image tag", "image", "commit", "variable API_URL".
    setting: str
    old: str | None
    new: str
    #: A variable's value: shown masked, never in clear.
    secret: bool = False
    #: The resource's version (put back by --rollback-on-failure), as opposed to a variable.
    version: bool = False
    #: The version as the user names it (a tag or commit), before and after: for the `version` output.
    old_version: str | None = None
    new_version: str | None = None

    def __str__(self) -> str:
        def shown(value: str | None) -> str:
            if value is None:
                return "(not set)" if not self.secret else "(not set or unknown)"
            return MASK if self.secret else value

        return f"{self.label}: {self.setting} {shown(self.old)} -> {shown(self.new)}"


@dataclass(frozen=True)
class StackChange:
    """What --compose-file does to the stack: create it, update its compose file, or leave it."""

    name: str
    action: str  # create | update | unchanged
    #: The stack's id once it exists (None in a dry run that would create it).
    resource_id: str | None = None
    #: A unified diff from the server's compose file to the repo's (update), or the file (create).
    diff: str = ""
    #: Where it is (or would be) created: "project/environment on server S".
    where: str = ""

    def __str__(self) -> str:
        if self.action == "create":
            return f"create the stack {self.name} in {self.where}"
        if self.action == "update":
            return f"update the compose file of the stack {self.name} ({self.resource_id})"
        return f"leave the stack {self.name} ({self.resource_id}) as it is: its compose file is the same"
