"""`deployer deploy`: settings from options, inputs and the environment; the run through the API;
its events to the reporter for where it runs; its end to every sink."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from deployer.cli.group import cli
from deployer.cli.options import DeployCommand, deploy_options
from deployer.cli.sinks import Outcome, fail, secrets_of, write_sinks
from deployer.errors import DeployerError, InputError
from deployer.events import Event, Finished, Started
from deployer.exit_codes import ExitStatus
from deployer.reporting.redact import Redactor

if TYPE_CHECKING:
    from deployer.config.settings import Settings
    from deployer.github_deployments import GitHubDeployment
    from deployer.reporting.terminal import ConsoleReporter


@cli.command(cls=DeployCommand)
@deploy_options
def deploy(**options: Any) -> int:
    """Trigger a deploy and follow every deployment it starts until it ends.

    Every option can also come from the action input of the same name (INPUT_<NAME>) and, where
    shown in brackets, from an environment variable.

    Exit codes: 0 finished, 1 failed, cancelled or unknown, 2 bad input, 3 server unusable,
    4 timed out, 5 finished but an output could not be written.
    """
    return run_deploy(options, dict(os.environ))


def run_deploy(options: Mapping[str, Any], env: Mapping[str, str], *, ci_outputs: bool = True) -> int:
    """Resolve settings, deploy, report and write the outputs; return the exit code."""
    from deployer.config.settings import resolve

    tokens = secrets_of(options, env)
    redact = Redactor(*tokens)
    wants_json = str(options.get("output") or "").strip().lower() == "json"
    try:
        settings = resolve(options, env)
    except InputError as exc:
        shown = in_the_callers_words(exc, env)
        code = fail(shown, redact, env)
        dotenv = str(options.get("dotenv") or env.get("DEPLOYER_DOTENV") or "").strip() or None
        return write_sinks(
            Outcome("failed", 0, [], str(shown), code),
            env,
            dotenv,
            redact,
            ci_outputs=ci_outputs,
            json_out=wants_json,
            say=lambda text: fail(DeployerError(text), redact, env),
        )
    redact.add(settings.token)
    redact.add(settings.github_token)
    for _, value in settings.env_vars:
        redact.add(value)  # a variable's value is a secret: never in any sink
    if settings.dry_run:
        return _dry_run(settings, env, redact, wants_json)

    from deployer import api
    from deployer.reporting import make_reporter

    reporter = make_reporter(sys.stderr if wants_json else sys.stdout, redact, env, tokens)
    consumer = _Consumers(reporter, _github_deployment(settings, env, reporter), settings, redact)
    with _stop_on_signals():
        result = api.deploy(settings, on_event=consumer)
    outcome = Outcome(
        result.status,
        result.duration,
        result.deployments,
        result.error,
        result.exit_code,
        result.version,
        result.rolled_back,
        result.resource_id,
        result.created,
    )
    code = write_sinks(
        outcome,
        env,
        settings.dotenv,
        redact,
        ci_outputs=ci_outputs,
        json_out=settings.output == "json",
        say=reporter.error,
    )
    if code >= 128:
        # Interrupted: the outputs are written; leave now rather than wait for a check in flight.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _dry_run(settings: Settings, env: Mapping[str, str], redact: Redactor, wants_json: bool) -> int:
    """What would be deployed and changed; the resources to change are read, nothing is written."""
    from deployer import api
    from deployer.dry_run import describe

    changes, stack = None, None
    try:
        if settings.changes_asked:
            changes = api.plan_changes(settings)
        if settings.compose_file:
            stack = api.plan_stack(settings)
    except DeployerError as exc:
        return fail(exc, redact, env)
    click.echo(redact(describe(settings, as_json=wants_json, changes=changes, stack=stack)))
    return ExitStatus.SUCCESS


class _Consumers:
    """The run's events to the reporter, and its start and end to the GitHub deployment (if any):
    the reporter starts first (GitHub masks the token there), the GitHub deployment ends first."""

    def __init__(
        self, reporter: ConsoleReporter, github: GitHubDeployment | None, settings: Settings, redact: Redactor
    ) -> None:
        self.reporter, self.github, self.settings, self.redact = reporter, github, settings, redact

    def __call__(self, event: Event) -> None:
        if isinstance(event, Finished) and self.github is not None:
            self._record_end(event, self.github)
        self.reporter(event)
        if isinstance(event, Started) and self.github is not None:
            self.github.start(f"deployer: deploying to {self.settings.provider} at {self.settings.url}")

    def _record_end(self, event: Finished, github: GitHubDeployment) -> None:
        from deployer.github_deployments import environment_url, final_state
        from deployer.safe_text import one_line

        failed = next((d for d in event.deployments if d.status != "finished" and d.message), None)
        said = f"{event.status} after {event.duration}s" + (f": {failed.label}: {failed.message}" if failed else "")
        github.status(
            final_state(event.status, event.exit_code),
            self.redact(one_line(said)),
            environment_url(self.settings.health_urls),
        )
        github.close()


def _github_deployment(
    settings: Settings, env: Mapping[str, str], reporter: ConsoleReporter
) -> GitHubDeployment | None:
    """With a github-token: this run's GitHub deployment, not yet started; else None."""
    if not settings.github_token:
        return None
    from deployer.github_deployments import GitHubDeployment

    environment = settings.github_environment or settings.environment or "production"
    return GitHubDeployment(
        settings.github_token, env, environment, transient=settings.pr is not None, warn=reporter.warning
    )


def in_the_callers_words(exc: InputError, env: Mapping[str, str]) -> InputError:
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
        raise Interrupted(signal.Signals(signum).name, 128 + signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
