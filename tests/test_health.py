"""The health gate: after every deployment finished, the app must answer (or Coolify must say healthy)."""

from __future__ import annotations

import json
import time
from typing import Any

from werkzeug import Response

from deployer.simulator.coolify import SimResource
from deployer.simulator.dokploy import SimTarget
from tests.runner_files import read_github_output as outputs_of

TOKEN = "root-token"


def args(sim: Any, *extra: str) -> list[str]:
    return ["deploy", "--provider", "coolify", "--url", sim.url, "--token", TOKEN, "--poll-interval", "0.5s", *extra]


def app(name: str, **options: Any) -> SimResource:
    options.setdefault("queue_seconds", 0.0)
    options.setdefault("build_seconds", 0.3)
    return SimResource(name, **options)


def answers(httpserver: Any, path: str, *statuses: int, body: str = "") -> list[float]:
    """Answer `path` with these statuses in turn (the last one from then on); returns when each came."""
    seen: list[float] = []

    def handle(request: Any) -> Response:
        seen.append(time.monotonic())
        return Response(body, status=statuses[min(len(seen), len(statuses)) - 1])

    httpserver.expect_request(path).respond_with_handler(handle)
    return seen


def test_health_url_is_waited_for_until_it_answers_2xx(coolify, run, httpserver, tmp_path):
    web = app("web")
    sim = coolify([web])
    seen = answers(httpserver, "/healthz", 503, 503, 200)
    out = tmp_path / "out"
    result = run(
        *args(sim, "--uuid", web.uuid, "--health-url", httpserver.url_for("/healthz")), env={"GITHUB_OUTPUT": str(out)}
    )
    assert result.exit_code == 0, result.output
    assert len(seen) == 3 and f"{httpserver.url_for('/healthz')} is healthy: HTTP 200 OK" in result.stdout
    outputs = outputs_of(out)
    entries = json.loads(outputs["result"])
    assert [e["kind"] for e in entries] == ["application", "health-check"] and entries[1]["status"] == "finished"
    assert outputs["deployment-ids"] == sim.deployments[0].uuid  # a check is not a deployment
    assert "Result: finished (1 deployment(s), 1 health check(s)" in result.stdout
    # Probed only once the deployment had finished:
    assert result.stdout.index("web: finished") < result.stdout.index("waiting for http")


def test_health_url_that_stays_unhealthy_fails_the_deploy_with_its_last_answer(coolify, run, httpserver, tmp_path):
    web = app("web")
    sim = coolify([web])
    answers(httpserver, "/healthz", 503, body="<html><body>upstream\nnot ready</body></html>")
    out = tmp_path / "out"
    started = time.monotonic()
    result = run(
        *args(sim, "--uuid", web.uuid, "--health-url", httpserver.url_for("/healthz"), "--timeout", "3s"),
        env={"GITHUB_OUTPUT": str(out)},
    )
    assert result.exit_code == 1
    assert time.monotonic() - started < 3 + 2  # within the timeout (and one probe)
    assert (
        "was not healthy within the timeout; last answer: HTTP 503 SERVICE UNAVAILABLE: <html><body>upstream not ready"
        in result.stdout.replace("Service Unavailable", "SERVICE UNAVAILABLE")
    )
    outputs = outputs_of(out)
    assert outputs["status"] == "failed"
    assert json.loads(outputs["result"])[0]["status"] == "finished"  # the deployment itself did finish


def test_unreachable_health_url_fails_with_why(coolify, run):
    web = app("web")
    sim = coolify([web])
    result = run(*args(sim, "--uuid", web.uuid, "--health-url", "http://127.0.0.1:9/healthz", "--timeout", "2s"))
    assert result.exit_code == 1 and "last answer: no answer (ConnectError" in result.stdout


def test_no_health_check_when_a_deployment_failed(coolify, run, httpserver):
    broken = app("broken", outcome="failed")
    sim = coolify([broken])
    seen = answers(httpserver, "/healthz", 200)
    result = run(*args(sim, "--uuid", broken.uuid, "--health-url", httpserver.url_for("/healthz")))
    assert result.exit_code == 1 and not seen
    assert "health checks skipped: not every deployment finished" in result.stdout


def test_wait_healthy_waits_for_coolifys_running_healthy(coolify, run, tmp_path):
    web = app("web", healthy_after=1.2)
    sim = coolify([web])
    result = run(*args(sim, "--uuid", web.uuid, "--wait-healthy"))
    assert result.exit_code == 0, result.output
    assert "web (Coolify's health check) is healthy: Coolify reports running:healthy" in result.stdout
    polls = [r for r in sim.requests if r.path == f"/api/v1/applications/{web.uuid}"]
    assert len(polls) >= 2  # it really waited through running:unhealthy


def test_wait_healthy_fails_an_app_that_never_gets_healthy(coolify, run, tmp_path):
    web = app("web", healthy_after=None)
    sim = coolify([web])
    out = tmp_path / "out"
    result = run(*args(sim, "--uuid", web.uuid, "--wait-healthy", "--timeout", "2s"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 1
    [entry] = json.loads(outputs_of(out)["result"])
    assert entry["status"] == "failed"
    assert entry["message"].startswith(
        "deployed, but web (Coolify's health check) was not healthy within the timeout; "
        "last answer: Coolify reports running:unhealthy"
    )


def test_wait_healthy_without_a_health_check_asks_the_apps_domain(coolify, run, httpserver):
    seen = answers(httpserver, "/", 502, 200)
    web = app("web", health_check=False, fqdn=httpserver.url_for("/") + "," + "https://www.example.invalid")
    sim = coolify([web])
    result = run(*args(sim, "--uuid", web.uuid, "--wait-healthy"))
    assert result.exit_code == 0, result.output
    assert len(seen) == 2 and "running:unknown (no health check)" in result.stdout


def test_wait_healthy_without_health_check_or_domain_says_it_cannot_tell(coolify, run):
    web = app("web", health_check=False)
    sim = coolify([web])
    result = run(*args(sim, "--uuid", web.uuid, "--wait-healthy"))
    assert result.exit_code == 0 and "no health check and no domain" in result.stdout


def test_wait_healthy_is_refused_for_dokploy(run):
    result = run(
        "deploy",
        "--provider",
        "dokploy",
        "--url",
        "https://d.example.com",
        "--token",
        "k",
        "--application-id",
        "a",
        "--wait-healthy",
    )
    assert result.exit_code == 2 and "use --health-url" in result.stderr


def test_dokploy_with_health_urls_from_the_config(dokploy, run, httpserver, tmp_path):
    web = SimTarget("web", build_seconds=0.2)
    sim = dokploy([web])
    first, second = answers(httpserver, "/a", 200), answers(httpserver, "/b", 204)
    config = tmp_path / "deployer.yml"
    config.write_text(
        f"environments:\n  prod:\n    provider: dokploy\n    url: {sim.url}\n    poll-interval: 0.2s\n"
        f"    resources: [{{application-id: {web.id}}}]\n"
        f"    health-url:\n      - {httpserver.url_for('/a')}\n      - {httpserver.url_for('/b')}\n"
    )
    result = run("deploy", "--config", str(config), env={"DOKPLOY_API_KEY": "dokploy-key"})
    assert result.exit_code == 0, result.output
    assert len(first) == 1 and len(second) == 1


def test_health_url_must_be_http(run):
    result = run(
        "deploy",
        "--provider",
        "coolify",
        "--url",
        "https://c.example.com",
        "--token",
        "t",
        "--uuid",
        "u",
        "--health-url",
        "ftp://x",
    )
    assert result.exit_code == 2 and "is not an http(s) URL" in result.stderr
