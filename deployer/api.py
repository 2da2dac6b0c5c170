"""deployer as a library: deploy, follow, read or cancel deployments, and get typed results.

    from deployer import deploy
    result = deploy(provider="coolify", url="https://coolify.example.com", token=token, uuid=["abc"])
    print(result.status, result.exit_code)

Options are the command line's, by their Python names (`uuid`, `application_id`, `poll_interval`,
`logs`...), checked the same way (InputError for bad ones); or pass ready `Settings`. What happens
on the way is emitted as deployer.events to `on_event` (default: nothing is printed). The command
line is a thin shell over these functions; nothing here prints or writes files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deployer.errors import DeployerError, DomainConflict, Interrupted, ServerError, lost_trigger
from deployer.events import Emit, Finished, Message, Started, Triggered, ignore
from deployer.exit_codes import ExitStatus
from deployer.model import Change, Deployment, StackChange, Status, utc_now
from deployer.providers import make_provider
from deployer.providers.base import Follower, Provider
from deployer.retry import ReadRetry, TriggerRetry
from deployer.waiting.health import gate
from deployer.waiting.loop import cancel_all, follow_all

if TYPE_CHECKING:
    import httpx

    from deployer.config.settings import Settings

__all__ = ["DeployResult", "cancel", "deploy", "follow", "plan_changes", "plan_stack", "resolve_settings", "status"]


@dataclass
class DeployResult:
    """What one run did: each deployment's record, the overall status, the exit code the CLI uses."""

    deployments: list[Deployment]
    status: Status
    exit_code: int
    duration: int
    error: str | None = None
    #: With --image-tag or --commit: the version each resource runs at the end (comma-separated
    #: where they differ), and whether --rollback-on-failure put the previous one back.
    version: str | None = None
    rolled_back: bool | None = None
    #: With --compose-file: the stack's id, and whether this run created it.
    resource_id: str | None = None
    created: bool | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitStatus.SUCCESS


def resolve_settings(
    settings: Settings | None = None, env: Mapping[str, str] | None = None, *, targets: bool = True, **options: Any
) -> Settings:
    """`settings` as given, else built from options the way the CLI builds them (InputError when one
    is bad). Only `env` is read for action inputs and environment variables: none by default."""
    if settings is not None:
        return settings
    from deployer.config.settings import resolve

    def given(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return tuple(str(v) for v in value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return value

    return resolve({key: given(value) for key, value in options.items()}, dict(env or {}), targets=targets)


def deploy(
    settings: Settings | None = None,
    *,
    on_event: Emit | None = None,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    **options: Any,
) -> DeployResult:
    """Trigger a deploy and (unless `wait=False`) follow every deployment it starts to its end.
    Never raises a DeployerError once settings are valid: it becomes the result's `error`."""
    resolved = resolve_settings(settings, env, **options)
    emit = on_event or ignore
    emit(Started())
    for remark in remarks(resolved):
        emit(remark)
    result = run(resolved, emit, provider=make_provider(resolved, transport=transport))
    emit(
        Finished(
            result.status,
            result.duration,
            result.deployments,
            result.error,
            result.exit_code,
            result.version,
            result.rolled_back,
        )
    )
    return result


def status(
    deployment_id: str,
    settings: Settings | None = None,
    *,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    **options: Any,
) -> Deployment:
    """One deployment as the server shows it now (NotFound when it has none by that id)."""
    resolved = resolve_settings(settings, env, targets=False, **options)
    with closing(make_provider(resolved, transport=transport)) as provider:
        return provider.deployment(deployment_id)


def cancel(
    deployment_id: str,
    settings: Settings | None = None,
    *,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    **options: Any,
) -> str:
    """Cancel one queued or running deployment; what the server said. DeployerError when it had
    already ended or the server cannot cancel."""
    resolved = resolve_settings(settings, env, targets=False, **options)
    with closing(make_provider(resolved, transport=transport)) as provider:
        return provider.cancel_deployment(deployment_id)


def plan_changes(
    settings: Settings | None = None,
    *,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    **options: Any,
) -> list[Change]:
    """What a deploy with --image-tag, --commit or --env would change (old -> new), read from the
    server; nothing is changed (`--dry-run`)."""
    resolved = resolve_settings(settings, env, **options)
    with closing(make_provider(resolved, transport=transport)) as provider:
        if resolved.names:
            provider.resolve_names()
        return provider.plan_changes()


def plan_stack(
    settings: Settings | None = None,
    *,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    **options: Any,
) -> StackChange:
    """What --compose-file would do to the stack (create, update with a diff, or leave it), read
    from the server; nothing is changed (`--dry-run`)."""
    from deployer.config.compose_file import load

    resolved = resolve_settings(settings, env, **options)
    with closing(make_provider(resolved, transport=transport)) as provider:
        return provider.ensure_stack(load(str(resolved.compose_file)), apply=False)


def follow(
    deployment_id: str,
    settings: Settings | None = None,
    *,
    on_event: Emit | None = None,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    **options: Any,
) -> Deployment:
    """Follow a deployment started elsewhere (a webhook, the dashboard) until it ends or the
    timeout passes; its final record. Status changes are emitted; build logs are not read."""
    resolved = resolve_settings(settings, env, targets=False, **options)
    emit = on_event or ignore
    with closing(make_provider(resolved, transport=transport)) as provider:
        follower = _ByStatus(provider, provider.deployment(deployment_id))
        started = clock()
        follow_all(
            [follower],
            emit,
            started=started,
            deadline=started + resolved.timeout,
            poll_interval=resolved.poll_interval,
            logs="none",
            cancel_on_timeout=resolved.cancel_on_timeout,
            budget_per_minute=resolved.request_budget,
            clock=clock,
            sleep=sleep,
        )
        return follower.deployment


class _ByStatus(Follower):
    """Follows an existing deployment by reading it whole at each check (`deployer status`'s read)."""

    def __init__(self, provider: Provider, deployment: Deployment) -> None:
        super().__init__(deployment)
        self.provider = provider

    def check(self, *, want_logs: bool, timeout: float) -> list[str]:
        now = self.provider.deployment(str(self.deployment.deployment_id))
        for name in ("status", "name", "url", "message", "started_at", "finished_at"):
            setattr(self.deployment, name, getattr(now, name))
        return []

    def cancel(self, timeout: float) -> str:
        return self.provider.cancel_deployment(str(self.deployment.deployment_id))


def remarks(settings: Settings) -> list[Message]:
    """What the user should know about the settings before anything is sent."""
    said = []
    if settings.sources.get("provider", "").startswith("inferred"):
        said.append(
            Message(f"provider {settings.provider} ({settings.sources['provider']}); set --provider to be sure")
        )
    if settings.insecure:
        said.append(
            Message(
                "TLS verification is OFF (--insecure): anyone on the path can read the token and forge answers",
                "warning",
            )
        )
    if settings.token_in_clear:
        said.append(
            Message(
                f"{settings.url} is plain http: the token travels in clear across the network; use https", "warning"
            )
        )
    return said


# -- one run, as the CLI and `deploy` make it -------------------------------------------------------


def run(
    settings: Settings,
    emit: Emit,
    *,
    provider: Provider | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DeployResult:
    """Run one deploy end to end and reduce it to one status and exit code. Never raises
    DeployerError: it becomes the result's error."""
    one = _Run(settings, emit, provider or make_provider(settings), clock, sleep)
    error: DeployerError | None = None
    try:
        one.go()
    except Interrupted as exc:
        error = exc
        _interrupted(exc, one.followers, settings.cancel_on_timeout)  # before the connections close: it may cancel
    except DeployerError as exc:
        error = one.said_with_changes(exc)
        for follower in one.followers:
            if not follower.deployment.ended:
                follower.deployment.message = str(error)
    finally:
        one.provider.close()
    return one.result(error)


class _Run:
    """One deploy's steps: names, changes, trigger, follow, rollback, health; and what they came to."""

    def __init__(
        self,
        settings: Settings,
        emit: Emit,
        provider: Provider,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.settings, self.emit, self.provider, self.clock, self.sleep = settings, emit, provider, clock, sleep
        self.started = clock()
        self.deadline = self.started + settings.timeout
        self.followers: list[Follower] = []
        self.changes: list[Change] = []
        self.applied = False
        self.rollbacks: list[Follower] = []
        self.stack: StackChange | None = None
        self.health: list[Deployment] = []  # the health checks' own entries

    def warn(self, text: str) -> None:
        self.emit(Message(text, "warning"))

    def go(self) -> None:
        s = self.settings
        if s.compose_file:
            self._stack()
        elif s.names:
            ReadRetry(self.deadline, on_retry=self.warn, clock=self.clock, sleep=self.sleep).run(
                self.provider.resolve_names
            )
        if s.changes_asked:
            self._change()
        self.followers = self._trigger()
        if not s.wait:
            return
        self._follow(self.followers)
        if s.rollback_on_failure:
            self._roll_back()
        self.health = gate(
            s,
            self.provider,
            [f.deployment for f in self.followers],
            self.emit,
            started=self.started,
            deadline=self.deadline,
            clock=self.clock,
            sleep=self.sleep,
        )

    def _stack(self) -> None:
        """Create or update the stack from the compose file, then deploy that stack."""
        from deployer.config.compose_file import load

        compose = load(str(self.settings.compose_file))
        try:
            self.stack = self.provider.ensure_stack(compose, apply=True)
        except DomainConflict as exc:
            for line in exc.conflicts:
                self.emit(Message(f"domain in use: {line}", "warning"))
            raise
        finally:
            for text in self.provider.notices:
                self.emit(Message(text))
        self.emit(
            Message(
                f"{'created' if self.stack.action == 'create' else self.stack.action}: the stack "
                f"{self.stack.name} ({self.stack.resource_id})"
                if self.stack.action != "unchanged"
                else str(self.stack)
            )
        )
        self.provider.retarget([str(self.stack.resource_id)])

    def _change(self) -> None:
        """Set the version and variables asked for, before anything is deployed."""
        read = ReadRetry(self.deadline, on_retry=self.warn, clock=self.clock, sleep=self.sleep)
        self.changes = read.run(self.provider.plan_changes)
        for change in self.changes:
            self.emit(Message(f"changing {change}"))
        self.provider.apply_changes(self.changes)  # idempotent values: safe however often it is sent
        self.applied = True

    def _trigger(self) -> list[Follower]:
        """Send the deploy (retrying only what provably was not sent); stamp each start; say what started."""
        retry = TriggerRetry(self.deadline, on_retry=self.warn, clock=self.clock, sleep=self.sleep)
        try:
            followers = list(self.provider.trigger(retry))
        except ServerError as exc:
            raise lost_trigger(exc) from None
        started_at = utc_now()
        for follower in followers:
            follower.deployment.started_at = started_at
            if not self.settings.wait:
                follower.confirm_started(self.settings.request_timeout)
            if follower.deployment.ended and self.applied:
                follower.deployment.message += self._points_to(follower.deployment.resource)
        self.emit(Triggered([f.deployment for f in followers], self.settings.url))
        return followers

    def _follow(self, followers: list[Follower]) -> None:
        s = self.settings
        follow_all(
            followers,
            self.emit,
            started=self.started,
            deadline=self.deadline,
            poll_interval=s.poll_interval,
            logs=s.logs,
            cancel_on_timeout=s.cancel_on_timeout,
            budget_per_minute=s.request_budget,
            check_batch=self.provider.check_batch,
            clock=self.clock,
            sleep=self.sleep,
        )

    def _roll_back(self) -> None:
        """The new version of some resources failed: set their old version back, deploy, follow."""
        failed = [
            f.deployment.resource
            for f in self.followers
            if f.deployment.status == Status.FAILED and f.deployment.deployment_id
        ]
        back = [c for c in self.changes if c.version and c.resource in failed and c.old]
        if not back:
            return
        for change in back:
            self.warn(f"rolling back {change.label}: {change.setting} {change.new} -> {change.old}")
        self.provider.restore(back)
        self.provider.retarget(list(dict.fromkeys(c.resource for c in back)))
        self.rollbacks = self._trigger()
        olds = {c.resource: f"{c.setting} back to {c.old}" for c in back}
        for follower in self.rollbacks:
            follower.deployment.message = f"rollback: {olds.get(follower.deployment.resource, 'the previous version')}"
        self._follow(self.rollbacks)

    def _points_to(self, resource: str) -> str:
        now = [str(c) for c in self.changes if c.version and c.resource == resource]
        return f"; it now points to the new version ({', '.join(now)})" if now else ""

    def said_with_changes(self, exc: DeployerError) -> DeployerError:
        """An error after the resources were changed says what they point to now."""
        if self.applied and not self.followers and any(c.version for c in self.changes):
            exc.message += "; the resources now point to the new version: " + ", ".join(
                str(c) for c in self.changes if c.version
            )
        return exc

    @property
    def rolled_back(self) -> bool:
        return bool(self.rollbacks) and all(f.deployment.status == Status.FINISHED for f in self.rollbacks)

    def _versions(self) -> None:
        """Each deployment of a changed resource: the version it runs now (the new one if its
        deployment finished; else the old one, which kept running or was put back)."""
        asked = {c.resource: c for c in self.changes if c.version}
        for follower in self.followers + self.rollbacks:
            change = asked.get(follower.deployment.resource)
            if change is None:
                continue
            d = follower.deployment
            runs_new = d.status == Status.FINISHED and follower not in self.rollbacks
            d.version = change.new_version if runs_new else change.old_version

    def result(self, error: DeployerError | None) -> DeployResult:
        self._versions()
        deployments = [f.deployment for f in self.followers + self.rollbacks] + self.health
        interrupted = isinstance(error, Interrupted) and not all(d.ended for d in deployments)
        waited = self.settings.wait and (error is None or isinstance(error, Interrupted))
        versions = [c for c in self.changes if c.version]
        return DeployResult(
            deployments=deployments,
            status=overall_status(deployments, waited, interrupted),
            exit_code=int(exit_code(deployments, error)),
            duration=int(round(self.clock() - self.started)),  # from the trigger to the last end, as this run saw it
            error=str(error) if error else None,
            version=_version(deployments) if versions else None,
            rolled_back=self.rolled_back if versions else None,
            resource_id=self.stack.resource_id if self.stack else None,
            created=(self.stack.action == "create") if self.stack else None,
        )


def _version(deployments: list[Deployment]) -> str:
    """The `version` output: each distinct version the resources run, in order, comma-separated."""
    return ",".join(dict.fromkeys(d.version for d in deployments if d.version))


def _interrupted(error: Interrupted, followers: list[Follower], cancel: bool) -> None:
    """The CI job was cancelled: cancel what still runs (if asked, all at once) and say so on each.
    Where every deployment had already ended, what the server said of them stands."""
    running = [f for f in followers if not f.deployment.ended]
    if followers and not running:
        error.message = f"stopped by {error.signal_name} after every deployment had ended; nothing was cancelled"
        return
    cancelled = cancel_all(running) if cancel else {}
    for follower in running:
        d = follower.deployment
        d.message = f"{error} while it was {d.status}"
        if follower in cancelled:
            d.message += f"; {cancelled[follower]}"


def overall_status(deployments: list[Deployment], waited: bool, interrupted: bool = False) -> Status:
    """CONTRACT.md: failed if any failed, else cancelled, else unknown (ours could not be told from
    another deployment), else timeout, else finished (queued with --no-wait, or when the server
    stopped answering before the deployments ended: what is known of them). A run stopped by the
    CI job's cancellation, before every deployment ended, is `cancelled`."""
    statuses = {d.status for d in deployments}
    if Status.FAILED in statuses or (not deployments and not interrupted):
        return Status.FAILED
    if interrupted:
        return Status.CANCELLED
    if not waited:
        return Status.QUEUED
    for status in (Status.CANCELLED, Status.UNKNOWN, Status.TIMEOUT):
        if status in statuses:
            return status
    return Status.FINISHED if statuses == {Status.FINISHED} else Status.QUEUED


def exit_code(deployments: list[Deployment], error: DeployerError | None) -> int:
    """A real failure (1) beats a server that could not be used (3), which beats a timeout (4); an
    interrupted run exits as signals do (130 SIGINT, 143 SIGTERM)."""
    if isinstance(error, Interrupted):
        return error.exit_code
    if any(d.status in (Status.FAILED, Status.CANCELLED, Status.UNKNOWN) and not d.server_problem for d in deployments):
        return ExitStatus.FAILED
    if not deployments and error is None:
        return ExitStatus.FAILED  # nothing was deployed: never a success
    if error is not None:
        return error.exit_code
    if any(d.server_problem for d in deployments):
        return ExitStatus.SERVER_UNUSABLE
    if any(d.status == Status.TIMEOUT for d in deployments):
        return ExitStatus.TIMEOUT
    return ExitStatus.SUCCESS
