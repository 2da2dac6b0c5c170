"""The CI platforms' log dialects: GitHub Actions workflow commands and GitLab CI sections.

A deployment's build log is untrusted: echoed as-is into a GitHub log, a line `::add-mask::...`
or `::set-output ...` would be obeyed by the runner (which trims leading spaces before it looks).
So on GitHub every untrusted block is fenced with `::stop-commands::<random>` ... `::<random>::`,
and on GitLab control characters are stripped so no line can forge a section marker.
"""

from __future__ import annotations

import secrets as random_tokens
import time
from collections.abc import Callable
from typing import TextIO

from deployer.model import Deployment, Status
from deployer.reporting.redact import mask_values
from deployer.reporting.terminal import ConsoleReporter
from deployer.safe_text import one_line as clean

ANNOTATION_LINES = 20
ANNOTATION_LIMIT = 4000


def escape_data(text: str) -> str:
    """A workflow command's message (CI-NOTES.md): `%` first, then CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as a message, plus `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


class FoldingReporter(ConsoleReporter):
    """A CI log that folds: one collapsible group per deployment holding its whole build log, the
    verdict lines outside the groups.

    With one deployment its log streams live inside its open group (our own progress lines go there
    too). With several, each deployment's lines are held until it ends (or until BUFFER_LINES), so
    that their logs do not interleave into a group per poll.
    """

    BUFFER_LINES = 5000

    def __init__(self, out: TextIO, redact: Callable[[str], str]) -> None:
        super().__init__(out, redact)
        self._open_for: Deployment | None = None
        self._held: dict[Deployment, list[str]] = {}
        self._parts: dict[Deployment, int] = {}

    # -- what each dialect writes ----------------------------------------------------------------

    def _begin_fold(self, title: str) -> None:
        raise NotImplementedError

    def _end_fold(self) -> None:
        raise NotImplementedError

    # -- folding ---------------------------------------------------------------------------------

    def _open_log(self, deployment: Deployment, title: str) -> None:
        if self._open_for is deployment:
            return
        self._end_group()
        self._parts[deployment] = self._parts.get(deployment, 0) + 1
        part = self._parts[deployment]
        self._begin_fold(title + (f" (part {part})" if part > 1 else ""))
        self._open_for = deployment

    def _end_group(self) -> None:
        if self._open_for is not None:
            self._end_fold()
            self._open_for = None

    def _close_log(self) -> None:
        """Our own lines do not close a streaming group: it stays one group per deployment."""

    def log(self, deployment: Deployment, lines: list[str]) -> None:
        self._last_said[deployment] = self.clock()
        if len(self.deployments) <= 1:
            self._open_log(deployment, f"Build log: {clean(deployment.label)}")
            self._log_lines(deployment, lines)
            return
        held = self._held.setdefault(deployment, [])
        held.extend(lines)
        if len(held) >= self.BUFFER_LINES:
            self._release(deployment)

    def _release(self, deployment: Deployment) -> None:
        held = self._held.pop(deployment, [])
        if held:
            self._open_log(deployment, f"Build log: {clean(deployment.label)}")
            self._log_lines(deployment, held)
            self._end_group()

    def _log_lines(self, deployment: Deployment, lines: list[str]) -> None:
        for line in lines:  # in its own group: no prefix needed
            self._write(self.redact("  " + clean(line)), self.out)

    def status(self, deployment: Deployment, elapsed: float) -> None:
        if deployment.ended:
            if self._open_for is deployment:
                self._end_group()
            self._release(deployment)
        super().status(deployment, elapsed)

    def failure_log(self, deployment: Deployment, lines: list[str]) -> None:
        self._end_group()
        self._open_log(deployment, f"Last {len(lines)} lines of {clean(deployment.label)}'s build log")
        self._log_lines(deployment, lines)
        self._end_group()

    def summary(self, status: Status, duration: int, deployments: list[Deployment]) -> None:
        self._end_group()
        for d in deployments:
            self._release(d)
        super().summary(status, duration, deployments)

    def error(self, text: str) -> None:
        self._end_group()
        super().error(text)


class GitHubReporter(FoldingReporter):
    """GitHub Actions: the token masked first, build logs in fenced groups, failures annotated."""

    def __init__(self, out: TextIO, redact: Callable[[str], str], *, secrets: list[str]) -> None:
        super().__init__(out, redact)
        self.secrets = [s for s in secrets if s]
        self._fence = ""

    def _command(self, text: str) -> None:
        """One workflow command of ours, written as is."""
        self.out.write(text + "\n")
        self.out.flush()

    def _line(self, text: str, stream: TextIO | None = None) -> None:
        text = self.redact(clean(text))
        stream = stream or self.out
        if text.lstrip().startswith("::"):
            token = random_tokens.token_hex(16)  # server text that looks like a command: fence it
            text = f"::stop-commands::{token}\n{text}\n::{token}::"
        self._write(text, stream)

    def start(self) -> None:
        for secret in self.secrets:
            # The runner masks the encoded forms (base64, URL, JSON) of each value itself.
            for form in mask_values(secret):
                self._command(f"::add-mask::{form}")

    def _begin_fold(self, title: str) -> None:
        self._fence = random_tokens.token_hex(16)
        self._command(f"::group::{escape_data(self.redact(title))}")
        self._command(f"::stop-commands::{self._fence}")

    def _end_fold(self) -> None:
        self._command(f"::{self._fence}::")
        self._command("::endgroup::")

    def error(self, text: str) -> None:
        super().error(text)
        self._command(f"::error title=deployer::{escape_data(self.redact(clean(text)))}")

    def summary(self, status: Status, duration: int, deployments: list[Deployment]) -> None:
        super().summary(status, duration, deployments)
        for d in deployments:
            if d.ended and d.status != Status.FINISHED:
                self._annotate(d)

    def _annotate(self, d: Deployment) -> None:
        what = "Health check" if d.kind == "health-check" else "Deployment"
        title = f"{what} {d.status}: {clean(d.label)}"
        text = f"{clean(d.label)} {d.status}" + (f": {clean(d.message)}" if d.message else "")
        if d.log_tail:
            tail = [clean(line) for line in d.log_tail[-ANNOTATION_LINES:]]
            text += "\nLast lines of its build log:\n" + "\n".join(tail)
        text = self.redact(text)
        if len(text) > ANNOTATION_LIMIT:
            text = "…" + text[-ANNOTATION_LIMIT:]
        self._command(f"::error title={escape_property(self.redact(title))}::{escape_data(text)}")


class GitLabReporter(FoldingReporter):
    """GitLab CI: each deployment's build log in a collapsed section."""

    def __init__(self, out: TextIO, redact: Callable[[str], str]) -> None:
        super().__init__(out, redact)
        self._section = ""
        self._count = 0

    def _begin_fold(self, title: str) -> None:
        self._count += 1
        self._section = f"deployer_log_{self._count}"  # only letters, digits, _ . - are allowed
        self._write(
            f"\x1b[0Ksection_start:{int(time.time())}:{self._section}[collapsed=true]\r\x1b[0K{self.redact(title)}",
            self.out,
        )

    def _end_fold(self) -> None:
        self._write(f"\x1b[0Ksection_end:{int(time.time())}:{self._section}\r\x1b[0K", self.out)

    def error(self, text: str) -> None:
        self._end_group()
        self._write(
            f"\x1b[31;1m{self.redact('deployer: error: ' + clean(text))}\x1b[0m", self.err
        )  # red, as GitLab shows errors
