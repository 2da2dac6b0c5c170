"""`deploy --dry-run`: what would be deployed, what would change, and where each setting came from.
Nothing is changed or deployed; with --image-tag, --commit or --env the resources are read to show
each change (old -> new, variables' values masked)."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from deployer.config.settings import Settings
from deployer.model import Change, StackChange
from deployer.reporting.redact import MASK
from deployer.reporting.terminal import clean

#: Settings never shown, whatever their source: secrets.
SECRET = frozenset({"token", "github_token"})
_HIDDEN = frozenset({"sources"})
#: Settings fields named as their option (the sources are keyed by option).
_OPTION = {
    "uuids": "uuid",
    "tags": "tag",
    "application_ids": "application_id",
    "compose_ids": "compose_id",
    "names": "name",
    "health_urls": "health_url",
    "env_vars": "env",
}
_SECONDS = frozenset({"timeout", "poll_interval"})


def _shown(name: str, value: Any) -> Any:
    if name in SECRET:
        return MASK if value else None
    if name == "env_vars":
        return [f"{key}={MASK}" for key, _ in value]
    if isinstance(value, list):
        return [str(v) for v in value]
    if name in _SECONDS:
        return f"{value:g}s"
    return value


def settings_table(settings: Settings) -> list[dict[str, Any]]:
    """Every setting with its value (secrets masked) and where it came from ("default" when not given)."""
    rows = []
    for f in fields(settings):
        if f.name in _HIDDEN:
            continue
        key = _OPTION.get(f.name, f.name)
        rows.append(
            {
                "setting": key.replace("_", "-"),
                "value": _shown(f.name, getattr(settings, f.name)),
                "from": settings.sources.get(key, "default"),
            }
        )
    return rows


def targets_text(settings: Settings) -> str:
    parts = []
    for label, values in (
        ("uuid", settings.uuids),
        ("tag", settings.tags),
        ("application-id", settings.application_ids),
        ("compose-id", settings.compose_ids),
        ("name", [str(n) for n in settings.names]),
    ):
        if values:
            parts.append(f"{label} {', '.join(values)}")
    return "; ".join(parts) or "nothing"


def _change_entry(change: Change) -> dict[str, Any]:
    def shown(value: str | None) -> str | None:
        return None if value is None else (MASK if change.secret else value)

    return {
        "resource": change.resource,
        "name": change.label,
        "setting": change.setting,
        "old": shown(change.old),
        "new": shown(change.new),
    }


def describe(
    settings: Settings, *, as_json: bool = False, changes: list[Change] | None = None, stack: StackChange | None = None
) -> str:
    """The dry run's report: one JSON document, or lines for a person; `changes`, where the run
    would change resources, as read from the server."""
    table = settings_table(settings)
    if as_json:
        document: dict[str, Any] = {
            "dry_run": True,
            "provider": settings.provider,
            "url": settings.url,
            "targets": targets_text(settings),
            "settings": table,
        }
        if changes is not None:
            document["changes"] = [_change_entry(c) for c in changes]
        if stack is not None:
            document["stack"] = {
                "name": stack.name,
                "action": stack.action,
                "resource_id": stack.resource_id,
                "diff": stack.diff if stack.action == "update" else "",
            }
        return json.dumps(document, ensure_ascii=False)
    if stack is not None:
        lines = [
            f"Dry run: nothing was changed or deployed on {settings.provider} at {settings.url}.",
            f"Would {stack}.",
        ]
        if stack.action == "update":
            lines += [stack.diff.rstrip("\n")]
    elif changes is None:
        lines = [f"Dry run: nothing was sent to {settings.provider} at {settings.url}."]
    else:
        lines = [
            f"Dry run: nothing was changed or deployed on {settings.provider} at {settings.url} "
            "(the resources to change were only read)."
        ]
        lines += ["Would change:"] + [f"  {clean(str(c))}" for c in changes]
    lines += [
        f"Would deploy: {targets_text(settings)}",
        "Settings (and where each came from):",
    ]
    width = max(len(row["setting"]) for row in table)
    for row in table:
        value = row["value"]
        text = ", ".join(value) if isinstance(value, list) else ("-" if value is None else str(value))
        lines.append(f"  {row['setting']:<{width}}  {clean(text):<30}  {row['from']}")
    return "\n".join(lines)
