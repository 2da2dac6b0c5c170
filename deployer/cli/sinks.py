"""Where a run's end is written: the error line, GITHUB_OUTPUT, the dotenv file, the job summary and
the JSON document; each sink on its own, the redactor last in each."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import click

from deployer.errors import DeployerError
from deployer.exit_codes import ExitStatus
from deployer.model import Deployment
from deployer.reporting.redact import Redactor
from deployer.safe_text import one_line


def secrets_of(options: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """Every token this run may hold, from options, inputs and the environment: redacted everywhere."""
    candidates = [
        options.get("token"),
        env.get("INPUT_TOKEN"),
        env.get("COOLIFY_TOKEN"),
        env.get("DOKPLOY_API_KEY"),
        env.get("DOKPLOY_TOKEN"),
        options.get("github_token"),
        env.get("INPUT_GITHUB-TOKEN"),
        env.get("DEPLOYER_GITHUB_TOKEN"),
    ]
    return [str(t).strip() for t in candidates if t and str(t).strip()]


def fail(exc: DeployerError, redact: Redactor, env: Mapping[str, str] | None = None) -> int:
    """The one-line answer to an error, secrets redacted; its exit code. In a GitHub job it is also
    an error annotation; in a GitLab job, a red line."""
    line = redact(f"deployer: error: {one_line(str(exc))}")
    env = env or {}
    if env.get("GITLAB_CI") == "true":
        click.echo(f"\x1b[31;1m{line}\x1b[0m", err=True, color=True)  # GitLab shows colours: keep them
    else:
        click.echo(line, err=True)
    if env.get("GITHUB_ACTIONS") == "true":
        from deployer.reporting.ci import escape_data

        # On stderr, which the runner reads for commands as well: stdout may be a JSON document.
        click.echo(f"::error title=deployer::{escape_data(line[len('deployer: error: ') :])}", err=True)
    return exc.exit_code


class Outcome(NamedTuple):
    """What a run ends with, for the sinks: every exit has one, bad input included."""

    status: str
    duration: int
    deployments: list[Deployment]
    error: str | None
    exit_code: int
    version: str | None = None
    rolled_back: bool | None = None
    resource_id: str | None = None
    created: bool | None = None


def write_sinks(
    outcome: Outcome,
    env: Mapping[str, str],
    dotenv: str | None,
    redact: Redactor,
    *,
    ci_outputs: bool,
    json_out: bool,
    say: Callable[[str], Any],
) -> int:
    """Write each sink on its own (one failing loses none of the others), redaction last in each;
    name each file that could not be written. Exit 5 when the deployments finished but a sink failed."""
    from deployer.reporting.outputs import dotenv_text, github_output_text, json_document, step_outputs

    outputs = step_outputs(
        outcome.status,
        outcome.duration,
        outcome.deployments,
        outcome.version,
        outcome.rolled_back,
        outcome.resource_id,
        outcome.created,
    )
    unwritten: list[str] = []

    def write(what: str, path: str, text: str, mode: str) -> None:
        try:
            with open(path, mode, encoding="utf-8", newline="\n") as handle:
                handle.write(redact(text))
        except OSError as exc:
            unwritten.append(f"{what} to {path} ({exc.strerror or type(exc).__name__})")

    if ci_outputs and env.get("GITHUB_OUTPUT"):
        write("the step outputs", env["GITHUB_OUTPUT"], github_output_text(outputs), "a")
    if dotenv:
        write("the dotenv outputs", dotenv, dotenv_text(outputs), "w")
    if ci_outputs and env.get("GITHUB_STEP_SUMMARY"):
        from deployer.reporting.summary import summary_markdown

        markdown = summary_markdown(outcome.status, outcome.duration, outcome.deployments, error=outcome.error)
        write("the job summary", env["GITHUB_STEP_SUMMARY"], markdown, "a")
    code = outcome.exit_code
    if unwritten:
        say(f"could not write {'; '.join(unwritten)}; the deploy itself: {outcome.status}")
        code = code or ExitStatus.OUTPUT_UNWRITTEN
    if json_out:
        document = json_document(outputs, outcome.deployments, outcome.error, code)
        click.echo(redact(json.dumps(document, indent=2, ensure_ascii=False)))
    return code
