"""Resource names to ids: one matching rule for both servers, and messages that list the candidates.

Each provider lists what its server holds as Candidates; `pick` chooses the one a name means.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from deployer.errors import InputError
from deployer.model import ResourceName

MAX_LISTED = 8


@dataclass(frozen=True)
class Candidate:
    """A resource on the server that a name could mean."""

    kind: str  # application, service, database or compose
    name: str
    id: str
    scope: str = ""  # "project/environment" when known

    def __str__(self) -> str:
        where = f"{self.scope}, " if self.scope else ""
        return f"{self.name} ({self.kind}, {where}id {self.id})"


def in_scope(candidate: Candidate, wanted: ResourceName) -> bool:
    """Whether a candidate sits in the project/environment the name asks for (any, when not asked)."""
    project, _, environment = candidate.scope.partition("/")
    return (wanted.project is None or wanted.project == project) and (
        wanted.environment is None or wanted.environment == environment
    )


def pick(wanted: ResourceName, candidates: list[Candidate], kinds: tuple[str, ...]) -> Candidate:
    """The one candidate a name means; an InputError listing the candidates when none or several match."""
    eligible = [c for c in candidates if (wanted.kind is None or c.kind == wanted.kind) and in_scope(c, wanted)]
    matches = [c for c in eligible if c.name == wanted.name]
    if not matches:
        matches = [c for c in eligible if c.name.casefold() == wanted.name.casefold()]
    if len(matches) == 1:
        return matches[0]
    what = wanted.kind or (", ".join(kinds[:-1]) + " or " + kinds[-1] if len(kinds) > 1 else kinds[0])
    if not matches:
        close = difflib.get_close_matches(wanted.name, sorted({c.name for c in eligible}), n=MAX_LISTED, cutoff=0.5)
        listed = [c for c in eligible if c.name in close] or eligible
        if not listed:
            return _fail(wanted, f"no {what} named {wanted}, and nothing at all in that scope is visible to this token")
        return _fail(wanted, f"no {what} named {wanted}; {_listing('candidates', listed)}")
    hint = (
        "add the project and environment (PROJECT/ENVIRONMENT/NAME, or project:/environment: in the config file), "
        "a kind, or use the id"
    )
    return _fail(wanted, f"{len(matches)} resources are named {wanted}: {_listing('', matches)}; {hint}")


def _listing(label: str, candidates: list[Candidate]) -> str:
    shown = ", ".join(str(c) for c in candidates[:MAX_LISTED])
    more = f" and {len(candidates) - MAX_LISTED} more" if len(candidates) > MAX_LISTED else ""
    return f"{label}: {shown}{more}" if label else shown + more


def _fail(wanted: ResourceName, message: str) -> Candidate:
    raise InputError(f"{wanted.where}: {message}")
