"""Progress for a person reading the job log: status changes, build logs, notices, the summary.

`ConsoleReporter` writes plain lines. Text from the server (build logs, names, messages) is
untrusted: control characters are stripped from it everywhere, and the CI dialects in
deployer.reporting.ci fence it so that no line of it can act as a workflow command.
A terminal gets `TerminalReporter`: the same lines, plus a live block of one line per deployment.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from deployer.model import Deployment, Status
from deployer.reporting.base import Consumer, seconds_text
from deployer.safe_text import one_line

HEARTBEAT_SECONDS = 60.0
#: Server text made harmless: one line, no escapes or controls, no workflow command (deployer.safe_text).
clean = one_line


class ConsoleReporter(Consumer):
    """Writes plain lines; every line passes through `redact`, so no secret reaches the log."""

    def __init__(
        self,
        out: TextIO,
        redact: Callable[[str], str],
        err: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self.err = err or sys.stderr
        self.redact = redact
        self.clock = clock
        self.prefix_logs = False
        self.deployments: list[Deployment] = []
        self._notices: set[str] = set()
        self._last_said: dict[Deployment, float] = {}

    # -- the two kinds of output -----------------------------------------------------------------

    def _line(self, text: str, stream: TextIO | None = None) -> None:
        """One line of ours, which may carry server text (names, messages, links): neutralised whole."""
        self._write(self.redact(one_line(text)), stream or self.out)

    def _write(self, text: str, stream: TextIO) -> None:
        stream.write(text + "\n")
        stream.flush()

    def _log_lines(self, deployment: Deployment, lines: list[str]) -> None:
        """Lines of a build log: untrusted. The CI dialects fence them (see deployer.reporting.ci)."""
        prefix = f"[{clean(deployment.label)}] " if self.prefix_logs else "  "
        for line in lines:
            self._write(self.redact(prefix + clean(line)), self.out)

    def _open_log(self, deployment: Deployment, title: str) -> None:
        """Before a block of build log lines; the CI dialects open a fold here."""

    def _close_log(self) -> None:
        """After a block of build log lines, before any line of ours."""

    # -- the events --------------------------------------------------------------------

    def start(self) -> None:
        """Before the first request (GitHub masks the token here)."""

    def triggered(self, deployments: list[Deployment], where: str) -> None:
        self.deployments = deployments
        self.prefix_logs = len(deployments) > 1
        now = self.clock()
        for d in deployments:
            self._last_said[d] = now
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
        self._last_said[d] = self.clock()
        link = f" {d.url}" if d.url and d.status == "in_progress" else ""
        note = f": {clean(d.message)}" if d.message and d.ended and d.status != "finished" else ""
        self._line(f"{clean(d.label)}: {d.status} after {seconds_text(elapsed)}{link}{note}")

    def log(self, deployment: Deployment, lines: list[str]) -> None:
        self._last_said[deployment] = self.clock()
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
            if not d.ended and now - self._last_said.get(d, now) >= HEARTBEAT_SECONDS:
                self._last_said[d] = now
                self._close_log()
                self._line(f"{clean(d.label)}: still {d.status} after {seconds_text(elapsed)}")

    def summary(self, status: Status, duration: int, deployments: list[Deployment]) -> None:
        self._close_log()
        checks = sum(d.kind == "health-check" for d in deployments)
        counted = f"{len(deployments) - checks} deployment(s)" + (f", {checks} health check(s)" if checks else "")
        # Server text is neutralised part by part here, so that our own colours survive.
        self._write(
            self.redact(f"Result: {self._status_word(status).rstrip()} ({counted}, {seconds_text(duration)})"), self.out
        )
        width = max((len(clean(d.label)) for d in deployments), default=0)
        for d in deployments:
            took = seconds_text(d.duration) if d.duration is not None else "-"
            parts = [f"  {clean(d.label):<{width}}", self._status_word(d.status), f"{took:>6}"]
            if d.message and d.status != "finished":
                parts.append(clean(d.message))  # the reason first: the long link after it
            if d.url:
                parts.append(clean(d.url))
            self._write(self.redact("  ".join(parts)), self.out)

    def _status_word(self, status: str) -> str:
        return f"{status:<11}"


_COLOURS = {"finished": "32", "failed": "31", "cancelled": "33", "timeout": "35", "queued": "36", "in_progress": "36"}
_SYMBOLS = {"finished": "✔", "failed": "✖", "cancelled": "⊘", "timeout": "⌛", "queued": "…", "in_progress": "▶"}


class TerminalReporter(ConsoleReporter):
    """A terminal: the plain lines scroll above a live block that always fits the terminal.

    Each block line is cut to the terminal's width (a wrapped line would throw off the redraw), the
    block is never taller than the terminal (lines pushed into the scrollback could not be cleared),
    deployments that ended are folded into one count line (each already said its verdict in one
    line above), and the terminal's size is read again at every redraw, so a resize (SIGWINCH) is
    followed. When the run ends the block is cleared: the scrollback keeps one final line per
    deployment and the summary.
    """

    #: The block's most lines, whatever the terminal's height.
    MAX_BLOCK = 12

    def __init__(self, *args: object, colour: bool = True, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.colour = colour
        self._block = 0
        self._started = self.clock()
        self._drawn_at = 0.0

    def _paint(self, status: str, text: str) -> str:
        return f"\x1b[{_COLOURS.get(status, '0')}m{text}\x1b[0m" if self.colour else text

    def _size(self) -> tuple[int, int]:
        import os

        try:
            size = os.get_terminal_size(self.out.fileno())
            return max(20, size.columns), max(3, size.lines)
        except (OSError, ValueError, AttributeError):
            return 80, 24

    def _clear(self) -> None:
        if self._block:
            self.out.write(f"\x1b[{self._block}F\x1b[J")
            self._block = 0

    def block_lines(self, columns: int, rows: int) -> list[tuple[str, str]]:
        """The live block as (status, text) lines: those still running first, the ended folded into
        a count, at most `rows - 1` lines, each at most `columns - 1` cells wide."""
        live = self.deployments
        elapsed = self.clock() - self._started
        running = [d for d in live if not d.ended]
        ended = [d for d in live if d.ended]
        room = max(1, min(self.MAX_BLOCK, rows - 1))
        shown = running
        lines: list[tuple[str, str]] = []
        if ended:
            counts: dict[str, int] = {}
            for d in ended:
                counts[d.status] = counts.get(d.status, 0) + 1
            lines.append(
                (
                    "finished" if set(counts) == {"finished"} else "failed" if "failed" in counts else "timeout",
                    "  ".join(f"{_SYMBOLS.get(k, '?')} {n} {k}" for k, n in counts.items()),
                )
            )
        space = room - len(lines)
        if len(shown) > space:
            more = len(shown) - (space - 1)
            shown = shown[: max(0, space - 1)]
        else:
            more = 0
        width = max((_cells(clean(d.label)) for d in shown), default=0)
        for d in shown:
            label = clean(d.label)
            padding = " " * (width - _cells(label))
            text = f"{_SYMBOLS.get(d.status, '?')} {d.status:<11} {label}{padding} {seconds_text(elapsed):>7}"
            lines.append((d.status, text))
        if more:
            lines.append(("queued", f"… and {more} more still running"))
        return [(status, _fit(text, columns - 1)) for status, text in lines[:room]]

    def _draw(self) -> None:
        if not self.deployments:
            return
        columns, rows = self._size()
        lines = self.block_lines(columns, rows)
        for status, text in lines:
            self.out.write(self._paint(status, self.redact(text)) + "\n")
        self._block = len(lines)
        self._drawn_at = self.clock()
        self.out.flush()

    def _write(self, text: str, stream: TextIO) -> None:
        self._clear()
        self.out.flush()
        stream.write(text + "\n")
        stream.flush()
        self._draw()

    def tick(self, elapsed: float) -> None:
        if self.clock() - self._drawn_at >= 1.0:
            self._clear()
            self._draw()

    def summary(self, status: Status, duration: int, deployments: list[Deployment]) -> None:
        self._clear()
        self.deployments = []  # the summary replaces the live block
        super().summary(status, duration, deployments)

    def _status_word(self, status: str) -> str:
        return self._paint(status, f"{status:<11}")


def _cells(text: str) -> int:
    """How many terminal cells `text` takes (wide East Asian characters take two)."""
    import unicodedata

    return sum(
        2 if unicodedata.east_asian_width(ch) in ("W", "F") else 0 if unicodedata.combining(ch) else 1 for ch in text
    )


def _fit(text: str, cells: int) -> str:
    """`text` cut to `cells` terminal cells, with an ellipsis where it was cut."""
    if _cells(text) <= cells:
        return text
    out, used = [], 0
    for ch in text:
        width = _cells(ch)
        if used + width > cells - 1:
            break
        out.append(ch)
        used += width
    return "".join(out) + "…"
