"""End to end through the CLI against the simulated Dokploy: finding and following OUR deployment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import Any

import pytest

from deployer.simulator.dokploy import SimTarget
from tests.runner_files import read_github_output as outputs_of

KEY = "dokploy-key"


def args(sim: Any, *extra: str, key: str = KEY) -> list[str]:
    return ["deploy", "--provider", "dokploy", "--url", sim.url, "--token", key, "--poll-interval", "0.2s", *extra]


def app(name: str, **options: Any) -> SimTarget:
    options.setdefault("build_seconds", 0.6)
    return SimTarget(name, **options)


def later(seconds: float, action: Any) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()
    return timer


def test_success_follows_the_new_row_and_streams_its_log_once(dokploy, run, tmp_path):
    web = app("web")
    sim = dokploy([web])
    out = tmp_path / "out"
    result = run(*args(sim, "--application-id", web.id), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Initializing deployment") == 1 and "✅ Nixpacks build completed." in result.stdout
    assert "web: finished" in result.stdout  # named, not by id
    [job] = sim.jobs
    outputs = outputs_of(out)
    assert outputs["status"] == "finished" and outputs["deployment-id"] == job.deployment_id


def test_requests_use_the_rest_mapping_with_the_api_key(dokploy, run):
    web = app("web")
    sim = dokploy([web])
    assert run(*args(sim, "--application-id", web.id, "--title", "Release 1.2")).exit_code == 0
    deploys = [r for r in sim.requests if r.path == "/api/application.deploy"]
    assert [r.method for r in deploys] == ["POST"]
    body = deploys[0].json()
    assert body["applicationId"] == web.id and body["title"] == "Release 1.2"
    assert "[deployer " in body["description"]
    assert deploys[0].headers["content-type"] == "application/json"
    assert all(r.headers.get("x-api-key") == KEY and "authorization" not in r.headers for r in sim.requests)
    assert not any(r.path.startswith("/api/trpc") or "input" in r.query for r in sim.requests)


def test_default_title_names_the_ci_run(dokploy, run):
    web = app("web")
    sim = dokploy([web])
    env = {
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_REF_NAME": "main",
        "GITHUB_SHA": "1a2b3c4d5e6f",
        "GITHUB_RUN_ID": "987",
    }
    assert run(*args(sim, "--application-id", web.id), env=env).exit_code == 0
    assert sim.jobs[0].title == "deployer: acme/shop@main 1a2b3c4 run 987"


def test_build_error_exits_1_with_the_log_tail(dokploy, run, tmp_path):
    web = app("web", outcome="error")
    sim = dokploy([web])
    out = tmp_path / "out"
    result = run(*args(sim, "--application-id", web.id, "--logs", "on-failure"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 1
    assert "Error occurred ❌, check the logs for details." in result.stdout
    assert "build log" in result.stdout
    assert "Step 1/10" not in result.stdout.split("build log")[0]  # nothing streamed before the tail
    assert outputs_of(out)["status"] == "failed"


def test_stale_done_with_a_queued_job_waits_for_this_deployment(dokploy, run, tmp_path):
    """The previous deploy said done; ours is queued behind another build and then fails."""
    busy, web = app("busy", build_seconds=1.5), app("web", outcome="error", previous=1)
    sim = dokploy([busy, web])
    sim.enqueue(busy, "someone else's deploy", "")
    old_id = sim.jobs[0].deployment_id
    out = tmp_path / "out"
    result = run(*args(sim, "--application-id", web.id), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 1, result.output
    outputs = outputs_of(out)
    assert outputs["status"] == "failed"
    assert outputs["deployment-id"] not in ("", old_id)
    assert outputs["deployment-id"] == sim.jobs[-1].deployment_id
    assert any(r.path == "/api/deployment.queueList" for r in sim.requests)


def test_two_applications_at_once_through_one_build_queue(dokploy, run, tmp_path):
    a, b = app("api"), app("front")
    sim = dokploy([a, b])
    out = tmp_path / "out"
    result = run(*args(sim, "--application-id", f"{a.id} {b.id}"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0, result.output
    items = json.loads(outputs_of(out)["result"])
    assert [i["status"] for i in items] == ["finished", "finished"]
    assert outputs_of(out)["deployment-ids"] == ",".join(j.deployment_id for j in sim.jobs)


def test_compose_stack(dokploy, run, tmp_path):
    stack = app("stack", kind="compose")
    sim = dokploy([stack])
    out = tmp_path / "out"
    result = run(*args(sim, "--compose-id", stack.id), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0, result.output
    [item] = json.loads(outputs_of(out)["result"])
    assert (item["kind"], item["status"]) == ("compose", "finished")
    assert any(r.path == "/api/deployment.allByCompose" for r in sim.requests)


def test_bad_key_is_exit_3_and_mentions_the_key_rate_limit(dokploy, run):
    sim = dokploy([app("web")])
    result = run(*args(sim, "--application-id", "x", key="wrong-key-123"))
    assert result.exit_code == 3
    assert "refused the API key" in result.stderr and "rateLimitEnabled" in result.stderr
    assert "wrong-key-123" not in result.stdout + result.stderr
    assert sim.deploy_calls == 0


def test_key_without_access_is_a_permission_error(dokploy, run):
    web = app("web")
    sim = dokploy([web], keys={"limited": {"other"}})
    result = run(*args(sim, "--application-id", web.id, key="limited"))
    assert result.exit_code == 3
    assert "You don't have access to this service" in result.stderr


def test_unknown_id_is_not_found_and_nothing_is_deployed(dokploy, run):
    web = app("web")
    sim = dokploy([web])
    result = run(*args(sim, "--application-id", f"{web.id},nope", "--output", "json"))
    document = json.loads(result.stdout)
    assert result.exit_code == 3
    by_id = {r["resource"]: r for r in document["result"]}
    assert by_id["nope"]["status"] == "failed" and "Application not found" in by_id["nope"]["message"]
    assert by_id[web.id]["status"] == "finished"
    assert sim.deploy_calls == 1
    assert (
        "Triggered 1 deployment(s)" in result.stderr
        and "nope: not deployed: Dokploy has no application" in result.stderr
    )


def test_a_trigger_for_an_id_that_does_not_exist_does_not_say_triggered(dokploy, run):
    sim = dokploy([app("web")])
    result = run(*args(sim, "--application-id", "nope"))
    assert result.exit_code == 3
    assert "Triggered" not in result.stdout and "Nothing was deployed" in result.stdout


def test_row_rotated_away_is_reported_not_guessed(dokploy, run):
    web = app("web", build_seconds=3)
    sim = dokploy([web])
    later(1.2, lambda: sim.rotate_out(web))
    result = run(*args(sim, "--application-id", web.id))
    assert result.exit_code == 3
    assert "no longer listed" in result.stdout + result.stderr


def test_restart_while_running_is_cancelled(dokploy, run, tmp_path):
    web = app("web", build_seconds=5)
    sim = dokploy([web])
    later(1.2, sim.restart)
    out = tmp_path / "out"
    result = run(*args(sim, "--application-id", web.id), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 1
    assert outputs_of(out)["status"] == "cancelled"
    assert "server restart" in result.stdout


def test_cancel_on_timeout_says_it_cannot_and_never_kills_every_build(dokploy, run, tmp_path):
    web = app("web", build_seconds=30)
    sim = dokploy([web])
    out = tmp_path / "out"
    result = run(
        *args(sim, "--application-id", web.id, "--timeout", "1.5s", "--cancel-on-timeout"),
        env={"GITHUB_OUTPUT": str(out)},
    )
    assert result.exit_code == 4
    assert "cannot cancel" in result.stdout
    assert not sim.killed_every_build
    assert not any("cancel" in r.path.lower() or "kill" in r.path.lower() for r in sim.requests)
    assert outputs_of(out)["status"] == "timeout"


def test_old_server_without_readlogs_still_streams_the_log_over_its_socket(dokploy, run):
    web = app("web")
    sim = dokploy([web], old_version=True)
    result = run(*args(sim, "--application-id", web.id, "--logs", "stream"))
    assert result.exit_code == 0, result.output
    assert result.stdout.count("✅ Nixpacks build completed.") == 1
    assert "readLogs" not in result.stdout
    assert not any(r.path == "/api/deployment.readLogs" for r in sim.requests)


def test_old_server_without_readlogs_nor_socket_says_so_once_and_still_follows(dokploy, run):
    web = app("web")
    sim = dokploy([web], old_version=True, log_socket="refused")
    result = run(*args(sim, "--application-id", web.id, "--logs", "stream"))
    assert result.exit_code == 0, result.output
    assert result.stdout.count("no deployment.readLogs") == 1
    assert result.stdout.count("live log could not be used (the server answered 404 instead of opening it)") == 1


def test_no_wait_returns_queued(dokploy, run, tmp_path):
    web = app("web", build_seconds=10)
    sim = dokploy([web])
    out = tmp_path / "out"
    result = run(*args(sim, "--application-id", web.id, "--no-wait"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0
    assert outputs_of(out)["status"] == "queued"
    assert sim.deploy_calls == 1


def test_dokploy_from_action_inputs_and_environment(dokploy, run, tmp_path):
    web = app("web")
    sim = dokploy([web])
    out = tmp_path / "out"
    env = {
        "DOKPLOY_URL": sim.url,
        "DOKPLOY_TOKEN": KEY,
        "INPUT_APPLICATION-ID": web.id,
        "INPUT_POLL-INTERVAL": "0.2s",
        "GITHUB_OUTPUT": str(out),
    }
    result = run("deploy", env=env)
    assert result.exit_code == 0, result.output
    assert outputs_of(out)["status"] == "finished"


# -- whose deployment is it? Another deploy of the same application around ours -------------------

OUTCOME_PAIRS = [("done", "error"), ("error", "done"), ("done", "done"), ("error", "error")]


@pytest.mark.parametrize("other, ours", OUTCOME_PAIRS)
def test_another_deployment_queued_just_before_ours_is_never_taken_for_ours(dokploy, run, tmp_path, other, ours):
    """A webhook deploy queued ahead of ours: its row appears first and carries no marker (a git
    application's title and description are overwritten when it ends). Only ours decides the run."""
    web = app("web", outcome=ours, build_seconds=0.8, previous=2)
    sim = dokploy([web])
    theirs = sim.enqueue(web, "NEW CHANGES", "", outcome=other, build_seconds=1.0)
    out = tmp_path / "out"
    result = run(*args(sim, "--application-id", web.id), env={"GITHUB_OUTPUT": str(out)})
    mine = sim.jobs[-1]
    assert mine is not theirs and "[deployer " in mine.description
    assert result.exit_code == (0 if ours == "done" else 1), result.output
    outputs = outputs_of(out)
    assert outputs["deployment-id"] == mine.deployment_id != theirs.deployment_id
    assert outputs["status"] == ("finished" if ours == "done" else "failed")


@pytest.mark.parametrize("other, ours", OUTCOME_PAIRS)
def test_another_deployment_triggered_just_after_ours_is_not_ours_either(dokploy, run, tmp_path, other, ours):
    web = app("web", outcome=ours, build_seconds=0.8)
    sim = dokploy([web])
    later_jobs: list[Any] = []
    sim.after_deploy.append(lambda target: later_jobs.append(sim.enqueue(target, "NEW CHANGES", "", outcome=other)))
    out = tmp_path / "out"
    result = run(*args(sim, "--application-id", web.id), env={"GITHUB_OUTPUT": str(out)})
    [theirs] = later_jobs
    mine = next(j for j in sim.jobs if "[deployer " in j.description)
    assert result.exit_code == (0 if ours == "done" else 1), result.output
    assert outputs_of(out)["deployment-id"] == mine.deployment_id != theirs.deployment_id


def test_rows_that_cannot_be_told_apart_are_unknown_not_guessed(dokploy, run, tmp_path):
    """A server too old to list its queue, and both deployments ended (their markers overwritten)
    between two checks: deployer says so, names both, and fails the step rather than report the
    other's outcome as its own."""
    web = app("web", outcome="done", build_seconds=0.05)
    sim = dokploy([web], queue_delay=0.3, old_version=True)
    sim.after_deploy.append(lambda target: sim.enqueue(target, "NEW CHANGES", "", outcome="error", build_seconds=0.05))
    out = tmp_path / "out"
    result = run(*args(sim, "--application-id", web.id), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 1, result.output
    outputs = outputs_of(out)
    assert outputs["status"] == "unknown"
    [item] = json.loads(outputs["result"])
    assert item["status"] == "unknown"
    for job in sim.jobs:
        assert job.deployment_id in item["message"]


def test_two_deployer_runs_on_one_application_each_follow_their_own(dokploy, tmp_path):
    """Two CI jobs deploy the same application at once: each reports the deployment it started."""
    web = app("web", build_seconds=0.8)
    sim = dokploy([web])
    runs = []
    for n in range(2):
        out = tmp_path / f"out{n}"
        env = {"PATH": os.environ.get("PATH", ""), "GITHUB_OUTPUT": str(out), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "deployer", *args(sim, "--application-id", web.id, "--title", f"run {n}")]
        runs.append(
            (out, subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        )
    for n, (out, process) in enumerate(runs):
        text, _ = process.communicate(timeout=60)
        assert process.returncode == 0, text
        started = next(j for j in sim.jobs if j.title == f"run {n}")
        assert outputs_of(out)["deployment-id"] == started.deployment_id, text


def test_a_job_lost_in_a_restart_is_a_deployment_that_did_not_happen(dokploy, run, tmp_path):
    """Exit 1 (the deploy did not happen), not 3 (the server is fine)."""
    busy, web = app("busy", build_seconds=30), app("web")
    sim = dokploy([busy, web])
    sim.enqueue(busy, "long build", "")
    later(0.8, sim.restart)
    out = tmp_path / "out"
    result = run(*args(sim, "--application-id", web.id, "--timeout", "20s"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 1, result.output
    assert "lost" in result.stdout and outputs_of(out)["status"] == "failed"


def test_the_queue_job_gives_the_dashboard_link(dokploy, run, tmp_path):
    web = app("web")
    sim = dokploy([web])
    out = tmp_path / "out"
    assert run(*args(sim, "--application-id", web.id), env={"GITHUB_OUTPUT": str(out)}).exit_code == 0
    assert (
        outputs_of(out)["deployment-url"]
        == f"{sim.url}/dashboard/project/prj-acme/environment/env-acme-production/services/application/{web.id}"
    )


def test_an_old_server_without_a_queue_list_waits_for_a_long_queue(dokploy, run):
    """No queue to look at: a row that takes long to appear is waited for, never called lost."""
    busy, web = app("busy", build_seconds=3), app("web")
    sim = dokploy([busy, web], old_version=True)
    sim.enqueue(busy, "long build", "")
    result = run(*args(sim, "--application-id", web.id))
    assert result.exit_code == 0, result.output


def test_a_lost_answer_on_the_second_trigger_keeps_the_first_deployment_followed(dokploy, run, tmp_path):
    """Dokploy takes one deploy call per resource: the first went through, the second's answer was
    lost. The first is still followed to its end; the second says it may have started."""
    from deployer.simulator.server import Faults

    a, b = app("api"), app("front")
    faults = Faults(seed=3, rate=1.0, kinds=("reset_after",))
    sim = dokploy([a, b], faults=faults)
    calls: list[Any] = []

    def second_deploy_only(request, _pick=faults.pick):
        if request.path == "/api/application.deploy":
            calls.append(request)
            return _pick(request) if len(calls) == 2 else None
        return None

    faults.pick = second_deploy_only  # type: ignore[method-assign]
    out = tmp_path / "out"
    result = run(*args(sim, "--application-id", f"{a.id},{b.id}"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 3, result.output
    by_id = {i["resource"]: i for i in json.loads(outputs_of(out)["result"])}
    assert by_id[a.id]["status"] == "finished" and by_id[a.id]["deployment_id"] == sim.jobs[0].deployment_id
    assert "may have started" in by_id[b.id]["message"]
    assert sim.deploy_calls == 2  # never sent again


def test_without_the_queue_the_dashboard_link_comes_from_the_project_list(dokploy, run, tmp_path):
    web = app("web")
    sim = dokploy([web], old_version=True)
    out = tmp_path / "out"
    assert run(*args(sim, "--application-id", web.id), env={"GITHUB_OUTPUT": str(out)}).exit_code == 0
    assert (
        outputs_of(out)["deployment-url"]
        == f"{sim.url}/dashboard/project/prj-acme/environment/env-acme-production/services/application/{web.id}"
    )


def test_a_server_error_in_a_gitlab_job_is_a_red_line(dokploy, run):
    sim = dokploy([app("web")])
    result = run(*args(sim, "--application-id", "x", key="wrong-key-123"), env={"GITLAB_CI": "true"})
    assert result.exit_code == 3
    assert "\x1b[31;1mdeployer: error: Dokploy refused the API key" in result.stderr
