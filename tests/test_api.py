"""deployer as a library: the README's example runs as written, results are typed, events arrive in
order, and a test can hand the HTTP client an httpx.MockTransport."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import deployer
from deployer.events import Event, Finished, LogLines, Started, StatusChanged, Triggered
from deployer.simulator.coolify import SimResource

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "root-token"


def _readme_library_example() -> str:
    section = (ROOT / "README.md").read_text().split("\n## As a library", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```python\n(.*?)```", section, re.S)
    return block


def test_the_readme_library_example_runs_as_written(coolify):
    sim = coolify([SimResource("web", queue_seconds=0.2, build_seconds=0.6)])
    env = {**os.environ, "COOLIFY_URL": sim.url, "COOLIFY_TOKEN": TOKEN}
    done = subprocess.run(
        [sys.executable, "-c", _readme_library_example()], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "web: finished" in lines
    assert "finished 0" in lines  # result.status, result.exit_code
    assert any("Rolling update completed." in line for line in lines)  # the build log, through LogLines
    assert TOKEN not in done.stdout + done.stderr


def test_deploy_returns_typed_results_and_emits_events_in_order(coolify):
    web = SimResource("web", queue_seconds=0.2, build_seconds=0.6)
    sim = coolify([web])
    events: list[Event] = []
    result = deployer.deploy(
        provider="coolify", url=sim.url, token=TOKEN, uuid=[web.uuid], poll_interval=1, on_event=events.append
    )
    assert result.ok and result.exit_code == deployer.ExitStatus.SUCCESS
    assert result.status is deployer.Status.FINISHED
    [d] = result.deployments
    assert isinstance(d, deployer.Deployment) and d.status is deployer.Status.FINISHED
    assert d.deployment_id == sim.deployments[0].uuid
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[-1] is Finished
    assert kinds.index(Triggered) < kinds.index(StatusChanged) and LogLines in kinds
    assert [e.deployment.status for e in events if isinstance(e, StatusChanged)][-1] == "finished"
    final = events[-1]
    assert isinstance(final, Finished) and final.exit_code == 0 and final.deployments == result.deployments


def test_a_failed_deployment_is_a_result_not_an_exception(coolify):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.3, outcome="failed")
    sim = coolify([web])
    result = deployer.deploy(provider="coolify", url=sim.url, token=TOKEN, uuid=[web.uuid], poll_interval=1)
    assert (result.status, result.exit_code, result.ok) == ("failed", 1, False)
    assert result.deployments[0].log_tail  # the end of the build log, for the caller to show


def test_bad_options_raise_input_error_before_anything_is_sent(coolify):
    sim = coolify([SimResource("web")])
    with pytest.raises(deployer.InputError, match="--timeout"):
        deployer.deploy(provider="coolify", url=sim.url, token=TOKEN, uuid=["x"], timeout="soon")
    assert sim.requests == []


def test_the_library_reads_no_environment_unless_given(coolify, monkeypatch):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.3)
    sim = coolify([web])
    monkeypatch.setenv("COOLIFY_URL", sim.url)
    monkeypatch.setenv("COOLIFY_TOKEN", TOKEN)
    with pytest.raises(deployer.InputError):
        deployer.deploy(provider="coolify", uuid=["x"])  # the process environment is not the caller's intent
    assert sim.requests == []
    result = deployer.deploy(uuid=[web.uuid], env=dict(os.environ), poll_interval=1)
    assert result.status == "finished"


def test_status_follow_and_cancel_of_one_deployment(coolify):
    web = SimResource("web", queue_seconds=0.1, build_seconds=1.0)
    sim = coolify([web])
    server = {"provider": "coolify", "url": sim.url, "token": TOKEN}
    started = deployer.deploy(uuid=[web.uuid], wait=False, **server)
    deployment_id = started.deployments[0].deployment_id
    assert deployment_id and started.status == "queued"
    seen: list[str] = []
    followed = deployer.follow(
        deployment_id, poll_interval=1, on_event=lambda e: seen.append(type(e).__name__), **server
    )
    assert followed.status == "finished" and "StatusChanged" in seen
    assert deployer.status(deployment_id, **server).status == "finished"
    with pytest.raises(deployer.DeployerError):
        deployer.cancel(deployment_id, **server)  # it already ended


def test_a_mock_transport_stands_in_for_the_server():
    sent: list[str] = []

    def coolify(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        if request.url.path == "/api/v1/deploy":
            queued = {
                "message": "Application web deployment queued.",
                "resource_uuid": "app1",
                "deployment_uuid": "dep1",
            }
            return httpx.Response(200, json={"deployments": [queued]})
        if request.url.path == "/api/v1/deployments/dep1":
            row = {
                "deployment_uuid": "dep1",
                "status": "failed",
                "application_name": "web",
                "logs": json.dumps([{"output": "npm ERR! build failed", "hidden": False}]),
            }
            return httpx.Response(200, json=row)
        if request.url.path.startswith("/api/v1/deployments/applications/"):
            return httpx.Response(200, json={"count": 0, "deployments": []})
        return httpx.Response(404, json={"message": "Not found."})

    lines: list[str] = []

    def collect(event: Any) -> None:
        if isinstance(event, LogLines):
            lines.extend(event.lines)

    result = deployer.deploy(
        provider="coolify",
        url="https://coolify.test",
        token="t0ken",
        uuid=["app1"],
        transport=httpx.MockTransport(coolify),
        on_event=collect,
    )
    assert (result.status, result.exit_code) == ("failed", 1)
    assert result.deployments[0].name == "web"
    assert lines == ["npm ERR! build failed"]
    assert sent[0] == "POST /api/v1/deploy" and sent.count("POST /api/v1/deploy") == 1
