"""Request-level expectations with pytest-httpserver: exactly what goes on the wire, and how
odd answers (HTML, redirects, bad JSON, auth errors) read to the user."""

from __future__ import annotations

import json

import pytest
from werkzeug import Response


def deploy(run, server, *extra: str, token: str = "tok-123"):
    return run(
        "deploy", "--url", server.url_for("/"), "--token", token, "--poll-interval", "0.1s", "--timeout", "5s", *extra
    )


def deployment_row(status: str, logs: list | None = None) -> dict:
    row = {
        "deployment_uuid": "d1",
        "status": status,
        "application_name": "web",
        "deployment_url": "/project/p/environment/e/application/a1/deployment/d1",
    }
    if logs is not None:
        row["logs"] = json.dumps(logs)
    return row


def test_trigger_sends_one_comma_separated_uuid_and_omits_force(httpserver, run):
    httpserver.expect_ordered_request(
        "/api/v1/deploy",
        method="POST",
        query_string={"uuid": "a1,b2"},
        headers={"Authorization": "Bearer tok-123", "Accept": "application/json"},
    ).respond_with_json(
        {
            "deployments": [
                {"message": "Application web deployment queued.", "resource_uuid": "a1", "deployment_uuid": "d1"},
                {"message": "Application api deployment queued.", "resource_uuid": "b2", "deployment_uuid": "d2"},
            ]
        }
    )
    result = deploy(run, httpserver, "--uuid", "a1", "--uuid", "b2", "--no-wait")
    assert result.exit_code == 0, result.output
    httpserver.check_assertions()


def test_trigger_sends_force_pr_and_docker_tag(httpserver, run):
    httpserver.expect_request(
        "/api/v1/deploy",
        method="POST",
        query_string={"uuid": "a1", "force": "true", "pull_request_id": "12", "docker_tag": "pr-12"},
    ).respond_with_json(
        {
            "deployments": [
                {"message": "Application web deployment queued.", "resource_uuid": "a1", "deployment_uuid": "d1"}
            ]
        }
    )
    result = deploy(run, httpserver, "--uuid", "a1", "--force", "--pr", "12", "--docker-tag", "pr-12", "--no-wait")
    assert result.exit_code == 0, result.output
    httpserver.check_assertions()


def test_log_entries_are_printed_once_hidden_ones_skipped_first_without_order(httpserver, run):
    first = {"command": None, "output": "Starting deployment.", "type": "stdout", "hidden": False, "batch": 1}
    hidden = {
        "command": "docker ps",
        "output": "INTERNAL-ONLY",
        "type": "stdout",
        "hidden": True,
        "batch": 1,
        "order": 2,
    }
    multi = {"command": None, "output": "line A\nline B", "type": "stderr", "hidden": False, "batch": 1, "order": 3}
    httpserver.expect_request("/api/v1/deploy", method="POST").respond_with_json(
        {
            "deployments": [
                {"message": "Application web deployment queued.", "resource_uuid": "a1", "deployment_uuid": "d1"}
            ]
        }
    )
    answers = iter(
        [
            deployment_row("in_progress", [first]),
            deployment_row("in_progress", [first, hidden]),
            deployment_row("finished", [first, hidden, multi]),
        ]
    )
    httpserver.expect_request("/api/v1/deployments/d1", method="GET").respond_with_handler(
        lambda request: Response(json.dumps(next(answers)), content_type="application/json")
    )
    result = deploy(run, httpserver, "--uuid", "a1")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Starting deployment.") == 1
    assert "INTERNAL-ONLY" not in result.stdout
    assert "line A" in result.stdout and "line B" in result.stdout
    assert httpserver.url_for("/project/p/environment/e/application/a1/deployment/d1") in result.stdout


@pytest.mark.parametrize("suffix", ["", "/", "/api", "/api/v1", "/api/v1/"])
def test_url_suffixes_are_tolerated(httpserver, run, suffix):
    httpserver.expect_request("/api/v1/deploy", method="POST").respond_with_json(
        {
            "deployments": [
                {"message": "Application web deployment queued.", "resource_uuid": "a1", "deployment_uuid": "d1"}
            ]
        }
    )
    base = httpserver.url_for("/").rstrip("/")
    result = run("deploy", "--url", base + suffix, "--token", "t0k", "--uuid", "a1", "--no-wait")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "status, body, content_type, expected",
    [
        (401, {"message": "Unauthenticated."}, "application/json", "refused the token"),
        (403, {"message": "API is disabled."}, "application/json", "API is disabled."),
        (403, {"message": "You are not allowed to access the API."}, "application/json", "allow-list"),
        (404, {"message": "Not found.", "docs": "https://coolify.io/docs"}, "application/json", "not at this address"),
        (404, {"message": "No resources found."}, "application/json", "found nothing to deploy"),
        (405, {"message": "This endpoint has changed to a POST request."}, "application/json", "POST"),
        (200, "<html><body>Sign in</body></html>", "text/html", "HTML page"),
        (200, '{"deployments": [', "application/json", "invalid JSON"),
        (502, "<html>Bad gateway</html>", "text/html", "502"),
    ],
)
def test_error_answers_read_as_one_line_exit_3(httpserver, run, status, body, content_type, expected):
    payload = body if isinstance(body, str) else json.dumps(body)
    httpserver.expect_request("/api/v1/deploy", method="POST").respond_with_data(
        payload, status=status, content_type=content_type
    )
    result = deploy(run, httpserver, "--uuid", "a1")
    assert result.exit_code == 3, result.output
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert "tok-123" not in result.stdout + result.stderr


def test_a_redirect_is_not_followed_with_the_token(httpserver, run):
    httpserver.expect_request("/api/v1/deploy", method="POST").respond_with_data(
        "", status=302, headers={"Location": "https://login.example.com/"}
    )
    result = deploy(run, httpserver, "--uuid", "a1")
    assert result.exit_code == 3
    assert "redirected to https://login.example.com/" in result.stderr
    assert len(httpserver.log) == 1


def test_a_bad_combination_the_server_refuses_is_exit_2(httpserver, run):
    httpserver.expect_request("/api/v1/deploy", method="POST").respond_with_json(
        {"message": "docker_tag requires pull_request_id."}, status=400
    )
    result = deploy(run, httpserver, "--uuid", "a1")
    assert result.exit_code == 2
    assert "docker_tag requires pull_request_id." in result.stderr


def test_a_timeout_while_triggering_is_not_retried(httpserver, run):
    """The request may have reached the server: trying again could deploy twice."""
    import time

    calls = []

    def slow(request):
        calls.append(request.path)
        time.sleep(2)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/api/v1/deploy", method="POST").respond_with_handler(slow)
    result = run("deploy", "--url", httpserver.url_for("/"), "--token", "tok-123", "--uuid", "a1", "--timeout", "1s")
    assert result.exit_code == 3
    assert "no answer" in result.stderr
    assert calls == ["/api/v1/deploy"]
