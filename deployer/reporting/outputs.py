"""Step outputs for the CI platforms: GITHUB_OUTPUT, a GitLab dotenv file, and the JSON document."""

from __future__ import annotations

import json
import uuid
from typing import Any

from deployer.model import Deployment
from deployer.safe_text import one_line

DOTENV_KEYS = {
    "status": "DEPLOY_STATUS",
    "deployment-id": "DEPLOY_ID",
    "deployment-ids": "DEPLOY_IDS",
    "deployment-url": "DEPLOY_URL",
    "duration": "DEPLOY_DURATION",
    "version": "DEPLOY_VERSION",
    "rolled-back": "DEPLOY_ROLLED_BACK",
    "resource-id": "DEPLOY_RESOURCE_ID",
    "created": "DEPLOY_CREATED",
}


def step_outputs(
    status: str,
    duration: int,
    deployments: list[Deployment],
    version: str | None = None,
    rolled_back: bool | None = None,
    resource_id: str | None = None,
    created: bool | None = None,
) -> dict[str, str]:
    """The outputs of CONTRACT.md, as the strings a later step reads; `version` and `rolled-back`
    only when the run set a version (--image-tag, --commit)."""
    ids = [one_line(d.deployment_id) for d in deployments if d.deployment_id]
    first_url = next((one_line(d.url) for d in deployments if d.url), None)
    outputs = {
        "status": status,
        "deployment-id": ids[0] if ids else "",
        "deployment-ids": ",".join(ids),
        "deployment-url": first_url or "",
        "duration": str(duration),
    }
    if version is not None:
        outputs["version"] = one_line(version)
    if rolled_back is not None:
        outputs["rolled-back"] = "true" if rolled_back else "false"
    if created is not None:
        outputs["resource-id"] = one_line(resource_id or "")
        outputs["created"] = "true" if created else "false"
    outputs["result"] = json.dumps([d.as_result() for d in deployments], separators=(",", ":"), ensure_ascii=False)
    return outputs


def github_output_text(outputs: dict[str, str]) -> str:
    """The heredoc form the official toolkit writes: `name<<ghadelimiter_<uuid4>` ... delimiter."""
    chunks = []
    for name, value in outputs.items():
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        while delimiter in value or delimiter in name:  # never true for a random uuid, but cheap to keep
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
        chunks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(chunks)


DOTENV_LIMIT = 5000  # GitLab refuses a dotenv report of 5 KB or more


def _dotenv_value(value: str) -> str:
    """No spaces, newlines or other non-printable characters (GitLab would reject the report)."""
    return "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in value)


def dotenv_text(outputs: dict[str, str]) -> str:
    """`KEY=VALUE` lines GitLab accepts: no blank or comment lines, no spaces or newlines in values,
    under 5 KB. Past that, DEPLOY_IDS keeps the whole ids that fit (every id is in the result output)."""
    values = {
        key: _dotenv_value(outputs.get(name, ""))[:1000]
        for name, key in DOTENV_KEYS.items()
        if key != "DEPLOY_IDS" and name in outputs
    }
    ids = _dotenv_value(outputs.get("deployment-ids", ""))
    room = DOTENV_LIMIT - sum(len(f"{k}={v}\n".encode()) for k, v in values.items()) - len("DEPLOY_IDS=\n")
    while len(ids.encode()) > room:
        ids = ids.rsplit(",", 1)[0] if "," in ids else ""
    values["DEPLOY_IDS"] = ids
    return "".join(f"{key}={values[key]}\n" for key in DOTENV_KEYS.values() if key in values)


def json_document(
    outputs: dict[str, str], deployments: list[Deployment], error: str | None, exit_code: int = 0
) -> dict[str, Any]:
    """The `--output json` document: every output as a field, `result` as a real array, the exit
    code, and an `error` object when the run failed for a reason of its own."""
    document: dict[str, Any] = {key: value for key, value in outputs.items() if key != "result"}
    document["duration"] = int(outputs["duration"])
    document["result"] = [d.as_result() for d in deployments]
    document["exit_code"] = exit_code
    if error:
        document["error"] = {"message": one_line(error), "exit_code": exit_code}
    return document
