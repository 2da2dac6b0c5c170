"""One exception hierarchy; each class carries the exit code CONTRACT.md gives its kind of failure."""

from __future__ import annotations

from deployer.exit_codes import ExitStatus


class DeployerError(Exception):
    """Base of every error deployer reports to the user as one line."""

    exit_code: int = ExitStatus.FAILED

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(DeployerError):
    """Bad options, inputs or environment: nothing was sent to the server."""

    exit_code = ExitStatus.BAD_INPUT


class ServerError(DeployerError):
    """The server could not be used: unreachable, TLS, auth, permission, not found, odd answers."""

    exit_code = ExitStatus.SERVER_UNUSABLE
    #: True when trying again later may succeed (network faults, 5xx, 429).
    transient = False
    #: Seconds the server asked to wait before asking again (Retry-After), if it said.
    retry_after: float | None = None


class Unreachable(ServerError):
    """No answer: DNS, refused or reset connections, time-outs."""

    transient = True

    def __init__(self, message: str, *, hint: str = "", sent: bool = True) -> None:
        super().__init__(message, hint=hint)
        #: False only when the request provably never left this machine (safe to retry a trigger).
        self.sent = sent


class Unresolvable(Unreachable):
    """The host name does not resolve: trying again will not help (a name typo, a private DNS)."""

    transient = False

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint, sent=False)


class TLSFailure(ServerError):
    """The TLS handshake failed (self-signed or expired certificate, wrong host name)."""


class UnexpectedAnswer(ServerError):
    """An answer that is not what the API gives: HTML, a redirect, broken JSON."""


class AnswerTooLarge(UnexpectedAnswer):
    """An answer bigger than the caller allowed (it was not read to the end)."""


class HTTPStatusError(ServerError):
    """The server answered with an HTTP error; `server_message` is its own `message` field."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        server_message: str = "",
        retry_after: float | None = None,
        server_time: float | None = None,
        hint: str = "",
        reasons: list[str] | None = None,
        conflicts: list[str] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.server_message = server_message
        #: The server's validation errors, one "field: what is wrong" each (Coolify's `errors`,
        #: Dokploy's zod issues), where it gave them.
        self.reasons = reasons or []
        #: Coolify's domain conflicts (409): "domain: held by NAME (uuid)" each.
        self.conflicts = conflicts or []
        self.retry_after = retry_after
        #: The server's clock when it answered (its Date header, epoch seconds), when it sent one.
        self.server_time = server_time
        self.transient = status in (429, 502, 503, 504) or status >= 500


class AuthenticationFailed(ServerError):
    """The token was refused (401)."""


class PermissionDenied(ServerError):
    """The token is valid but lacks a permission (403)."""


class NotFound(ServerError):
    """A resource or deployment the user named does not exist on the server."""


class DeployMayHaveStarted(ServerError):
    """The deploy request went out but its answer was lost or unreadable: the server may have acted
    on it, so it is never sent again (that could deploy twice)."""


def lost_trigger(exc: ServerError) -> ServerError:
    """A trigger that failed after the request went out may have started the deploy: say so."""
    lost = isinstance(exc, Unreachable) and exc.sent
    odd = isinstance(exc, UnexpectedAnswer) or (
        isinstance(exc, HTTPStatusError) and exc.status >= 500 and exc.retry_after is None
    )
    if not (lost or odd):
        return exc
    return DeployMayHaveStarted(
        f"{exc.message}: the deploy request was sent, so the deploy may have started; it was not sent again, "
        "which could deploy twice",
        hint="look at the resource's deployments in the dashboard before deploying again",
    )


class ChangeRefused(DeployerError):
    """The server refused to change a resource before the deploy (its validation): nothing was
    deployed; exit 1, as for any refused deploy."""


class DomainConflict(DeployerError):
    """Coolify would not create or update a stack: its domains are used by other resources (409)."""

    def __init__(self, stack: str, conflicts: list[str]) -> None:
        super().__init__(
            f"Coolify refused the stack {stack}: {len(conflicts)} of its domains are used by other resources; "
            "nothing was deployed",
            hint="change the domains, or pass --force-domain-override to take them over",
        )
        #: One line each: the domain and the resource that holds it.
        self.conflicts = conflicts


class Interrupted(DeployerError):
    """The job was cancelled (SIGTERM or SIGINT): stop, cancel if asked, write what is known."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(f"stopped by {signal_name} (the CI job was cancelled, or Ctrl-C)")
        self.signal_name = signal_name
        self.exit_code = exit_code
