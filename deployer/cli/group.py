"""The `deployer` command group: usage errors and unexpected ones answered in one line."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from deployer import __version__
from deployer.exit_codes import ExitStatus


class _Group(click.Group):
    """Answers usage errors in one line with exit 2, as every other bad input is answered."""

    def main(
        self,
        args: Any = None,
        prog_name: Any = None,
        complete_var: Any = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        given = list(sys.argv[1:] if args is None else args)
        try:
            # `deployer` alone: the help, on stdout, exit 0
            code = super().main(
                given or ["--help"], prog_name or "deployer", complete_var, standalone_mode=False, **extra
            )
        except click.exceptions.UsageError as exc:
            _usage_error(exc, given)
        except click.exceptions.Abort:
            click.echo("deployer: interrupted", err=True)
            sys.exit(ExitStatus.SIGINT)
        except Exception as exc:  # a bug: still one line, secrets hidden, and never a false success
            if os.environ.get("DEPLOYER_DEBUG"):
                raise
            _unexpected(exc, given)
        sys.exit(code if isinstance(code, int) else 0)


def _usage_error(exc: click.exceptions.UsageError, given: list[str]) -> None:
    command = exc.ctx.command_path if exc.ctx else "deployer"
    said = f"{exc.format_message()} (see '{command} --help')"
    click.echo(f"deployer: error: {said}", err=True)
    if "--output=json" in given or any(a == "--output" and b == "json" for a, b in zip(given, given[1:], strict=False)):
        from deployer.reporting.outputs import json_document, step_outputs

        document = json_document(step_outputs("failed", 0, []), [], said, ExitStatus.BAD_INPUT)
        click.echo(json.dumps(document, indent=2))
    sys.exit(ExitStatus.BAD_INPUT)


def _unexpected(exc: Exception, given: list[str]) -> None:
    from deployer.cli.sinks import secrets_of
    from deployer.reporting.redact import Redactor
    from deployer.safe_text import one_line

    tokens = [given[i + 1] for i, a in enumerate(given[:-1]) if a in ("--token", "--github-token")]
    tokens += [a.split("=", 1)[1] for a in given if a.startswith(("--token=", "--github-token="))]
    redact = Redactor(*secrets_of({}, dict(os.environ)), *tokens)
    said = redact(one_line(f"{type(exc).__name__}: {exc}"))[:300]
    click.echo(
        f"deployer: error: unexpected {said} (a bug in deployer: please report it; DEPLOYER_DEBUG=1 shows where)",
        err=True,
    )
    sys.exit(ExitStatus.FAILED)


@click.group(
    name="deployer", cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="deployer", message="%(prog)s %(version)s")
def cli() -> None:
    """Deploy to Coolify or Dokploy from CI, follow the deployment to its end, and fail when it fails."""
