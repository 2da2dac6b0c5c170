"""`deployer plan`: the config file's targets as a list, to fan a large fleet out across CI jobs.

Each entry is one target of one environment and carries exactly what `deployer deploy --config`
needs to deploy that target alone (`--environment` plus one of `--name`, `--uuid`, `--tag`,
`--application-id`, `--compose-id`), as a GitHub Actions matrix or a GitLab child pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import closing, nullcontext
from typing import Any

from deployer import __version__
from deployer.errors import InputError
from deployer.model import ResourceName
from deployer.safe_text import one_line

TARGET_OPTIONS = ("name", "uuid", "tag", "application-id", "compose-id")
GITLAB_MATRIX_MAX = 200  # GitLab runs at most 200 jobs from one parallel:matrix
IMAGE = f"ghcr.io/deployer-dev/deployer:v{__version__}"


def targets(
    config_path: str, environments: list[str], env: Mapping[str, str], *, resolve: bool = False
) -> list[dict[str, str]]:
    """One entry per target of each environment asked for (every environment, when none is asked)."""
    from deployer.config import file as config_file
    from deployer.config.settings import resolve as resolve_settings
    from deployer.providers import make_provider

    loaded = config_file.load(config_path)
    for name in environments:
        if name not in loaded:
            config_file.pick(loaded, name, config_path, env)  # says which environments there are
    entries: list[dict[str, str]] = []
    for name in environments or list(loaded):
        environment = loaded[name].expanded(env)  # the targets only: no token or option is read
        settings = resolve_settings({"config": config_path, "environment": name}, env) if resolve else None
        provider_name = settings.provider if settings else _provider_of(environment, env)
        with closing(make_provider(settings)) if settings and settings.names else nullcontext() as provider:
            entries += [_entry(name, provider_name, ref, provider) for ref in environment.resources]
    return entries


def settings_text(config_path: str, environments: list[str]) -> str:
    """Each environment's settings as the file gives them, and where (FILE:LINE). Values are shown
    as written, before expansion: a token is a `${VAR}` reference, never a value."""
    from deployer.config import file as config_file

    loaded = config_file.load(config_path)
    lines = []
    for name in environments or list(loaded):
        if name not in loaded:
            continue
        lines.append(f"{one_line(name)}:")
        for key, (value, where) in sorted(loaded[name].options.items()):
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            shown = "***" if key == "token" and "${" not in text else one_line(text)
            lines.append(f"  {key.replace('_', '-'):<18} {shown:<40} {where}")
    return "\n".join(lines)


def _entry(environment: str, provider_name: str, ref: Any, provider: Any) -> dict[str, str]:
    """One target as a matrix entry: its environment and exactly one target option; a name becomes
    its id when a provider is given to look it up."""
    entry = {"environment": environment, "provider": provider_name, "target": ref.value}
    entry.update({option: "" for option in TARGET_OPTIONS})
    if ref.key != "name":
        entry[ref.key] = ref.value
        return entry
    qualified = "/".join(p for p in (ref.project, ref.environment, ref.value) if p)
    entry["target"] = qualified
    if provider is not None:
        found = provider.find(ResourceName(ref.value, ref.kind, ref.project, ref.environment, ref.where))
        entry["uuid" if provider_name == "coolify" else f"{found.kind}-id"] = found.id
    elif ref.kind:
        raise InputError(
            f"{ref.where}: a name with a kind cannot be passed on as --name; "
            "run plan with --resolve to pass its id instead"
        )
    else:
        entry["name"] = qualified
    return entry


def _provider_of(environment: Any, env: Mapping[str, str]) -> str:
    """The environment's provider as far as the file and the environment tell, without the API."""
    given = environment.options.get("provider")
    if given:
        return str(given[0])
    keys = {r.key for r in environment.resources}
    if keys & {"uuid", "tag"}:
        return "coolify"
    if keys & {"application-id", "compose-id"}:
        return "dokploy"
    urls = [name for name in ("COOLIFY_URL", "DOKPLOY_URL") if env.get(name, "").strip()]
    return urls[0].split("_")[0].lower() if len(urls) == 1 else ""


def github_matrix(entries: list[dict[str, str]]) -> str:
    """`{"include": [...]}` on one line: `strategy.matrix: ${{ fromJSON(...) }}` takes it as is."""
    return json.dumps({"include": entries}, separators=(",", ":"), ensure_ascii=False)


def gitlab_pipeline(entries: list[dict[str, str]], config_path: str) -> str:
    """A child pipeline whose `parallel:matrix` runs one deploy job per target (200 per job at most)."""
    import yaml

    rows = []
    for entry in entries:
        option = next(o for o in TARGET_OPTIONS if entry[o])
        rows.append({"DEPLOYER_ENVIRONMENT": entry["environment"], "TARGET_OPTION": option, "TARGET": entry[option]})
    pipeline: dict[str, Any] = {"variables": {"DEPLOYER_CONFIG": config_path}}
    chunks = [rows[i : i + GITLAB_MATRIX_MAX] for i in range(0, len(rows), GITLAB_MATRIX_MAX)] or [[]]
    for number, chunk in enumerate(chunks, start=1):
        job: dict[str, Any] = {
            "image": {"name": IMAGE, "entrypoint": [""]},
            "script": ['deployer deploy "--$TARGET_OPTION" "$TARGET" --dotenv deploy.env'],
            "artifacts": {"when": "always", "reports": {"dotenv": "deploy.env"}},
        }
        if chunk:
            job["parallel"] = {"matrix": chunk}
        else:
            job["script"] = ['echo "deployer plan: nothing to deploy"']
            del job["artifacts"]
        pipeline["deploy" if len(chunks) == 1 else f"deploy-{number}"] = job
    header = "# Generated by `deployer plan --output gitlab`: one deploy job per target.\n"
    return header + yaml.safe_dump(pipeline, sort_keys=False, default_flow_style=False, allow_unicode=True)


def text_table(entries: list[dict[str, str]]) -> str:
    """For a person: environment, provider, how the target is given."""
    lines = []
    for entry in entries:
        given = ", ".join(
            f"--{o} {one_line(entry[o])}" for o in TARGET_OPTIONS if entry[o]
        )  # ids may come from the server
        lines.append(f"{one_line(entry['environment']):<14} {entry['provider']:<8} {given}")
    return "\n".join(lines) if lines else "(no targets)"
