"""GitHub Deployments (opt-in): a fake GitHub API on 127.0.0.1 (pytest-httpserver), every request
checked against what GitHub's REST documentation says these endpoints take."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from werkzeug import Request, Response

from deployer.simulator.coolify import SimResource

TOKEN = "root-token"
GITHUB_TOKEN = "ghs_faketoken0123456789abcdef"
SHA = "0123456789abcdef0123456789abcdef01234567"

# From docs.github.com/en/rest/deployments (API version 2022-11-28): "Create a deployment" and
# "Create a deployment status" request bodies.
CREATE_DEPLOYMENT = {
    "type": "object",
    "required": ["ref"],
    "additionalProperties": False,
    "properties": {
        "ref": {"type": "string"},
        "task": {"type": "string"},
        "auto_merge": {"type": "boolean"},
        "required_contexts": {"type": "array", "items": {"type": "string"}},
        "payload": {"type": ["object", "string"]},
        "environment": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "transient_environment": {"type": "boolean"},
        "production_environment": {"type": "boolean"},
    },
}
CREATE_STATUS = {
    "type": "object",
    "required": ["state"],
    "additionalProperties": False,
    "properties": {
        "state": {"enum": ["error", "failure", "inactive", "in_progress", "queued", "pending", "success"]},
        "target_url": {"type": "string"},
        "log_url": {"type": "string"},
        "description": {"type": "string", "maxLength": 140},
        "environment": {"type": "string"},
        "environment_url": {"type": "string"},
        "auto_inactive": {"type": "boolean"},
    },
}


class FakeGitHub:
    """Answers the two endpoints as GitHub does (201 with the created object) and checks each request."""

    def __init__(self, httpserver: Any, repository: str = "acme/shop", create_status: int = 201) -> None:
        self.server = httpserver
        self.repository = repository
        self.deployments: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.create_status = create_status
        httpserver.expect_request(f"/repos/{repository}/deployments", method="POST").respond_with_handler(self.create)
        httpserver.expect_request(f"/repos/{repository}/deployments/4242/statuses", method="POST").respond_with_handler(
            self.status
        )

    def _check(self, request: Request, schema: dict[str, Any]) -> dict[str, Any]:
        if request.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
            self.problems.append("no Bearer token")
        if request.headers.get("Accept") != "application/vnd.github+json":
            self.problems.append(f"Accept is {request.headers.get('Accept')}")
        if request.headers.get("X-GitHub-Api-Version") != "2022-11-28":
            self.problems.append("no X-GitHub-Api-Version")
        body = json.loads(request.get_data())
        for error in jsonschema.Draft7Validator(schema).iter_errors(body):
            self.problems.append(f"{request.path}: {error.message}")
        return body

    def create(self, request: Request) -> Response:
        body = self._check(request, CREATE_DEPLOYMENT)
        if self.create_status != 201:
            return Response(
                json.dumps(
                    {
                        "message": "Resource not accessible by integration",
                        "documentation_url": "https://docs.github.com/rest",
                    }
                ),
                status=self.create_status,
                content_type="application/json",
            )
        self.deployments.append(body)
        return Response(
            json.dumps({"id": 4242, "ref": body["ref"], "environment": body.get("environment")}),
            status=201,
            content_type="application/json",
        )

    def status(self, request: Request) -> Response:
        self.statuses.append(self._check(request, CREATE_STATUS))
        return Response(
            json.dumps({"id": len(self.statuses), "state": self.statuses[-1]["state"]}),
            status=201,
            content_type="application/json",
        )

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_SHA": SHA,
            "GITHUB_RUN_ID": "777",
            "GITHUB_SERVER_URL": "https://github.example.com",
            "GITHUB_API_URL": self.server.url_for("").rstrip("/"),
            "INPUT_GITHUB-TOKEN": GITHUB_TOKEN,
            **extra,
        }


@pytest.fixture
def github(httpserver: Any) -> Any:
    fake = FakeGitHub(httpserver)
    yield fake
    assert not fake.problems, fake.problems


def token_shown(output: str) -> list[str]:
    """Lines carrying the GitHub token, apart from the `::add-mask::` command the runner consumes."""
    return [line for line in output.splitlines() if GITHUB_TOKEN in line and line != f"::add-mask::{GITHUB_TOKEN}"]


def args(sim: Any, *extra: str) -> list[str]:
    return ["deploy", "--provider", "coolify", "--url", sim.url, "--token", TOKEN, "--poll-interval", "0.2s", *extra]


def app(name: str, **options: Any) -> SimResource:
    return SimResource(name, queue_seconds=0.0, build_seconds=0.3, **options)


def test_a_successful_deploy_is_recorded_in_progress_then_success(coolify, run, github, httpserver):
    web = app("web")
    sim = coolify([web])
    httpserver.expect_request("/healthz").respond_with_data("ok")
    result = run(
        *args(sim, "--uuid", web.uuid, "--environment", "staging", "--health-url", httpserver.url_for("/healthz")),
        env=github.env(),
    )
    assert result.exit_code == 0, result.output
    [created] = github.deployments
    assert created["ref"] == SHA and created["environment"] == "staging"
    assert created["auto_merge"] is False and created["required_contexts"] == []
    assert created["production_environment"] is False and created["transient_environment"] is False
    assert [s["state"] for s in github.statuses] == ["in_progress", "success"]
    final = github.statuses[-1]
    assert final["log_url"] == "https://github.example.com/acme/shop/actions/runs/777"
    assert final["environment_url"] == httpserver.url_for("/")
    assert not token_shown(result.output)


def test_the_deployment_is_in_progress_before_the_trigger(coolify, run, github):
    web = app("web")
    sim = coolify([web])
    seen_at_trigger: list[int] = []
    original = sim.deploy

    def deploy(request: Any, permissions: Any) -> Any:
        seen_at_trigger.append(len(github.statuses))
        return original(request, permissions)

    sim.deploy = deploy
    assert run(*args(sim, "--uuid", web.uuid), env=github.env()).exit_code == 0
    assert seen_at_trigger == [1]  # the in_progress status was set before Coolify was asked


def test_failed_deploy_is_a_failure_and_says_why(coolify, run, github):
    broken = app("broken", outcome="failed")
    sim = coolify([broken])
    result = run(*args(sim, "--uuid", broken.uuid), env=github.env())
    assert result.exit_code == 1
    final = github.statuses[-1]
    assert final["state"] == "failure" and final["description"].startswith("failed after")
    assert "broken: the deployment failed" in final["description"] and len(final["description"]) <= 140
    assert github.deployments[0]["environment"] == "production"  # GitHub's default name when none is given


def test_timeout_is_an_error(coolify, run, github):
    slow = SimResource("slow", queue_seconds=0.0, build_seconds=30)
    sim = coolify([slow])
    assert run(*args(sim, "--uuid", slow.uuid, "--timeout", "1s"), env=github.env()).exit_code == 4
    assert github.statuses[-1]["state"] == "error"


def test_pull_request_preview_is_recorded_on_the_prs_head_commit(coolify, run, github, tmp_path):
    web = app("web", pull_requests=(7,))
    sim = coolify([web])
    event = tmp_path / "event.json"
    head = "feedface" * 5
    event.write_text(json.dumps({"pull_request": {"number": 7, "head": {"sha": head, "ref": "feature"}}}))
    result = run(
        *args(sim, "--uuid", web.uuid, "--pr", "7"),
        env=github.env(GITHUB_EVENT_PATH=str(event), **{"INPUT_GITHUB-ENVIRONMENT": "preview-7"}),
    )
    assert result.exit_code == 0, result.output
    created = github.deployments[0]
    assert created["ref"] == head and created["environment"] == "preview-7" and created["transient_environment"] is True


def test_config_environment_names_the_github_environment(coolify, run, github, tmp_path):
    web = app("web")
    sim = coolify([web])
    config = tmp_path / "deployer.yml"
    config.write_text(
        f"environments:\n  production:\n    provider: coolify\n    url: {sim.url}\n"
        f"    poll-interval: 0.2s\n    resources: [{{uuid: {web.uuid}}}]\n"
    )
    result = run("deploy", "--config", str(config), env=github.env(COOLIFY_TOKEN=TOKEN))
    assert result.exit_code == 0, result.output
    assert github.deployments[0]["environment"] == "production"
    assert github.deployments[0]["production_environment"] is True


def test_github_refusing_is_a_warning_not_a_failed_deploy(coolify, run, httpserver):
    fake = FakeGitHub(httpserver, create_status=403)
    web = app("web")
    sim = coolify([web])
    result = run(*args(sim, "--uuid", web.uuid), env=fake.env())
    assert result.exit_code == 0, result.output
    assert (
        "GitHub answered 403 while creating the GitHub deployment: Resource not accessible by integration"
        in result.output
    )
    assert "permissions: deployments: write" in result.output
    assert not fake.statuses and not token_shown(result.output)


def test_github_unreachable_is_a_warning(coolify, run):
    web = app("web")
    sim = coolify([web])
    env = {
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_SHA": SHA,
        "GITHUB_API_URL": "http://127.0.0.1:9",
        "DEPLOYER_GITHUB_TOKEN": GITHUB_TOKEN,
    }
    result = run(*args(sim, "--uuid", web.uuid), env=env)
    assert result.exit_code == 0 and "could not reach GitHub while creating the GitHub deployment" in result.output


def test_outside_github_actions_the_token_is_noted_and_unused(coolify, run, httpserver):
    web = app("web")
    sim = coolify([web])
    result = run(*args(sim, "--uuid", web.uuid, "--github-token", GITHUB_TOKEN))
    assert result.exit_code == 0
    assert "not a GitHub Actions run" in result.output and not httpserver.log
