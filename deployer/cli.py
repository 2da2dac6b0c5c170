"""The `deployer` command line: a thin layer that reads settings, runs, and writes outputs."""

from __future__ import annotations

import json
import os
import re
import sys
from contextlib import contextmanager
from typing import Any, Iterator, NamedTuple

import click

from deployer import __version__
from deployer.errors import DeployerError, InputError
from deployer.redact import Redactor


class _Group(click.Group):
    """Answers usage errors in one line with exit 2, as every other bad input is answered."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not (sys.argv[1:] if args is None else list(args)):
            args = ["--help"]  # `deployer` alone: the help, on stdout, exit 0
        try:
            code = super().main(args, prog_name or "deployer", complete_var, standalone_mode=False, **extra)
        except click.exceptions.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "deployer"
            said = f"{exc.format_message()} (see '{command} --help')"
            click.echo(f"deployer: error: {said}", err=True)
            given = list(sys.argv[1:] if args is None else args)
            if "--output=json" in given or any(a == "--output" and b == "json" for a, b in zip(given, given[1:], strict=False)):
                from deployer.outputs import json_document, step_outputs

                click.echo(json.dumps(json_document(step_outputs("failed", 0, []), [], said, 2), indent=2))
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo("deployer: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug: still one line, secrets hidden, and never a false success
            if os.environ.get("DEPLOYER_DEBUG"):
                raise
            from deployer.console import clean

            given = list(sys.argv[1:] if args is None else args)
            tokens = [given[i + 1] for i, a in enumerate(given[:-1]) if a in ("--token", "--github-token")]
            tokens += [a.split("=", 1)[1] for a in given if a.startswith(("--token=", "--github-token="))]
            redact = Redactor(*_secrets({}, dict(os.environ)), *tokens)
            said = redact(clean(f"{type(exc).__name__}: {exc}"))[:300]
            click.echo(f"deployer: error: unexpected {said} (a bug in deployer: please report it; "
                       "DEPLOYER_DEBUG=1 shows where)", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(name="deployer", cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="deployer", message="%(prog)s %(version)s")
def cli() -> None:
    """Deploy to Coolify or Dokploy from CI, follow the deployment to its end, and fail when it fails."""


#: How `deploy --help` groups its options: (title, the first option of the group).
DEPLOY_GROUPS = [("Server", "provider"), ("What to deploy", "uuid"), ("Config file", "config"),
                 ("Waiting and logs", "wait"), ("Health", "health_url"), ("GitHub", "github_token"),
                 ("Connection", "request_budget"), ("Output", "dry_run")]


class _GroupedOptions(click.Command):
    """A command whose --help lists its options in sections (server, targets, waiting, output...)."""

    groups: list[tuple[str, str]] = []

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: list[tuple[str, list[tuple[str, str]]]] = []
        starts = {first: title for title, first in self.groups}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.name in starts or not sections:
                sections.append((starts.get(param.name or "", "Options"), []))
            sections[-1][1].append(record)
        for title, rows in sections:
            with formatter.section(title):
                formatter.write_dl(rows)


def _deploy_options(func: Any) -> Any:
    options = [
        click.option("--provider", metavar="coolify|dokploy", help="Which server; inferred where only one fits, and said [DEPLOYER_PROVIDER]."),
        click.option("--url", metavar="URL", help="The instance's base URL, e.g. https://coolify.example.com [COOLIFY_URL, DOKPLOY_URL]."),
        click.option("--token", metavar="TOKEN", help="API token; never printed [COOLIFY_TOKEN, DOKPLOY_API_KEY]."),
        click.option("--uuid", multiple=True, metavar="ID", help="Coolify resource uuid(s): repeat, or separate with commas, spaces or newlines."),
        click.option("--tag", multiple=True, metavar="NAME", help="Coolify tag(s): deploys every resource with the tag."),
        click.option("--force", is_flag=True, default=None, help="Coolify: rebuild without cache."),
        click.option("--pr", metavar="N", help="Coolify: deploy pull request N's preview."),
        click.option("--docker-tag", metavar="TAG", help="Coolify: image tag for a Docker-image app (with --pr)."),
        click.option("--name", multiple=True, metavar="NAME", help="Resource name(s), looked up through the API: NAME, PROJECT/NAME or PROJECT/ENVIRONMENT/NAME."),
        click.option("--application-id", multiple=True, metavar="ID", help="Dokploy application id(s)."),
        click.option("--compose-id", multiple=True, metavar="ID", help="Dokploy compose id(s)."),
        click.option("--title", metavar="TEXT", help="Dokploy deployment title (default names the CI run)."),
        click.option("--description", metavar="TEXT", help="Dokploy deployment description."),
        click.option("--config", metavar="PATH", help="YAML file describing environments and their targets (no secrets in it) [DEPLOYER_CONFIG]."),
        click.option("--environment", metavar="NAME", help="Which environment of the config file to deploy [DEPLOYER_ENVIRONMENT]."),
        click.option("--wait/--no-wait", default=None, help="Follow deployments to their end (default: wait)."),
        click.option("--timeout", metavar="DURATION", help="Give up waiting after this: 90, 90s, 15m, 1h (default 15m)."),
        click.option("--poll-interval", metavar="DURATION", help="Longest pause between status checks (default 5s)."),
        click.option("--cancel-on-timeout", is_flag=True, default=None, help="Cancel deployments still running at the timeout, where the server can."),
        click.option("--logs", metavar="stream|on-failure|none", help="Build logs: live, the tail of failed ones, or none (default stream)."),
        click.option("--health-url", multiple=True, metavar="URL", help="After every deployment finished, wait until this URL answers 2xx (within the timeout)."),
        click.option("--wait-healthy", is_flag=True, default=None, help="Coolify: after a deployment finished, wait until the application is running:healthy."),
        click.option("--github-token", metavar="TOKEN", help="Record the deploy as a GitHub deployment (needs 'deployments: write') [DEPLOYER_GITHUB_TOKEN]."),
        click.option("--github-environment", metavar="NAME", help="The GitHub environment to record it in (default: --environment, else production)."),
        click.option("--request-budget", metavar="N", help="Most API requests a minute while following (default 120; Coolify allows 200) [DEPLOYER_REQUEST_BUDGET]."),
        click.option("--ca-cert", metavar="PATH", help="Trust this CA bundle (self-signed instances) [DEPLOYER_CA_CERT]."),
        click.option("--insecure", is_flag=True, default=None, help="Skip TLS verification (warns)."),
        click.option("--dry-run", is_flag=True, default=None, help="Show what would be deployed and where each setting came from; send nothing."),
        click.option("--output", metavar="text|json", help="json: the result document on stdout, progress on stderr."),
        click.option("--dotenv", metavar="PATH", help="Also write GitLab dotenv outputs here [DEPLOYER_DOTENV]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


class _DeployCommand(_GroupedOptions):
    groups = DEPLOY_GROUPS


@cli.command(cls=_DeployCommand)
@_deploy_options
def deploy(**options: Any) -> int:
    """Trigger a deploy and follow every deployment it starts until it ends.

    Every option can also come from the action input of the same name (INPUT_<NAME>) and, where
    shown in brackets, from an environment variable.

    Exit codes: 0 finished, 1 failed, cancelled or unknown, 2 bad input, 3 server unusable,
    4 timed out, 5 finished but an output could not be written.
    """
    return run_deploy(options, dict(os.environ))


def _secrets(options: dict[str, Any], env: dict[str, str]) -> list[str]:
    """Every token this run may hold, from options, inputs and the environment: redacted everywhere."""
    candidates = [options.get("token"), env.get("INPUT_TOKEN"), env.get("COOLIFY_TOKEN"),
                  env.get("DOKPLOY_API_KEY"), env.get("DOKPLOY_TOKEN"), options.get("github_token"),
                  env.get("INPUT_GITHUB-TOKEN"), env.get("DEPLOYER_GITHUB_TOKEN")]
    return [str(t).strip() for t in candidates if t and str(t).strip()]


def _fail(exc: DeployerError, redact: Redactor, env: dict[str, str] | None = None) -> int:
    """The one-line answer to an error, secrets redacted; its exit code. In a GitHub job it is also
    an error annotation; in a GitLab job, a red line."""
    from deployer.console import clean

    line = redact(f"deployer: error: {clean(str(exc))}")
    env = env or {}
    if env.get("GITLAB_CI") == "true":
        click.echo(f"\x1b[31;1m{line}\x1b[0m", err=True, color=True)  # GitLab shows colours: keep them
    else:
        click.echo(line, err=True)
    if env.get("GITHUB_ACTIONS") == "true":
        from deployer.platforms import escape_data

        # On stderr, which the runner reads for commands as well: stdout may be a JSON document.
        click.echo(f"::error title=deployer::{escape_data(line[len('deployer: error: '):])}", err=True)
    return exc.exit_code


def _in_the_callers_words(exc: InputError, env: dict[str, str]) -> InputError:
    """Run as the GitHub action (its inputs arrive as INPUT_*), an error names the action's inputs
    (`application-id`), not the command line's options (`--application-id`)."""
    if env.get("GITHUB_ACTIONS") != "true" or not any(name.startswith("INPUT_") for name in env):
        return exc
    inputs = {p.name.replace("_", "-") for p in deploy.params if p.name} - {"output", "dotenv"}

    def word(match: re.Match[str]) -> str:
        return f"input '{match.group(1)}'" if match.group(1) in inputs else match.group(0)

    said = re.sub(r"(?<![\w-])--([a-z][a-z-]*)", word, str(exc))
    said = said.replace("input 'provider' coolify or input 'provider' dokploy", "input 'provider' (coolify or dokploy)")
    said = said.replace("pass input", "set input")
    return InputError(said)


def run_deploy(options: dict[str, Any], env: dict[str, str], *, ci_outputs: bool = True) -> int:
    """Resolve settings, deploy, report and write the outputs; return the exit code."""
    from deployer.settings import resolve

    tokens = _secrets(options, env)
    redact = Redactor(*tokens)
    wants_json = str(options.get("output") or "").strip().lower() == "json"
    try:
        settings = resolve(options, env)
    except InputError as exc:
        shown = _in_the_callers_words(exc, env)
        code = _fail(shown, redact, env)
        dotenv = str(options.get("dotenv") or env.get("DEPLOYER_DOTENV") or "").strip() or None
        return _write_sinks(Outcome("failed", 0, [], str(shown), code), env, dotenv, redact, ci_outputs=ci_outputs,
                            json_out=wants_json, say=lambda text: _fail(DeployerError(text), redact, env))
    redact.add(settings.token)
    if settings.github_token:
        redact.add(settings.github_token)
    if settings.dry_run:
        from deployer.dry_run import describe

        click.echo(redact(describe(settings, as_json=wants_json)))
        return 0

    from deployer.console import make_reporter
    from deployer.runner import deploy as run

    reporter = make_reporter(sys.stderr if wants_json else sys.stdout, redact, env, tokens)
    reporter.start()
    if settings.sources.get("provider", "").startswith("inferred"):
        reporter.notice(f"provider {settings.provider} ({settings.sources['provider']}); set --provider to be sure")
    if settings.insecure:
        reporter.warning("TLS verification is OFF (--insecure): anyone on the path can read the token and forge answers")
    if settings.token_in_clear:
        reporter.warning(f"{settings.url} is plain http: the token travels in clear across the network; use https")
    github = _github_deployment(settings, env, reporter)
    with _stop_on_signals():
        result = run(settings, reporter)
    if github is not None:
        from deployer.console import clean
        from deployer.github_deployments import environment_url, final_state

        failed = next((d for d in result.deployments if d.status != "finished" and d.message), None)
        said = f"{result.status} after {result.duration}s" + (f": {failed.label}: {failed.message}" if failed else "")
        github.status(final_state(result.status, result.exit_code), redact(clean(said)), environment_url(settings.health_urls))
        github.close()
    if result.error:
        reporter.error(result.error)
    if result.deployments:
        reporter.summary(result.status, result.duration, result.deployments)
    outcome = Outcome(result.status, result.duration, result.deployments, result.error, result.exit_code)
    code = _write_sinks(outcome, env, settings.dotenv, redact, ci_outputs=ci_outputs,
                        json_out=settings.output == "json", say=reporter.error)
    if code >= 128:
        # Interrupted: the outputs are written; leave now rather than wait for a check in flight.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


class Outcome(NamedTuple):
    """What a run ends with, for the sinks: every exit has one, bad input included."""

    status: str
    duration: int
    deployments: list[Any]
    error: str | None
    exit_code: int


def _write_sinks(outcome: Outcome, env: dict[str, str], dotenv: str | None, redact: Redactor, *, ci_outputs: bool,
                 json_out: bool, say: Any) -> int:
    """Write each sink on its own (one failing loses none of the others), redaction last in each;
    name each file that could not be written. Exit 5 when the deployments finished but a sink failed."""
    from deployer.outputs import (
        dotenv_text,
        github_output_text,
        json_document,
        step_outputs,
    )

    outputs = step_outputs(outcome.status, outcome.duration, outcome.deployments)
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
        from deployer.platforms import summary_markdown

        markdown = summary_markdown(outcome.status, outcome.duration, outcome.deployments, error=outcome.error)
        write("the job summary", env["GITHUB_STEP_SUMMARY"], markdown, "a")
    code = outcome.exit_code
    if unwritten:
        say(f"could not write {'; '.join(unwritten)}; the deploy itself: {outcome.status}")
        code = code or 5
    if json_out:
        document = json_document(outputs, outcome.deployments, outcome.error, code)
        click.echo(redact(json.dumps(document, indent=2, ensure_ascii=False)))
    return code


def _github_deployment(settings: Any, env: dict[str, str], reporter: Any) -> Any:
    """With a github-token: this run's GitHub deployment, created and in progress; else None."""
    if not settings.github_token:
        return None
    from deployer.github_deployments import GitHubDeployment

    environment = settings.github_environment or settings.environment or "production"
    github = GitHubDeployment(settings.github_token, env, environment, transient=settings.pr is not None, warn=reporter.warning)
    github.start(f"deployer: deploying to {settings.provider} at {settings.url}")
    return github


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGINT (a cancelled CI job) into Interrupted inside the run."""
    import signal
    import threading

    from deployer.errors import Interrupted

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        raise Interrupted(name, 128 + signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _server_options(func: Any) -> Any:
    """The options that say which server: for commands about one deployment."""
    options = [
        click.option("--provider", metavar="coolify|dokploy", help="Which server; inferred when only COOLIFY_URL or DOKPLOY_URL is set."),
        click.option("--url", metavar="URL", help="The instance's base URL [COOLIFY_URL, DOKPLOY_URL]."),
        click.option("--token", metavar="TOKEN", help="API token; never printed [COOLIFY_TOKEN, DOKPLOY_API_KEY]."),
        click.option("--config", metavar="PATH", help="Take the server from this config file [DEPLOYER_CONFIG]."),
        click.option("--environment", metavar="NAME", help="... and this environment of it [DEPLOYER_ENVIRONMENT]."),
        click.option("--application-id", multiple=True, metavar="ID", help="Dokploy: the application the deployment belongs to (else every one is searched)."),
        click.option("--compose-id", multiple=True, metavar="ID", help="Dokploy: the compose stack the deployment belongs to."),
        click.option("--ca-cert", metavar="PATH", help="Trust this CA bundle [DEPLOYER_CA_CERT]."),
        click.option("--insecure", is_flag=True, default=None, help="Skip TLS verification (warns)."),
        click.option("--output", metavar="text|json", help="json: the deployment as one JSON object on stdout."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _about_one_deployment(options: dict[str, Any], act: Any) -> int:
    """Resolve the server from options, inputs, environment and config; run `act(settings)`;
    answer errors in one line, secrets redacted."""
    from deployer.settings import resolve

    env = dict(os.environ)
    redact = Redactor(*_secrets(options, env))
    try:
        settings = resolve(options, env, targets=False)
        redact.add(settings.token)
        if settings.insecure:
            click.echo("deployer: warning: TLS verification is OFF (--insecure)", err=True)
        return int(act(settings, redact))
    except DeployerError as exc:
        code = _fail(exc, redact, env)
        if str(options.get("output") or "").strip().lower() == "json":  # one document at every exit
            from deployer.console import clean

            click.echo(redact(json.dumps({"exit_code": code, "error": {"message": clean(str(exc)), "exit_code": code}})))
        return code


@cli.command()
@click.argument("deployment_id")
@_server_options
def status(deployment_id: str, **options: Any) -> int:
    """Show one deployment's status now.

    Exit codes: 0 finished, queued or in progress; 1 failed or cancelled; 2 bad input; 3 the server
    could not be used or has no such deployment. `--output json` gives the same fields as an entry
    of the deploy command's `result` output.
    """
    from deployer.console import clean
    from deployer.models import CANCELLED, FAILED
    from deployer.runner import deployment_status

    def show(settings: Any, redact: Redactor) -> int:
        d = deployment_status(settings, deployment_id.strip())
        if settings.output == "json":
            click.echo(redact(json.dumps(d.as_result(), ensure_ascii=False)))
        else:
            click.echo(redact(clean(f"{d.deployment_id}: {d.status}")))
            for label, value in (("resource", d.name or d.resource), ("url", d.url), ("message", d.message),
                                 ("started", d.started_at), ("finished", d.finished_at)):
                if value:
                    click.echo(redact(clean(f"  {label}: {value}")))
        return 1 if d.status in (FAILED, CANCELLED) else 0

    return _about_one_deployment(options, show)


@cli.command()
@click.argument("deployment_id")
@_server_options
def cancel(deployment_id: str, **options: Any) -> int:
    """Cancel one queued or running deployment.

    Exit codes: 0 cancelled; 1 it had already ended; 2 bad input; 3 the server could not be used,
    has no such deployment, or cannot cancel (self-hosted Dokploy).
    """
    from deployer.console import clean
    from deployer.runner import cancel_deployment

    def act(settings: Any, redact: Redactor) -> int:
        said = cancel_deployment(settings, deployment_id.strip())
        if settings.output == "json":
            click.echo(json.dumps({"deployment_id": deployment_id.strip(), "status": "cancelled", "message": redact(said)}))
        else:
            click.echo(redact(clean(f"{deployment_id.strip()}: cancelled ({said})")))
        return 0

    return _about_one_deployment(options, act)


@cli.command()
@click.option("--config", metavar="PATH", help="The config file [DEPLOYER_CONFIG].")
@click.option("--environment", multiple=True, metavar="NAME", help="Only these environments (default: every one).")
@click.option("--output", type=click.Choice(["text", "json", "gitlab"]), default="text", show_default=True,
              help="json: a GitHub Actions matrix ({\"include\": [...]}, one line); gitlab: a child pipeline.")
@click.option("--resolve", is_flag=True, help="Look names up through the API and list ids (needs the URL and token, as deploy does).")
def plan(config: str | None, environment: tuple[str, ...], output: str, resolve: bool) -> int:
    """List the config file's targets, one entry per target, to fan deploys out across CI jobs.

    Each entry carries what `deployer deploy --config FILE` needs to deploy that target alone:
    its environment and one of name, uuid, tag, application-id or compose-id.
    """
    from deployer import plan as planner

    env = dict(os.environ)
    path = (config or env.get("DEPLOYER_CONFIG", "")).strip()
    redact = Redactor(*_secrets({}, env))
    try:
        if not path:
            raise InputError("no config file: pass --config or set DEPLOYER_CONFIG")
        entries = planner.targets(path, list(environment), env, resolve=resolve)
    except DeployerError as exc:
        return _fail(exc, redact, env)
    if output == "json":
        click.echo(planner.github_matrix(entries))
    elif output == "gitlab":
        click.echo(planner.gitlab_pipeline(entries, path), nl=False)
    else:
        click.echo(planner.text_table(entries))
        shown = planner.settings_text(path, list(environment))
        if shown:
            click.echo("\nSettings from the file (an option or action input of deploy beats them; they beat the environment):")
            click.echo(redact(shown))
    return 0


@cli.command(name="help")
@click.argument("command", required=False)
@click.pass_context
def help_(ctx: click.Context, command: str | None) -> int:
    """Show the help of deployer, or of one of its commands."""
    parent = ctx.parent or ctx
    if command is None:
        click.echo(parent.get_help())
        return 0
    found = cli.get_command(parent, command)
    if found is None:
        raise click.UsageError(f"no command {command!r}; the commands are {', '.join(sorted(cli.commands))}", ctx)
    with click.Context(found, info_name=command, parent=parent) as sub:
        click.echo(found.get_help(sub))
    return 0


@cli.command()
@click.option("--provider", type=click.Choice(["coolify", "dokploy"]), default="coolify", show_default=True, help="Which simulated server.")
@click.option("--fail", is_flag=True, help="Make one deployment fail, to see how a failure reads.")
@click.option("--logs", type=click.Choice(["stream", "on-failure", "none"]), default="stream", show_default=True)
def demo(provider: str, fail: bool, logs: str) -> int:
    """Run a complete deploy against a simulated server on 127.0.0.1: no server of your own needed."""
    from deployer.simulator import demo_server

    with demo_server(provider, fail=fail) as (url, token, targets):
        click.echo(f"Simulated {provider} server at {url} (it stops when the demo ends)\n")
        options = {"provider": provider, "url": url, "token": token, "logs": logs,
                   "poll_interval": "1s", "timeout": "2m", **targets}
        # Only what says how to display (NO_COLOR, TERM): no CI variable or token of the caller's.
        display = {k: os.environ[k] for k in ("NO_COLOR", "TERM") if k in os.environ}
        return run_deploy(options, display, ci_outputs=False)


def main() -> None:
    cli()
