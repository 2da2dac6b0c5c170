"""Progress for a person reading the job log: status changes, build logs, notices, the summary."""

from __future__ import annotations

import sys
from typing import Callable, TextIO

from deployer.models import Deployment


def _seconds(elapsed: float) -> str:
    whole = int(round(elapsed))
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


class ConsoleReporter:
    """Writes plain lines; every line passes through `redact`, so no secret reaches the log."""

    def __init__(self, out: TextIO, redact: Callable[[str], str], err: TextIO | None = None) -> None:
        self.out = out
        self.err = err or sys.stderr
        self.redact = redact
        self.prefix_logs = False
        self._notices: set[str] = set()

    def _line(self, text: str, stream: TextIO | None = None) -> None:
        stream = stream or self.out
        stream.write(self.redact(text) + "\n")
        stream.flush()

    def triggered(self, deployments: list[Deployment], where: str) -> None:
        self.prefix_logs = len(deployments) > 1
        self._line(f"Triggered {len(deployments)} deployment(s) on {where}")
        for d in deployments:
            ident = f"deployment {d.deployment_id}" if d.deployment_id else d.kind
            extra = f": {d.message}" if d.message else ""
            self._line(f"  {d.label}: {d.status} ({ident}){extra}")

    def status(self, deployment: Deployment, elapsed: float) -> None:
        d = deployment
        link = f" {d.url}" if d.url and d.status == "in_progress" else ""
        note = f": {d.message}" if d.message and d.ended and d.status != "finished" else ""
        self._line(f"{d.label}: {d.status} after {_seconds(elapsed)}{link}{note}")

    def log(self, deployment: Deployment, lines: list[str]) -> None:
        prefix = f"[{deployment.label}] " if self.prefix_logs else "  "
        for line in lines:
            self._line(prefix + line)

    def failure_log(self, deployment: Deployment, lines: list[str]) -> None:
        self._line(f"--- last {len(lines)} lines of {deployment.label}'s build log ---")
        for line in lines:
            self._line("  " + line)
        self._line("---")

    def notice(self, text: str) -> None:
        if text not in self._notices:
            self._notices.add(text)
            self._line(f"note: {text}")

    def warning(self, text: str) -> None:
        self._line(f"warning: {text}", self.err)

    def error(self, text: str) -> None:
        self._line(f"deployer: error: {text}", self.err)

    def summary(self, status: str, duration: int, deployments: list[Deployment]) -> None:
        self._line(f"Result: {status} ({len(deployments)} deployment(s), {_seconds(duration)})")
        width = max((len(d.label) for d in deployments), default=0)
        for d in deployments:
            took = _seconds(d.duration) if d.duration is not None else "-"
            parts = [f"  {d.label:<{width}}", f"{d.status:<11}", f"{took:>6}"]
            if d.url:
                parts.append(d.url)
            if d.message and d.status != "finished":
                parts.append(d.message)
            self._line("  ".join(parts))
