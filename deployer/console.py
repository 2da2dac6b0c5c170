"""Progress for a person reading the job log: status changes, build logs, notices, the summary.

`ConsoleReporter` writes plain lines. Text from the server (build logs, names, messages) is
untrusted: control characters are stripped from it everywhere, and the CI dialects in
deployer.platforms fence it so that no line of it can act as a workflow command.
A terminal gets `TerminalReporter`: the same lines, plus a live block of one line per deployment.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Mapping, TextIO

from deployer.models import Deployment
from deployer.safe_text import one_line

HEARTBEAT_SECONDS = 60.0
#: Server text made harmless: one line, no escapes or controls, no workflow command (deployer.safe_text).
clean = one_line


def seconds_text(elapsed: float) -> str:
    whole = int(round(elapsed))
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


class ConsoleReporter:
    """Writes plain lines; every line passes through `redact`, so no secret reaches the log."""

    def __init__(self, out: TextIO, redact: Callable[[str], str], err: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.err = err or sys.stderr
        self.redact = redact
        self.clock = clock
        self.prefix_logs = False
        self.deployments: list[Deployment] = []
        self._notices: set[str] = set()
        self._last_said: dict[int, float] = {}

    # -- the two kinds of output -----------------------------------------------------------------

    def _line(self, text: str, stream: TextIO | None = None) -> None:
        """One line of ours, which may carry server text (names, messages, links): neutralised whole."""
        self._write(self.redact(one_line(text)), stream or self.out)

    def _write(self, text: str, stream: TextIO) -> None:
        stream.write(text + "\n")
        stream.flush()

    def _log_lines(self, deployment: Deployment, lines: list[str]) -> None:
        """Lines of a build log: untrusted. The CI dialects fence them (see deployer.platforms)."""
        prefix = f"[{clean(deployment.label)}] " if self.prefix_logs else "  "
        for line in lines:
            self._write(self.redact(prefix + clean(line)), self.out)

    def _open_log(self, deployment: Deployment, title: str) -> None:
        """Before a block of build log lines; the CI dialects open a fold here."""

    def _close_log(self) -> None:
        """After a block of build log lines, before any line of ours."""

    # -- the Reporter interface --------------------------------------------------------------------

    def start(self) -> None:
        """Before the first request (GitHub masks the token here)."""

    def triggered(self, deployments: list[Deployment], where: str) -> None:
        self.deployments = deployments
        self.prefix_logs = len(deployments) > 1
        now = self.clock()
        for d in deployments:
            self._last_said[id(d)] = now
        started = [d for d in deployments if not d.ended]
        if started:
            self._line(f"Triggered {len(started)} deployment(s) on {where}")
        else:
            self._line(f"Nothing was deployed on {where}")
        for d in deployments:
            if d.ended:  # refused or unknown at the trigger: not a deployment
                self._line(f"  {clean(d.label)}: not deployed: {clean(d.message or d.status)}")
                continue
            ident = f"deployment {d.deployment_id}" if d.deployment_id else d.kind
            extra = f": {clean(d.message)}" if d.message else ""
            self._line(f"  {clean(d.label)}: {d.status} ({ident}){extra}")

    def status(self, deployment: Deployment, elapsed: float) -> None:
        self._close_log()
        d = deployment
        self._last_said[id(d)] = self.clock()
        link = f" {d.url}" if d.url and d.status == "in_progress" else ""
        note = f": {clean(d.message)}" if d.message and d.ended and d.status != "finished" else ""
        self._line(f"{clean(d.label)}: {d.status} after {seconds_text(elapsed)}{link}{note}")

    def log(self, deployment: Deployment, lines: list[str]) -> None:
        self._last_said[id(deployment)] = self.clock()
        self._open_log(deployment, f"Build log: {clean(deployment.label)}")
        self._log_lines(deployment, lines)

    def failure_log(self, deployment: Deployment, lines: list[str]) -> None:
        self._close_log()
        self._line(f"--- last {len(lines)} lines of {clean(deployment.label)}'s build log ---")
        self._open_log(deployment, f"Last {len(lines)} lines of {clean(deployment.label)}'s build log")
        self._log_lines(deployment, lines)
        self._close_log()
        self._line("---")

    def notice(self, text: str) -> None:
        if text not in self._notices:
            self._notices.add(text)
            self._close_log()
            self._line(f"note: {clean(text)}")

    def warning(self, text: str) -> None:
        self._close_log()
        self._line(f"warning: {clean(text)}", self.err)

    def error(self, text: str) -> None:
        self._close_log()
        self._line(f"deployer: error: {clean(text)}", self.err)

    def tick(self, elapsed: float) -> None:
        """Called on every turn of the follow loop: a heartbeat for deployments that went quiet."""
        now = self.clock()
        for d in self.deployments:
            if not d.ended and now - self._last_said.get(id(d), now) >= HEARTBEAT_SECONDS:
                self._last_said[id(d)] = now
                self._close_log()
                self._line(f"{clean(d.label)}: still {d.status} after {seconds_text(elapsed)}")

    def summary(self, status: str, duration: int, deployments: list[Deployment]) -> None:
        self._close_log()
        checks = sum(d.kind == "health-check" for d in deployments)
        counted = f"{len(deployments) - checks} deployment(s)" + (f", {checks} health check(s)" if checks else "")
        self._line(f"Result: {status} ({counted}, {seconds_text(duration)})")
        width = max((len(clean(d.label)) for d in deployments), default=0)
        for d in deployments:
            took = seconds_text(d.duration) if d.duration is not None else "-"
            parts = [f"  {clean(d.label):<{width}}", f"{d.status:<11}", f"{took:>6}"]
            if d.url:
                parts.append(d.url)
            if d.message and d.status != "finished":
                parts.append(clean(d.message))
            self._line("  ".join(parts))


_COLOURS = {"finished": "32", "failed": "31", "cancelled": "33", "timeout": "35", "queued": "36", "in_progress": "36"}
_SYMBOLS = {"finished": "✔", "failed": "✖", "cancelled": "⊘", "timeout": "⌛", "queued": "…", "in_progress": "▶"}


class TerminalReporter(ConsoleReporter):
    """A terminal: the plain lines scroll above a live block of one line per deployment."""

    def __init__(self, *args: object, colour: bool = True, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.colour = colour
        self._block = 0
        self._started = self.clock()
        self._drawn_at = 0.0

    def _paint(self, status: str, text: str) -> str:
        return f"\x1b[{_COLOURS.get(status, '0')}m{text}\x1b[0m" if self.colour else text

    def _clear(self) -> None:
        if self._block:
            self.out.write(f"\x1b[{self._block}F\x1b[J")
            self._block = 0

    def _draw(self) -> None:
        live = self.deployments
        if not live:
            return
        elapsed = self.clock() - self._started
        width = max(len(clean(d.label)) for d in live)
        for d in live:
            took = seconds_text(d.duration if d.ended and d.duration is not None else elapsed)
            mark = self._paint(d.status, f"{_SYMBOLS.get(d.status, '?')} {d.status:<11}")
            self.out.write(self.redact(f"{mark} {clean(d.label):<{width}} {took:>7}") + "\n")
        self._block = len(live)
        self._drawn_at = self.clock()
        self.out.flush()

    def _write(self, text: str, stream: TextIO) -> None:
        if stream is self.out:
            self._clear()
            stream.write(text + "\n")
            self._draw()
        else:
            stream.write(text + "\n")
            stream.flush()

    def tick(self, elapsed: float) -> None:
        if self.clock() - self._drawn_at >= 1.0:
            self._clear()
            self._draw()

    def summary(self, status: str, duration: int, deployments: list[Deployment]) -> None:
        self._clear()
        self.deployments = []  # the summary replaces the live block
        super().summary(status, duration, deployments)


def make_reporter(out: TextIO, redact: Callable[[str], str], env: Mapping[str, str], secrets: list[str]) -> ConsoleReporter:
    """The reporter for where deployer runs: GitHub Actions, GitLab CI, a terminal, or plain."""
    if env.get("GITHUB_ACTIONS") == "true":
        from deployer.platforms import GitHubReporter

        return GitHubReporter(out, redact, secrets=secrets)
    if env.get("GITLAB_CI") == "true":
        from deployer.platforms import GitLabReporter

        return GitLabReporter(out, redact)
    isatty = getattr(out, "isatty", None)
    if isatty is not None and isatty() and env.get("TERM") != "dumb":
        return TerminalReporter(out, redact, colour="NO_COLOR" not in env)
    return ConsoleReporter(out, redact)
