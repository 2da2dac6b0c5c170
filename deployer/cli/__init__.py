"""The `deployer` command line: a thin shell over deployer.api (settings in, events rendered by
deployer.reporting, the end written to every sink). One module per part:

    group.py     the command group, usage and unexpected errors in one line
    options.py   every option, defined once
    deploy_command.py  `deployer deploy`
    commands.py  status, cancel, plan, help, demo
    sinks.py     the error line, GITHUB_OUTPUT, dotenv, job summary, JSON
"""

from __future__ import annotations

from deployer.cli import commands  # noqa: F401  (it adds its commands to the group)
from deployer.cli.deploy_command import deploy, run_deploy
from deployer.cli.group import cli

__all__ = ["cli", "deploy", "main", "run_deploy"]


def main() -> None:
    """The console script's entry: `deployer ...`."""
    cli()
