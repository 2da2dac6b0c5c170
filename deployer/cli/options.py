"""Every option of the command line, defined once; each command picks the ones it takes.

The deploy command takes them all (each is also the action input of the same name); the commands
about one deployment take the server options, with help that speaks of one deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

F = Callable[..., Any]

#: name -> (flags, click keywords). The order is deploy --help's order.
OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "provider": (
        ("--provider",),
        dict(
            metavar="coolify|dokploy", help="Which server; inferred where only one fits, and said [DEPLOYER_PROVIDER]."
        ),
    ),
    "url": (
        ("--url",),
        dict(
            metavar="URL", help="The instance's base URL, e.g. https://coolify.example.com [COOLIFY_URL, DOKPLOY_URL]."
        ),
    ),
    "token": (("--token",), dict(metavar="TOKEN", help="API token; never printed [COOLIFY_TOKEN, DOKPLOY_API_KEY].")),
    "uuid": (
        ("--uuid",),
        dict(
            multiple=True,
            metavar="ID",
            help="Coolify resource uuid(s): repeat, or separate with commas, spaces or newlines.",
        ),
    ),
    "tag": (
        ("--tag",),
        dict(multiple=True, metavar="NAME", help="Coolify tag(s): deploys every resource with the tag."),
    ),
    "force": (("--force",), dict(is_flag=True, default=None, help="Coolify: rebuild without cache.")),
    "pr": (("--pr",), dict(metavar="N", help="Coolify: deploy pull request N's preview.")),
    "docker_tag": (
        ("--docker-tag",),
        dict(metavar="TAG", help="Coolify: image tag for a Docker-image app (with --pr)."),
    ),
    "name": (
        ("--name",),
        dict(
            multiple=True,
            metavar="NAME",
            help="Resource name(s), looked up through the API: NAME, PROJECT/NAME or PROJECT/ENVIRONMENT/NAME.",
        ),
    ),
    "application_id": (("--application-id",), dict(multiple=True, metavar="ID", help="Dokploy application id(s).")),
    "compose_id": (("--compose-id",), dict(multiple=True, metavar="ID", help="Dokploy compose id(s).")),
    "title": (("--title",), dict(metavar="TEXT", help="Dokploy deployment title (default names the CI run).")),
    "description": (("--description",), dict(metavar="TEXT", help="Dokploy deployment description.")),
    "image_tag": (
        ("--image-tag",),
        dict(metavar="TAG", help="Deploy exactly this image tag: set on each Docker-image resource before the deploy."),
    ),
    "commit": (("--commit",), dict(metavar="SHA", help="Coolify: deploy exactly this commit of a git application.")),
    "env": (
        ("--env",),
        dict(
            multiple=True,
            metavar="KEY=VALUE",
            help="Set this variable on the resource before the deploy; repeat. Values are never printed.",
        ),
    ),
    "rollback_on_failure": (
        ("--rollback-on-failure",),
        dict(
            is_flag=True,
            default=None,
            help="When the new version fails, set back and deploy the previous one (the run still fails).",
        ),
    ),
    "compose_file": (
        ("--compose-file",),
        dict(
            metavar="PATH",
            help="Create or update the stack --name PROJECT/ENVIRONMENT/NAME (Dokploy: or --compose-id) "
            "from this compose file, then deploy it.",
        ),
    ),
    "server": (
        ("--server",),
        dict(metavar="NAME", help="Coolify: the server of a stack to create (default: the only one)."),
    ),
    "force_domain_override": (
        ("--force-domain-override",),
        dict(is_flag=True, default=None, help="Coolify: create or update the stack even when its domains are in use."),
    ),
    "config": (
        ("--config",),
        dict(
            metavar="PATH",
            help="YAML file describing environments and their targets (no secrets in it) [DEPLOYER_CONFIG].",
        ),
    ),
    "environment": (
        ("--environment",),
        dict(metavar="NAME", help="Which environment of the config file to deploy [DEPLOYER_ENVIRONMENT]."),
    ),
    "wait": (("--wait/--no-wait",), dict(default=None, help="Follow deployments to their end (default: wait).")),
    "timeout": (
        ("--timeout",),
        dict(metavar="DURATION", help="Give up waiting after this: 90, 90s, 15m, 1h (default 15m)."),
    ),
    "poll_interval": (
        ("--poll-interval",),
        dict(metavar="DURATION", help="Longest pause between status checks (default 5s)."),
    ),
    "cancel_on_timeout": (
        ("--cancel-on-timeout",),
        dict(is_flag=True, default=None, help="Cancel deployments still running at the timeout, where the server can."),
    ),
    "logs": (
        ("--logs",),
        dict(
            metavar="stream|on-failure|none",
            help="Build logs: live, the tail of failed ones, or none (default stream).",
        ),
    ),
    "health_url": (
        ("--health-url",),
        dict(
            multiple=True,
            metavar="URL",
            help="After every deployment finished, wait until this URL answers 2xx (within the timeout).",
        ),
    ),
    "wait_healthy": (
        ("--wait-healthy",),
        dict(
            is_flag=True,
            default=None,
            help="Coolify: after a deployment finished, wait until the application is running:healthy.",
        ),
    ),
    "github_token": (
        ("--github-token",),
        dict(
            metavar="TOKEN",
            help="Record the deploy as a GitHub deployment (needs 'deployments: write') [DEPLOYER_GITHUB_TOKEN].",
        ),
    ),
    "github_environment": (
        ("--github-environment",),
        dict(metavar="NAME", help="The GitHub environment to record it in (default: --environment, else production)."),
    ),
    "request_budget": (
        ("--request-budget",),
        dict(
            metavar="N",
            help="Most API requests a minute while following (default 120; Coolify allows 200) "
            "[DEPLOYER_REQUEST_BUDGET].",
        ),
    ),
    "ca_cert": (
        ("--ca-cert",),
        dict(metavar="PATH", help="Trust this CA bundle (self-signed instances) [DEPLOYER_CA_CERT]."),
    ),
    "insecure": (("--insecure",), dict(is_flag=True, default=None, help="Skip TLS verification (warns).")),
    "dry_run": (
        ("--dry-run",),
        dict(
            is_flag=True,
            default=None,
            help="Show what would be deployed and where each setting came from; send nothing.",
        ),
    ),
    "output": (
        ("--output",),
        dict(metavar="text|json", help="json: the result document on stdout, progress on stderr."),
    ),
    "dotenv": (("--dotenv",), dict(metavar="PATH", help="Also write GitLab dotenv outputs here [DEPLOYER_DOTENV].")),
}

#: How `deploy --help` groups its options: (title, the first option of the group).
DEPLOY_GROUPS = [
    ("Server", "provider"),
    ("What to deploy", "uuid"),
    ("Version and variables", "image_tag"),
    ("Stack from a compose file", "compose_file"),
    ("Config file", "config"),
    ("Waiting and logs", "wait"),
    ("Health", "health_url"),
    ("GitHub", "github_token"),
    ("Connection", "request_budget"),
    ("Output", "dry_run"),
]

#: The options of the commands about one deployment (status, cancel), with help in their words.
SERVER_OPTIONS = {
    "provider": "Which server; inferred when only COOLIFY_URL or DOKPLOY_URL is set.",
    "url": "The instance's base URL [COOLIFY_URL, DOKPLOY_URL].",
    "token": None,
    "config": "Take the server from this config file [DEPLOYER_CONFIG].",
    "environment": "... and this environment of it [DEPLOYER_ENVIRONMENT].",
    "application_id": "Dokploy: the application the deployment belongs to (else every one is searched).",
    "compose_id": "Dokploy: the compose stack the deployment belongs to.",
    "ca_cert": "Trust this CA bundle [DEPLOYER_CA_CERT].",
    "insecure": None,
    "output": "json: the deployment as one JSON object on stdout.",
}


def _apply(func: F, chosen: list[tuple[str, str | None]]) -> F:
    for name, help_text in reversed(chosen):
        flags, keywords = OPTIONS[name]
        func = click.option(*flags, **(dict(keywords, help=help_text) if help_text else keywords))(func)
    return func


def deploy_options(func: F) -> F:
    """Every option: the deploy command's."""
    return _apply(func, [(name, None) for name in OPTIONS])


def server_options(func: F) -> F:
    """The options that say which server: for commands about one deployment."""
    return _apply(func, list(SERVER_OPTIONS.items()))


class GroupedOptions(click.Command):
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


class DeployCommand(GroupedOptions):
    groups = DEPLOY_GROUPS
