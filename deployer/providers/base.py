"""What every provider is: the parts the waiting loop and the API rely on, written once.

A provider module (coolify.py, dokploy.py) subclasses `Provider` and `Follower`: the abstract
methods are what a server must answer; the rest has a default here. Server errors are translated
by one table per provider (`ErrorRule`s), read by `translate`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from deployer.errors import ChangeRefused, DeployerError, HTTPStatusError, InputError, ServerError
from deployer.http import ApiClient
from deployer.model import Change, Deployment, ResourceName, StackChange
from deployer.providers.names import Candidate

if TYPE_CHECKING:
    import httpx

    from deployer.config.compose_file import ComposeFile
    from deployer.config.settings import Settings
    from deployer.retry import TriggerRetry

#: A health probe looks once, within a time limit: (healthy?, what it saw, in one line).
Probe = Callable[[float], "tuple[bool, str]"]


class Prober(Protocol):
    """Makes probes of URLs (deployer.waiting.health.UrlProber)."""

    def probe(self, url: str) -> Probe: ...


#: One answer of a batch check: the new log lines of a deployment, or the error that kept it unread.
CheckResult = tuple[list[str], "ServerError | None"]


class Follower(ABC):
    """Follows one deployment on its server, one `check` at a time (the waiting loop decides when)."""

    #: Requests the next check may send, counted against the request budget.
    cost: int = 1

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        #: One-line remarks for the user (a phantom uuid replaced, logs hidden); the loop shows them.
        self.notices: list[str] = []
        #: (earliest, latest) monotonic time at which the deployment should end, from its history.
        self.expected_end: tuple[float, float] | None = None
        #: Seconds after the trigger of the first check (0: at once, to see fast failures).
        self.first_check_after = 0.0
        #: The server pushes this deployment's log and will tell its end there: checks can be sparse.
        self.live = False
        #: A monotonic time by which the follower wants a check (its pushed log says the end is here).
        self.check_by: float | None = None
        #: Set by the waiting loop: wakes it at once, from any thread.
        self.wake: Callable[[], None] = _nothing

    def pushed(self) -> list[str]:
        """Log lines the server pushed since the last call, without a check (none by default)."""
        return []

    def close(self) -> None:  # noqa: B027 (a default, not a forgotten abstract)
        """Stop whatever runs in the background for this deployment (a live log); nothing by default."""

    @abstractmethod
    def check(self, *, want_logs: bool, timeout: float) -> list[str]:
        """Ask the server once; update `deployment` (status, name, url); return new log lines."""

    def confirm_started(self, timeout: float) -> None:  # noqa: B027 (a default, not a forgotten abstract)
        """With --no-wait: make `deployment.deployment_id` name a deployment that exists; by
        default the id is sure already."""

    @abstractmethod
    def cancel(self, timeout: float) -> str:
        """Ask the server to cancel the deployment within `timeout` seconds; what happened, in one line."""


def _nothing() -> None:
    pass


class EndedFollower(Follower):
    """A resource whose outcome the trigger already told (refused, skipped): nothing to follow."""

    def check(self, *, want_logs: bool, timeout: float) -> list[str]:
        return []

    def cancel(self, timeout: float) -> str:
        return "it was not deployed"


class Provider(ABC):
    """A deploy server: triggers deployments and hands back one follower per resource."""

    #: Its name in settings and outputs (`coolify`, `dokploy`).
    name: ClassVar[str]
    #: Where its API sits under the instance's URL.
    api_path: ClassVar[str]
    #: How it says what went wrong, first match wins (see `translate`).
    errors: ClassVar[Sequence[ErrorRule]] = ()

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        #: Remarks for the user about the resources, outside any deployment (the API says them).
        self.notices: list[str] = []
        self.api = ApiClient(
            settings.url + self.api_path,
            self.auth_headers(settings.token),
            verify=settings.verify,
            timeout=settings.request_timeout,
            transport=transport,
        )

    @abstractmethod
    def auth_headers(self, token: str) -> dict[str, str]:
        """The headers that carry the token."""

    @abstractmethod
    def trigger(self, retry: TriggerRetry) -> Sequence[Follower]:
        """Start the deploy, each mutating request sent through `retry`; every requested resource
        gets a follower, refused ones already ended."""

    @abstractmethod
    def find(self, wanted: ResourceName) -> Candidate:
        """The resource a name means (InputError listing candidates when none or several match)."""

    @abstractmethod
    def target_field(self, found: Candidate) -> str:
        """The Settings field that deploys a found resource by id (`uuids`, `application_ids`...)."""

    @abstractmethod
    def deployment(self, deployment_id: str) -> Deployment:
        """One deployment as the server shows it now (NotFound when it has none by that id)."""

    @abstractmethod
    def cancel_deployment(self, deployment_id: str) -> str:
        """Cancel one deployment; DeployerError when it already ended or the server cannot."""

    def resolve_names(self) -> None:
        """Look the settings' resource names up and deploy them by id, each once."""
        ids: dict[str, Any] = {}
        for wanted in self.settings.names:
            found = self.find(wanted)
            field = self.target_field(found)
            known = ids.setdefault(field, list(getattr(self.settings, field)))
            if found.id not in known:
                known.append(found.id)
        self.settings = replace(self.settings, names=[], **ids)

    def check_batch(
        self, due: list[Follower], active: list[Follower], *, want_logs: bool, timeout: float
    ) -> tuple[dict[Follower, CheckResult], list[Follower]]:
        """Answer for several followers with one request, where the server allows it: ({follower:
        result} for those answered, followers to check on their own at once). By default ({}, []):
        nothing sent, every follower checks on its own."""
        return {}, []

    def health_probe(self, deployment: Deployment, prober: Prober) -> Probe | None:
        """The server's own view of a deployed resource's health (`--wait-healthy`), or None
        where the server has none."""
        return None

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self.api.close()

    # -- changes before the deploy (--image-tag, --commit, --env) ---------------------------------

    def plan_changes(self) -> list[Change]:
        """Read each target's settings and say what the run would change (InputError where a change
        does not fit a resource: exit 2, nothing sent). Nothing is changed here."""
        raise InputError(f"{self.name}: deployer cannot change a resource's version or variables here")

    def apply_changes(self, changes: list[Change]) -> None:
        """Make the changes on the server; ChangeRefused with the server's reasons when it refuses one."""
        raise InputError(f"{self.name}: deployer cannot change a resource's version or variables here")

    def restore(self, changes: list[Change]) -> None:
        """Put back the old values of these version changes (--rollback-on-failure)."""
        raise InputError(f"{self.name}: deployer cannot put a version back here")

    def ensure_stack(self, compose: ComposeFile, *, apply: bool) -> StackChange:
        """Make the settings' stack hold this compose file: create it, update it, or leave it when it
        is the same; with apply=False only say which (the dry run)."""
        raise InputError(f"{self.name}: deployer cannot create or update a stack here")

    def retarget(self, resources: list[str]) -> None:
        """From now on, trigger only these resources (ids): the rollback's deploy."""
        raise InputError(f"{self.name}: deployer cannot deploy a subset again here")

    def refused(self, exc: HTTPStatusError, label: str, done: list[Change]) -> DeployerError:
        """A change the server would not make: its reasons in one line, and what the resources point
        to now (earlier changes of this run stay made)."""
        if exc.status not in (400, 422):
            return self.translated(exc, f"changing {label}")
        reasons = "; ".join(exc.reasons) or exc.server_message or f"HTTP {exc.status}"
        made = f"; already changed: {', '.join(str(c) for c in done)}" if done else ""
        return ChangeRefused(f"{self.name} refused to change {label}: {reasons}; nothing was deployed{made}")

    def request(self, method: str, path: str, doing: str, **options: Any) -> Any:
        """One API request; an HTTP error answer comes back translated by the provider's table."""
        try:
            return self.api.request(method, path, **options)
        except HTTPStatusError as exc:
            raise self.translated(exc, doing) from None

    def translated(self, exc: HTTPStatusError, doing: str) -> ServerError | DeployerError:
        """An HTTP error in the user's words, by this provider's table."""
        return translate(exc, doing, self.errors)


@dataclass(frozen=True)
class ErrorRule:
    """One row of a provider's error table: an HTTP status (and optionally what the server said)
    and the error the user sees. `{doing}` and `{said}` in `message` are filled in."""

    status: int
    error: Callable[..., DeployerError]
    message: str
    hint: str = ""
    #: Only when the server's message matches this (a regular expression); None: any message.
    said: str | None = None
    #: Only when the server said nothing (no JSON message: a proxy's page, not the API).
    silent: bool = False

    def matches(self, exc: HTTPStatusError) -> bool:
        if exc.status != self.status or (self.silent and exc.server_message):
            return False
        return self.said is None or re.search(self.said, exc.server_message or "") is not None


def translate(exc: HTTPStatusError, doing: str, rules: Sequence[ErrorRule]) -> ServerError | DeployerError:
    """An HTTP error in the user's words: what failed and what to do; unmatched errors as they are."""
    said = exc.server_message or f"HTTP {exc.status}"
    for rule in rules:
        if rule.matches(exc):
            text = rule.message.format(doing=doing, said=said, message=exc.message)
            return rule.error(text, hint=rule.hint)
    return exc


def compose_diff(old: str, new: str, name: str) -> str:
    """A unified diff of a stack's compose file, the server's copy against the repo's."""
    import difflib

    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"{name} (on the server)", f"{name} (this file)"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
