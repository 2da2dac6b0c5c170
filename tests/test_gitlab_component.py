"""The GitLab CI/CD component (templates/deploy.yml): GitLab's schema accepts it, it offers the
action's inputs under the same names, and the job it makes deploys with them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from deployer.simulator.dokploy import SimTarget
from tests.runner_files import check_jsonschema, parse_gitlab_dotenv

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "templates" / "deploy.yml"


def documents() -> tuple[dict, dict]:
    header, job = yaml.safe_load_all(TEMPLATE.read_text())
    return header, job


def test_gitlabs_schema_accepts_both_documents(tmp_path):
    command = check_jsonschema()
    if command is None:
        pytest.skip("check-jsonschema is not installed (.ci/run installs it)")
    header, job = TEMPLATE.read_text().split("\n---\n")
    for index, text in enumerate((header, job)):
        part = tmp_path / f"part{index}.yml"
        part.write_text(text)
        done = subprocess.run(
            [command, "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci", str(part)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_it_offers_the_actions_inputs_under_the_same_names():
    header, job = documents()
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    inputs = set(header["spec"]["inputs"])
    assert inputs - {"stage", "image", "job-name"} == set(action["inputs"])  # the same names, every one
    assert all(spec["default"] == "" for name, spec in header["spec"]["inputs"].items() if name in action["inputs"])
    [deploy] = job.values()
    assert deploy["image"]["entrypoint"] == [""] and deploy["artifacts"]["reports"]["dotenv"] == "deploy.env"
    for name in inputs - {"stage", "image", "job-name"}:
        assert deploy["variables"][f"INPUT_{name.upper().replace('-', '_')}"] == f"$[[ inputs.{name} ]]"


def test_the_job_deploys_with_the_inputs_it_is_given(dokploy, run, tmp_path):
    """What GitLab runs: the job's variables with the inputs filled in, and its script."""
    web = SimTarget("web", build_seconds=0.3)
    sim = dokploy([web])
    _header, job = documents()
    [deploy] = job.values()
    given = {
        "provider": "dokploy",
        "url": sim.url,
        "application-id": web.id,
        "poll-interval": "0.2s",
        "token": "$DOKPLOY_KEY",
    }
    env = {
        key: value.replace(f"$[[ inputs.{name} ]]", given.get(name, ""))
        for key, value in deploy["variables"].items()
        for name in [value[len("$[[ inputs.") : -3]]
    }
    env["INPUT_TOKEN"] = "dokploy-key"  # GitLab expands the variable reference the input passed
    env.update({"GITLAB_CI": "true", "DOKPLOY_KEY": "dokploy-key"})
    [script] = deploy["script"]
    assert script == "deployer deploy --dotenv deploy.env"
    result = run("deploy", "--dotenv", str(tmp_path / "deploy.env"), env=env)
    assert result.exit_code == 0, result.output
    assert parse_gitlab_dotenv((tmp_path / "deploy.env").read_text())["DEPLOY_STATUS"] == "finished"
