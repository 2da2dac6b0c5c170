"""`--output json`: one document on stdout at every exit, the same fields for both providers, and a
JSON Schema in the repo (deployer/result.schema.json) that every exit path validates against."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from deployer.simulator.coolify import SimResource
from deployer.simulator.dokploy import SimTarget

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "deployer" / "result.schema.json").read_text())


def document_of(result) -> dict:
    """stdout holds exactly one JSON document, valid against the schema, carrying the exit code."""
    document = json.loads(result.stdout)  # one document and nothing else, or this raises
    jsonschema.validate(document, SCHEMA)
    assert document["exit_code"] == result.exit_code
    return document


def coolify_args(sim, *extra: str, token: str = "root-token") -> list[str]:
    return [
        "deploy",
        "--provider",
        "coolify",
        "--url",
        sim.url,
        "--token",
        token,
        "--poll-interval",
        "0.2s",
        "--output",
        "json",
        *extra,
    ]


def dokploy_args(sim, *extra: str) -> list[str]:
    return [
        "deploy",
        "--provider",
        "dokploy",
        "--url",
        sim.url,
        "--token",
        "dokploy-key",
        "--poll-interval",
        "0.2s",
        "--output",
        "json",
        *extra,
    ]


@pytest.mark.parametrize(
    "outcome, code, status", [("finished", 0, "finished"), ("failed", 1, "failed"), ("cancelled", 1, "cancelled")]
)
def test_coolify_ends(coolify, run, outcome, code, status):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.3, outcome=outcome)
    sim = coolify([web])
    document = document_of(run(*coolify_args(sim, "--uuid", web.uuid)))
    assert (document["exit_code"], document["status"]) == (code, status)
    [entry] = document["result"]
    assert entry["name"] == "web" and entry["resource"] == web.uuid and entry["started_at"] and entry["finished_at"]


@pytest.mark.parametrize("outcome, code, status", [("done", 0, "finished"), ("error", 1, "failed")])
def test_dokploy_ends_with_the_same_fields(dokploy, run, outcome, code, status):
    web = SimTarget("web", build_seconds=0.3, outcome=outcome)
    sim = dokploy([web])
    document = document_of(run(*dokploy_args(sim, "--application-id", web.id)))
    assert (document["exit_code"], document["status"]) == (code, status)
    [entry] = document["result"]
    assert entry["name"] == "web" and entry["resource"] == web.id and entry["started_at"] and entry["finished_at"]


def test_dokploy_unknown(dokploy, run):
    web = SimTarget("web", build_seconds=0.05)
    sim = dokploy([web], queue_delay=0.3, old_version=True)
    sim.after_deploy.append(lambda target: sim.enqueue(target, outcome="error", build_seconds=0.05))
    document = document_of(run(*dokploy_args(sim, "--application-id", web.id)))
    assert document["status"] == "unknown" and document["exit_code"] == 1


def test_bad_input(run):
    document = document_of(
        run(
            "deploy",
            "--provider",
            "coolify",
            "--url",
            "https://c.example.com",
            "--token",
            "t0ken-abc",
            "--output",
            "json",
        )
    )
    assert document["exit_code"] == 2 and document["error"]["message"].startswith("nothing to deploy")
    assert document["result"] == []


def test_server_unusable(coolify, run):
    sim = coolify([SimResource("web")])
    document = document_of(run(*coolify_args(sim, "--uuid", "a1", token="wrong-token")))
    assert document["exit_code"] == 3 and "refused the token" in document["error"]["message"]


def test_timeout(coolify, run):
    web = SimResource("web", queue_seconds=0.1, build_seconds=30)
    sim = coolify([web])
    document = document_of(run(*coolify_args(sim, "--uuid", web.uuid, "--timeout", "1s")))
    assert document["exit_code"] == 4 and document["status"] == "timeout"


def test_a_sink_that_cannot_be_written(coolify, run):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.2)
    sim = coolify([web])
    document = document_of(run(*coolify_args(sim, "--uuid", web.uuid), env={"GITHUB_OUTPUT": "/dev/full"}))
    assert document["exit_code"] == 5 and document["status"] == "finished"


def test_no_wait(coolify, run):
    web = SimResource("web", queue_seconds=0.1, build_seconds=5)
    sim = coolify([web])
    document = document_of(run(*coolify_args(sim, "--uuid", web.uuid, "--no-wait")))
    assert document["exit_code"] == 0 and document["status"] == "queued"


def test_health_check_entries(coolify, run, httpserver):
    httpserver.expect_request("/healthz").respond_with_data("ok")
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.2)
    sim = coolify([web])
    document = document_of(run(*coolify_args(sim, "--uuid", web.uuid, "--health-url", httpserver.url_for("/healthz"))))
    assert [e["kind"] for e in document["result"]] == ["application", "health-check"]


@pytest.mark.parametrize("command", ["status", "cancel"])
def test_status_and_cancel_print_a_document_on_error_too(coolify, run, command):
    sim = coolify([SimResource("web")])
    result = run(
        command,
        "nosuchdeployment",
        "--provider",
        "coolify",
        "--url",
        sim.url,
        "--token",
        "root-token",
        "--output",
        "json",
    )
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    assert document["exit_code"] == 3 and "no deployment" in document["error"]["message"]


def test_in_a_github_job_bad_input_is_an_annotation_and_stdout_stays_one_document(run):
    env = {
        "GITHUB_ACTIONS": "true",
        "INPUT_PROVIDER": "coolify",
        "INPUT_URL": "https://c.example.com",
        "INPUT_TOKEN": "t0ken-abc",
    }
    result = run("deploy", "--output", "json", env=env)
    assert result.exit_code == 2
    document_of(result)  # stdout: the document alone
    assert "::error title=deployer::nothing to deploy" in result.stderr


def test_a_usage_error_is_one_document_too(run):
    result = run("deploy", "--no-such-option", "--output", "json")
    assert result.exit_code == 2
    document = document_of(result)
    assert "no-such-option" in document["error"]["message"]
