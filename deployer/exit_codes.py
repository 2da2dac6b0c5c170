"""The exit codes, named once (CONTRACT.md): what a CI job's status means for each outcome."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """How a `deployer` run ends. Signals add theirs: 130 (SIGINT), 143 (SIGTERM)."""

    SUCCESS = 0
    #: A deployment failed, was cancelled, or could not be told from another (unknown).
    FAILED = 1
    #: Bad options, inputs, environment or config file: nothing was sent.
    BAD_INPUT = 2
    #: The server could not be used: unreachable, TLS, token, permission, no such resource.
    SERVER_UNUSABLE = 3
    TIMEOUT = 4
    #: Every deployment finished, but an output (GITHUB_OUTPUT, dotenv, summary) could not be written.
    OUTPUT_UNWRITTEN = 5
    SIGINT = 130
    SIGTERM = 143
