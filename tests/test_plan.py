"""`deployer plan`: the config file's targets as a CI matrix, and the matrix recipe end to end."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployer.simulator.coolify import SimResource
from tests.runner_files import check_jsonschema

TOKEN = "root-token"


def resource(name: str, **options: Any) -> SimResource:
    options.setdefault("queue_seconds", 0.1)
    options.setdefault("build_seconds", 0.3)
    return SimResource(name, **options)


def fleet_config(tmp_path: Path, url: str, extra: str = "") -> str:
    path = tmp_path / "deployer.yml"
    path.write_text(f"""\
x-server: &server
  provider: coolify
  url: {url}
  poll-interval: 0.2s
environments:
  staging:
    <<: *server
    resources:
      - {{name: api, project: acme, environment: staging}}
      - {{name: web, project: acme, environment: staging}}
  production:
    <<: *server
    token: ${{PRODUCTION_TOKEN}}
    resources:
      - {{name: api, project: acme, environment: production}}
      - tag: workers
{extra}""")
    return str(path)


def test_json_is_a_github_matrix_whose_jobs_each_deploy_one_target(coolify, run, tmp_path):
    fleet = [
        resource("api", environment="staging"),
        resource("web", environment="staging"),
        resource("api", environment="production"),
        resource("w1", tags=("workers",)),
    ]
    sim = coolify(fleet)
    path = fleet_config(tmp_path, sim.url)
    result = run("plan", "--config", path, "--output", "json")  # no token needed to plan
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1  # one line: fits `echo "matrix=..." >> $GITHUB_OUTPUT`
    matrix = json.loads(result.stdout)
    assert [(e["environment"], e["target"]) for e in matrix["include"]] == [
        ("staging", "acme/staging/api"),
        ("staging", "acme/staging/web"),
        ("production", "acme/production/api"),
        ("production", "workers"),
    ]
    # Each matrix job, as the action runs it: the matrix values arrive as inputs ("" = not given).
    for entry in matrix["include"]:
        env = {
            "INPUT_CONFIG": path,
            "INPUT_ENVIRONMENT": entry["environment"],
            "COOLIFY_TOKEN": TOKEN,
            "PRODUCTION_TOKEN": TOKEN,
        }
        env.update(
            {f"INPUT_{key.upper()}": entry[key] for key in ("name", "uuid", "tag", "application-id", "compose-id")}
        )
        job = run("deploy", env=env)
        assert job.exit_code == 0, job.output
    triggers = [(r.query.get("uuid") or r.query.get("tag"))[0] for r in sim.requests if r.path == "/api/v1/deploy"]
    assert triggers == [fleet[0].uuid, fleet[1].uuid, fleet[2].uuid, "workers"]  # each target once, alone


def test_environment_filter_and_text_output(run, tmp_path):
    path = fleet_config(tmp_path, "https://c.example.com")
    result = run("plan", "--config", path, "--environment", "production")
    assert result.exit_code == 0
    targets = result.stdout.split("\n\n", 1)[0]  # the settings follow after a blank line
    assert targets.splitlines() == [
        "production     coolify  --name acme/production/api",
        "production     coolify  --tag workers",
    ]
    assert "\nstaging:" not in result.stdout  # only the environment asked for
    result = run("plan", "--config", path, "--environment", "prod")
    assert result.exit_code == 2 and "did you mean 'production'?" in result.stderr


def test_resolve_looks_names_up_and_lists_ids(coolify, run, tmp_path):
    api = resource("api", environment="staging")
    sim = coolify([api, resource("web", environment="staging")])
    path = fleet_config(tmp_path, sim.url)
    result = run(
        "plan",
        "--config",
        path,
        "--environment",
        "staging",
        "--output",
        "json",
        "--resolve",
        env={"COOLIFY_TOKEN": TOKEN},
    )
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)["include"][0]
    assert first["uuid"] == api.uuid and first["name"] == "" and first["target"] == "acme/staging/api"
    assert not any(r.path == "/api/v1/deploy" for r in sim.requests)  # planning deploys nothing


def test_plan_without_a_config_file_is_bad_input(run):
    result = run("plan")
    assert result.exit_code == 2 and "no config file: pass --config or set DEPLOYER_CONFIG" in result.stderr


def test_gitlab_child_pipeline_fans_out_through_parallel_matrix(run, tmp_path):
    path = fleet_config(tmp_path, "https://c.example.com")
    result = run("plan", "--config", path, "--output", "gitlab")
    assert result.exit_code == 0
    pipeline = yaml.safe_load(result.stdout)
    assert pipeline["variables"]["DEPLOYER_CONFIG"] == path
    rows = pipeline["deploy"]["parallel"]["matrix"]
    assert rows[0] == {"DEPLOYER_ENVIRONMENT": "staging", "TARGET_OPTION": "name", "TARGET": "acme/staging/api"}
    assert rows[-1] == {"DEPLOYER_ENVIRONMENT": "production", "TARGET_OPTION": "tag", "TARGET": "workers"}
    assert pipeline["deploy"]["image"]["entrypoint"] == [""]
    checker = check_jsonschema()
    if checker:  # installed by .ci/run: the same offline validator CI-NOTES.md names
        child = tmp_path / "child.yml"
        child.write_text(result.stdout)
        subprocess.run(
            [checker, "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci", str(child)],
            check=True,
            capture_output=True,
        )


def test_gitlab_splits_more_than_200_targets_into_several_jobs(run, tmp_path):
    items = "\n".join(f"      - uuid: u{i:04d}" for i in range(450))
    path = tmp_path / "deployer.yml"
    path.write_text(f"environments:\n  fleet:\n    provider: coolify\n    resources:\n{items}\n")
    pipeline = yaml.safe_load(run("plan", "--config", str(path), "--output", "gitlab").stdout)
    sizes = [len(pipeline[job]["parallel"]["matrix"]) for job in ("deploy-1", "deploy-2", "deploy-3")]
    assert sizes == [200, 200, 50]


@pytest.mark.parametrize("output", ["text", "json", "gitlab"])
def test_plan_reads_no_secret_and_needs_no_server(run, tmp_path, output):
    path = fleet_config(tmp_path, "${COOLIFY_URL}")
    assert run("plan", "--config", path, "--output", output).exit_code == 0  # neither URL nor tokens set


def test_plan_shows_where_each_setting_comes_from(run):
    from pathlib import Path

    example = str(Path(__file__).resolve().parent.parent / "examples" / "deployer.yml")
    result = run("plan", "--config", example, env={"COOLIFY_URL": "https://c.example.com"})
    assert result.exit_code == 0, result.output
    settings = result.stdout.split("Settings from the file", 1)[1]
    assert re.search(r"^  timeout\s+20m\s+\S*deployer\.yml:\d+", settings, re.M)
    assert re.search(r"^  token\s+\$\{COOLIFY_TOKEN_PRODUCTION\}\s", settings, re.M)  # the reference, never a value
