"""Rendering: consumers of deployer.events for a terminal, GitHub Actions and GitLab CI, and the
step outputs (GITHUB_OUTPUT, dotenv, JSON). Every sink passes its text through the redactor last.
Depends on the model and the events alone: nothing here knows HTTP or a provider."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TextIO

from deployer.reporting.terminal import ConsoleReporter, TerminalReporter


def make_reporter(
    out: TextIO, redact: Callable[[str], str], env: Mapping[str, str], secrets: list[str]
) -> ConsoleReporter:
    """The reporter for where deployer runs: GitHub Actions, GitLab CI, a terminal, or plain."""
    if env.get("GITHUB_ACTIONS") == "true":
        from deployer.reporting.ci import GitHubReporter

        return GitHubReporter(out, redact, secrets=secrets)
    if env.get("GITLAB_CI") == "true":
        from deployer.reporting.ci import GitLabReporter

        return GitLabReporter(out, redact)
    isatty = getattr(out, "isatty", None)
    if isatty is not None and isatty() and env.get("TERM") != "dumb":
        return TerminalReporter(out, redact, colour="NO_COLOR" not in env)
    return ConsoleReporter(out, redact)
