"""The commands beside deploy: status and cancel of one deployment, plan, help and demo."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import click

from deployer.cli.group import cli
from deployer.cli.options import server_options
from deployer.cli.sinks import fail, secrets_of
from deployer.errors import DeployerError, InputError
from deployer.exit_codes import ExitStatus
from deployer.model import Status
from deployer.reporting.redact import Redactor
from deployer.safe_text import one_line

if TYPE_CHECKING:
    from deployer.config.settings import Settings


def _about_one_deployment(options: Mapping[str, Any], act: Callable[[Settings, Redactor], int]) -> int:
    """Resolve the server from options, inputs, environment and config; run `act(settings)`;
    answer errors in one line, secrets redacted."""
    from deployer.config.settings import resolve

    env = dict(os.environ)
    redact = Redactor(*secrets_of(options, env))
    try:
        settings = resolve(options, env, targets=False)
        redact.add(settings.token)
        if settings.insecure:
            click.echo("deployer: warning: TLS verification is OFF (--insecure)", err=True)
        return int(act(settings, redact))
    except DeployerError as exc:
        code = fail(exc, redact, env)
        if str(options.get("output") or "").strip().lower() == "json":  # one document at every exit
            error = {"message": one_line(str(exc)), "exit_code": code}
            click.echo(redact(json.dumps({"exit_code": code, "error": error})))
        return code


@cli.command()
@click.argument("deployment_id")
@server_options
def status(deployment_id: str, **options: Any) -> int:
    """Show one deployment's status now.

    Exit codes: 0 finished, queued or in progress; 1 failed or cancelled; 2 bad input; 3 the server
    could not be used or has no such deployment. `--output json` gives the same fields as an entry
    of the deploy command's `result` output.
    """
    from deployer import api

    def show(settings: Settings, redact: Redactor) -> int:
        d = api.status(deployment_id.strip(), settings)
        if settings.output == "json":
            click.echo(redact(json.dumps(d.as_result(), ensure_ascii=False)))
        else:
            click.echo(redact(one_line(f"{d.deployment_id}: {d.status}")))
            for label, value in (
                ("resource", d.name or d.resource),
                ("url", d.url),
                ("message", d.message),
                ("started", d.started_at),
                ("finished", d.finished_at),
            ):
                if value:
                    click.echo(redact(one_line(f"  {label}: {value}")))
        return ExitStatus.FAILED if d.status in (Status.FAILED, Status.CANCELLED) else ExitStatus.SUCCESS

    return _about_one_deployment(options, show)


@cli.command()
@click.argument("deployment_id")
@server_options
def cancel(deployment_id: str, **options: Any) -> int:
    """Cancel one queued or running deployment.

    Exit codes: 0 cancelled; 1 it had already ended; 2 bad input; 3 the server could not be used,
    has no such deployment, or cannot cancel (self-hosted Dokploy).
    """
    from deployer import api

    def act(settings: Settings, redact: Redactor) -> int:
        said = api.cancel(deployment_id.strip(), settings)
        if settings.output == "json":
            click.echo(
                json.dumps({"deployment_id": deployment_id.strip(), "status": "cancelled", "message": redact(said)})
            )
        else:
            click.echo(redact(one_line(f"{deployment_id.strip()}: cancelled ({said})")))
        return ExitStatus.SUCCESS

    return _about_one_deployment(options, act)


@cli.command()
@click.option("--config", metavar="PATH", help="The config file [DEPLOYER_CONFIG].")
@click.option("--environment", multiple=True, metavar="NAME", help="Only these environments (default: every one).")
@click.option(
    "--output",
    type=click.Choice(["text", "json", "gitlab"]),
    default="text",
    show_default=True,
    help='json: a GitHub Actions matrix ({"include": [...]}, one line); gitlab: a child pipeline.',
)
@click.option(
    "--resolve",
    is_flag=True,
    help="Look names up through the API and list ids (needs the URL and token, as deploy does).",
)
def plan(config: str | None, environment: tuple[str, ...], output: str, resolve: bool) -> int:
    """List the config file's targets, one entry per target, to fan deploys out across CI jobs.

    Each entry carries what `deployer deploy --config FILE` needs to deploy that target alone:
    its environment and one of name, uuid, tag, application-id or compose-id.
    """
    from deployer import plan as planner

    env = dict(os.environ)
    path = (config or env.get("DEPLOYER_CONFIG", "")).strip()
    redact = Redactor(*secrets_of({}, env))
    try:
        if not path:
            raise InputError("no config file: pass --config or set DEPLOYER_CONFIG")
        entries = planner.targets(path, list(environment), env, resolve=resolve)
    except DeployerError as exc:
        return fail(exc, redact, env)
    if output == "json":
        click.echo(planner.github_matrix(entries))
    elif output == "gitlab":
        click.echo(planner.gitlab_pipeline(entries, path), nl=False)
    else:
        click.echo(planner.text_table(entries))
        shown = planner.settings_text(path, list(environment))
        if shown:
            click.echo(
                "\nSettings from the file (an option or action input of deploy beats them; they beat the environment):"
            )
            click.echo(redact(shown))
    return ExitStatus.SUCCESS


@cli.command(name="help")
@click.argument("command", required=False)
@click.pass_context
def help_(ctx: click.Context, command: str | None) -> int:
    """Show the help of deployer, or of one of its commands."""
    parent = ctx.parent or ctx
    if command is None:
        click.echo(parent.get_help())
        return ExitStatus.SUCCESS
    found = cli.get_command(parent, command)
    if found is None:
        raise click.UsageError(f"no command {command!r}; the commands are {', '.join(sorted(cli.commands))}", ctx)
    with click.Context(found, info_name=command, parent=parent) as sub:
        click.echo(found.get_help(sub))
    return ExitStatus.SUCCESS


@cli.command()
@click.option(
    "--provider",
    type=click.Choice(["coolify", "dokploy"]),
    default="coolify",
    show_default=True,
    help="Which simulated server.",
)
@click.option(
    "--fail", "fail_one", is_flag=True, help="Make one deployment fail, to see how a failure and its rollback read."
)
@click.option("--logs", type=click.Choice(["stream", "on-failure", "none"]), default="stream", show_default=True)
def demo(provider: str, fail_one: bool, logs: str) -> int:
    """Run a complete deploy against a simulated server on 127.0.0.1: no server of your own needed.

    It pins image tag v2 on two applications (--image-tag v2 --rollback-on-failure); with --fail,
    one of them fails and is rolled back to v1."""
    from deployer.cli.deploy_command import run_deploy
    from deployer.simulator import demo_server

    with demo_server(provider, fail=fail_one) as (url, token, targets):
        click.echo(f"Simulated {provider} server at {url} (it stops when the demo ends)\n")
        options = {
            "provider": provider,
            "url": url,
            "token": token,
            "logs": logs,
            "poll_interval": "1s",
            "timeout": "2m",
            **targets,
        }
        # Only what says how to display (NO_COLOR, TERM): no CI variable or token of the caller's.
        display = {k: os.environ[k] for k in ("NO_COLOR", "TERM") if k in os.environ}
        return run_deploy(options, display, ci_outputs=False)
