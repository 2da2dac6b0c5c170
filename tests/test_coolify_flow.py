"""End to end through the CLI against the simulated Coolify: what a user sees and what CI reads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deployer.simulator.coolify import PHANTOM, SimResource
from tests.runner_files import parse_gitlab_dotenv
from tests.runner_files import read_github_output as outputs_of

TOKEN = "root-token"


def args(sim: Any, *extra: str, token: str = TOKEN) -> list[str]:
    return ["deploy", "--url", sim.url, "--token", token, "--poll-interval", "0.2s", *extra]


def app(name: str, **options: Any) -> SimResource:
    options.setdefault("queue_seconds", 0.2)
    options.setdefault("build_seconds", 0.6)
    return SimResource(name, **options)


def test_success_streams_the_log_once_and_writes_true_outputs(coolify, run, tmp_path):
    web = app("web")
    sim = coolify([web])
    out = tmp_path / "github_output"
    result = run(*args(sim, "--uuid", web.uuid), env={"GITHUB_OUTPUT": str(out)})

    assert result.exit_code == 0, result.output
    assert "Rolling update completed." in result.stdout
    assert result.stdout.count("Starting deployment of acme/web:main") == 1  # printed once, not per poll
    assert "coolify-helper\n" not in result.stdout and "git ls-remote" not in result.stdout  # hidden entries
    deployment = sim.deployments[0]
    outputs = outputs_of(out)
    assert outputs["status"] == "finished"
    assert outputs["deployment-id"] == deployment.uuid
    assert outputs["deployment-ids"] == deployment.uuid
    assert (
        outputs["deployment-url"]
        == f"{sim.url}/project/p1/environment/e1/application/{web.uuid}/deployment/{deployment.uuid}"
    )
    result_items = json.loads(outputs["result"])
    assert [(r["resource"], r["status"], r["kind"]) for r in result_items] == [(web.uuid, "finished", "application")]
    assert int(outputs["duration"]) >= 0


def test_every_trigger_is_a_post_with_json_accept_and_bearer_token(coolify, run):
    web = app("web")
    sim = coolify([web])
    assert run(*args(sim, "--uuid", web.uuid)).exit_code == 0
    triggers = [r for r in sim.requests if r.path == "/api/v1/deploy"]
    assert [r.method for r in triggers] == ["POST"]
    assert all(r.headers["accept"] == "application/json" for r in sim.requests)
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in sim.requests)


def test_failure_exits_1_and_shows_the_log_tail(coolify, run, tmp_path):
    web = app("web", outcome="failed")
    sim = coolify([web])
    out = tmp_path / "out"
    result = run(*args(sim, "--uuid", web.uuid, "--logs", "on-failure"), env={"GITHUB_OUTPUT": str(out)})

    assert result.exit_code == 1
    assert "last" in result.stdout and "build log" in result.stdout
    assert "did not complete successfully: exit code: 1" in result.stdout
    assert outputs_of(out)["status"] == "failed"
    assert sim.status_of(sim.deployments[0]) == "failed"


def test_on_failure_logs_print_nothing_for_a_success(coolify, run):
    web = app("web")
    sim = coolify([web])
    result = run(*args(sim, "--uuid", web.uuid, "--logs", "on-failure"))
    assert result.exit_code == 0
    assert "Rolling update" not in result.stdout


def test_logs_none_prints_no_build_log(coolify, run):
    web = app("web", outcome="failed")
    sim = coolify([web])
    result = run(*args(sim, "--uuid", web.uuid, "--logs", "none"))
    assert result.exit_code == 1
    assert "npm run build" not in result.stdout


def test_cancelled_deployment_exits_1_with_status_cancelled(coolify, run, tmp_path):
    web = app("web", outcome="cancelled")
    sim = coolify([web])
    out = tmp_path / "out"
    result = run(*args(sim, "--uuid", web.uuid), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 1
    assert outputs_of(out)["status"] == "cancelled"


def test_tag_deploy_follows_every_resource_at_once_and_fails_overall(coolify, run, tmp_path):
    api, worker, front = (app(n, tags=("prod",), build_seconds=1.0) for n in ("api", "worker", "front"))
    worker.outcome = "failed"
    sim = coolify([api, worker, front, app("other", tags=("staging",))])
    out = tmp_path / "out"
    result = run(*args(sim, "--tag", "prod"), env={"GITHUB_OUTPUT": str(out)})

    assert result.exit_code == 1
    items = {r["resource"]: r for r in json.loads(outputs_of(out)["result"])}
    assert {u: items[u]["status"] for u in items} == {
        api.uuid: "finished",
        worker.uuid: "failed",
        front.uuid: "finished",
    }
    assert outputs_of(out)["status"] == "failed"
    assert len(outputs_of(out)["deployment-ids"].split(",")) == 3
    # Followed together: all three were in progress before the first one ended.
    lines = result.stdout.splitlines()
    first_end = min(
        i
        for i, line in enumerate(lines)
        if line.endswith(("finished after 1s", "finished after 2s")) or " failed after " in line
    )
    started = [i for i, line in enumerate(lines) if ": in_progress after " in line]
    assert len(started) == 3 and max(started) < first_end


def test_tag_deploy_refusal_for_a_tag_without_resources(coolify, run):
    sim = coolify([app("api", tags=("prod",)), SimResource("db", kind="database", tags=("empty",))])
    result = run(*args(sim, "--tag", "prod,empty", "--output", "json"))
    document = json.loads(result.stdout)
    assert result.exit_code == 1
    messages = [r["message"] for r in document["result"] if r["status"] == "failed"]
    assert messages == ["No resources found for tag empty."]


def test_unknown_tag_is_not_found_exit_3(coolify, run):
    sim = coolify([app("api", tags=("prod",))])
    result = run(*args(sim, "--tag", "nope"))
    assert result.exit_code == 3
    assert "No resources found with this tag." in result.stderr
    assert sim.triggers == 1 and not sim.deployments


@pytest.mark.parametrize("kind", ["service", "database"])
def test_service_or_database_is_followed_through_its_status(coolify, run, tmp_path, kind):
    resource = SimResource("cache", kind=kind, status="exited", build_seconds=0.8)
    sim = coolify([resource])
    out = tmp_path / "out"
    result = run(*args(sim, "--uuid", resource.uuid), env={"GITHUB_OUTPUT": str(out)})

    assert result.exit_code == 0, result.output
    assert "starting:unknown" in result.stdout and "running:healthy" in result.stdout
    [item] = json.loads(outputs_of(out)["result"])
    assert (item["kind"], item["status"], item["deployment_id"]) == (kind, "finished", None)
    assert any(r.path == f"/api/v1/{kind}s/{resource.uuid}" for r in sim.requests)


def test_service_that_never_runs_times_out(coolify, run):
    broken = SimResource("queue", kind="service", status="exited", outcome="failed", build_seconds=0.2)
    sim = coolify([broken])
    result = run(*args(sim, "--uuid", broken.uuid, "--timeout", "1.5s"))
    assert result.exit_code == 4
    assert "timeout" in result.stdout


def test_service_deployed_by_tag_is_found_by_name_and_followed(coolify, run):
    svc = SimResource("plausible", kind="service", status="exited", tags=("prod",), build_seconds=0.5)
    sim = coolify([app("api", tags=("prod",)), svc])
    result = run(*args(sim, "--tag", "prod", "--output", "json"))
    document = json.loads(result.stdout)
    assert result.exit_code == 0, result.stderr
    kinds = {r["kind"]: r for r in document["result"]}
    assert kinds["service"]["resource"] == svc.uuid and kinds["service"]["status"] == "finished"


def test_refused_resource_fails_with_the_servers_message(coolify, run):
    ok, refused = app("web"), app("admin", refusal="Unauthorized to deploy this application.")
    sim = coolify([ok, refused])
    result = run(*args(sim, "--uuid", f"{ok.uuid},{refused.uuid}", "--output", "json"))
    document = json.loads(result.stdout)
    assert result.exit_code == 1
    assert document["status"] == "failed"
    by_id = {r["resource"]: r for r in document["result"]}
    assert by_id[refused.uuid]["status"] == "failed"
    assert by_id[refused.uuid]["message"] == "Unauthorized to deploy this application."
    assert by_id[ok.uuid]["status"] == "finished"  # the other one was still followed to its end


def test_pull_request_not_found_is_a_failure(coolify, run):
    web = app("web", pull_requests=(7,))
    sim = coolify([web])
    result = run(*args(sim, "--uuid", web.uuid, "--pr", "5", "--output", "json"))
    assert result.exit_code == 1
    assert json.loads(result.stdout)["result"][0]["message"] == "Pull request 5 not found for this resource."
    assert sim.requests[0].query["pull_request_id"] == ["5"]


def test_pull_request_preview_is_deployed(coolify, run):
    web = app("web", pull_requests=(7,))
    sim = coolify([web])
    assert run(*args(sim, "--uuid", web.uuid, "--pr", "7")).exit_code == 0
    assert sim.deployments[0].pull_request_id == 7


def test_phantom_uuid_follows_the_queued_deployment_from_history(coolify, run, tmp_path):
    web = app("web", build_seconds=1.5)
    sim = coolify([web])
    first = run(*args(sim, "--uuid", web.uuid, "--no-wait", "--output", "json"))
    real_id = json.loads(first.stdout)["deployment-id"]

    out = tmp_path / "out"
    second = run(*args(sim, "--uuid", web.uuid), env={"GITHUB_OUTPUT": str(out)})
    assert second.exit_code == 0, second.output
    assert PHANTOM in second.stdout
    polled = {r.path.rsplit("/", 1)[-1] for r in sim.requests if r.path.startswith("/api/v1/deployments/")}
    assert polled <= {real_id, web.uuid}  # the phantom uuid is never polled into a 404
    assert outputs_of(out)["deployment-id"] == real_id  # the real one, not the phantom
    assert outputs_of(out)["status"] == "finished"
    assert len(sim.deployments) == 1  # nothing was deployed twice


def test_phantom_uuid_in_a_tag_deploy_recovers_from_the_404(coolify, run, tmp_path):
    web = app("web", tags=("prod",), build_seconds=1.5)
    sim = coolify([web])
    run(*args(sim, "--tag", "prod", "--no-wait"))
    out = tmp_path / "out"
    result = run(*args(sim, "--tag", "prod"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0, result.output
    assert "404" in result.stdout and "from its history" in result.stdout
    assert outputs_of(out)["deployment-id"] == sim.deployments[0].uuid


def test_force_deploys_even_when_one_is_queued(coolify, run):
    web = app("web", build_seconds=1.0)
    sim = coolify([web])
    run(*args(sim, "--uuid", web.uuid, "--no-wait"))
    result = run(*args(sim, "--uuid", web.uuid, "--force"))
    assert result.exit_code == 0
    assert len(sim.deployments) == 2
    assert sim.requests[-1].path != "/api/v1/deploy"
    assert [r.query.get("force") for r in sim.requests if r.path == "/api/v1/deploy"] == [None, ["true"]]


def test_404_on_the_deployment_without_history_is_exit_3(coolify, run, tmp_path):
    ghost = app("ghost", vanishes=True)
    sim = coolify([ghost])
    out = tmp_path / "out"
    result = run(*args(sim, "--uuid", ghost.uuid), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 3
    assert "404" in result.stdout + result.stderr
    assert outputs_of(out)["status"] == "failed"


def test_deploy_only_token_is_told_to_add_read_permission(coolify, run, tmp_path):
    web = app("web")
    sim = coolify([web], tokens={"deploy-only": frozenset({"deploy"})})
    out = tmp_path / "out"
    result = run(*args(sim, "--uuid", web.uuid, token="deploy-only"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 3
    assert "'read' permission" in result.stderr
    assert "Missing required permissions: read" in result.stderr
    outputs = outputs_of(out)
    assert outputs["deployment-id"] == sim.deployments[0].uuid  # the deploy did start: say which
    assert outputs["status"] == "queued"


def test_deploy_only_token_with_no_wait_succeeds(coolify, run):
    web = app("web")
    sim = coolify([web], tokens={"deploy-only": frozenset({"deploy"})})
    assert run(*args(sim, "--uuid", web.uuid, "--no-wait", token="deploy-only")).exit_code == 0


def test_read_token_without_sensitive_says_logs_are_hidden(coolify, run):
    web = app("web")
    sim = coolify([web], tokens={"reader": frozenset({"deploy", "read"})})
    result = run(*args(sim, "--uuid", web.uuid, token="reader"))
    assert result.exit_code == 0
    assert "read:sensitive" in result.stdout
    assert result.stdout.count("read:sensitive") == 1


def test_token_without_deploy_permission(coolify, run):
    web = app("web")
    sim = coolify([web], tokens={"reader": frozenset({"read"})})
    result = run(*args(sim, "--uuid", web.uuid, token="reader"))
    assert result.exit_code == 3
    assert "deploy" in result.stderr and "Missing required permissions" in result.stderr


def test_cancels_at_the_timeout_go_out_at_once_and_wait_for_a_slow_answer(coolify, run, tmp_path):
    """Coolify takes seconds to answer a cancel (it stops the build container first) and still
    cancels: two cancels are sent together, each given the time it needs, and both reported done."""
    apps = [app(f"app{i}", queue_seconds=0.1, build_seconds=60) for i in range(2)]
    sim = coolify(apps, cancel_seconds=2.5)
    out = tmp_path / "out"
    import time

    began = time.monotonic()
    result = run(
        *args(sim, "--uuid", ",".join(a.uuid for a in apps), "--timeout", "1.5s", "--cancel-on-timeout"),
        env={"GITHUB_OUTPUT": str(out)},
    )
    took = time.monotonic() - began
    assert result.exit_code == 4, result.output
    assert took < 1.5 + 2 * 2.5 - 0.5  # together, not one after the other
    for item in json.loads(outputs_of(out)["result"]):
        assert "Deployment cancelled successfully." in item["message"] and "cancel failed" not in item["message"]
    assert all(sim.status_of(d) == "cancelled-by-user" for d in sim.deployments)


def test_a_cancel_whose_answer_comes_too_late_is_confirmed_by_its_status(coolify, run, tmp_path, monkeypatch):
    import deployer.waiting.loop

    monkeypatch.setattr(deployer.waiting.loop, "CANCEL_GRACE", 0.5)
    web = app("web", queue_seconds=0.1, build_seconds=60)
    sim = coolify([web], cancel_seconds=3)
    out = tmp_path / "out"
    result = run(
        *args(sim, "--uuid", web.uuid, "--timeout", "1s", "--cancel-on-timeout"), env={"GITHUB_OUTPUT": str(out)}
    )
    assert result.exit_code == 4, result.output
    [item] = json.loads(outputs_of(out)["result"])
    assert "cancelled (its status confirms it)" in item["message"] and "cancel failed" not in item["message"]


def test_timeout_without_cancel_leaves_the_deployment_running(coolify, run, tmp_path):
    web = app("web", build_seconds=30)
    sim = coolify([web])
    out = tmp_path / "out"
    result = run(*args(sim, "--uuid", web.uuid, "--timeout", "1s"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 4
    assert outputs_of(out)["status"] == "timeout"
    assert not any(r.path.endswith("/cancel") for r in sim.requests)
    assert sim.status_of(sim.deployments[0]) == "in_progress"


def test_timeout_with_cancel_cancels_through_the_api(coolify, run, tmp_path):
    web = app("web", build_seconds=30)
    sim = coolify([web])
    out = tmp_path / "out"
    result = run(
        *args(sim, "--uuid", web.uuid, "--timeout", "1s", "--cancel-on-timeout"), env={"GITHUB_OUTPUT": str(out)}
    )
    assert result.exit_code == 4
    assert "Deployment cancelled successfully." in result.stdout
    assert [r.method for r in sim.requests if r.path.endswith("/cancel")] == ["POST"]
    assert sim.status_of(sim.deployments[0]) == "cancelled-by-user"
    assert outputs_of(out)["status"] == "timeout"


def test_no_wait_triggers_and_returns_queued(coolify, run, tmp_path):
    web = app("web", build_seconds=30)
    sim = coolify([web])
    out = tmp_path / "out"
    result = run(*args(sim, "--uuid", web.uuid, "--no-wait"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0
    assert outputs_of(out)["status"] == "queued"
    assert outputs_of(out)["deployment-id"] == sim.deployments[0].uuid
    assert [r.path for r in sim.requests] == ["/api/v1/deploy"]


def test_unknown_uuid_beside_a_known_one_is_reported_not_ignored(coolify, run):
    web = app("web")
    sim = coolify([web])
    result = run(*args(sim, "--uuid", f"{web.uuid},doesnotexist00000000000", "--output", "json"))
    document = json.loads(result.stdout)
    assert result.exit_code == 3
    missing = [r for r in document["result"] if r["resource"] == "doesnotexist00000000000"]
    assert missing and missing[0]["status"] == "failed" and "skipped" in missing[0]["message"]


def test_queue_full_is_retried_after_retry_after_without_a_duplicate(coolify, run):
    web = app("web")
    sim = coolify([web], queue_full=1, retry_after=1)
    result = run(*args(sim, "--uuid", web.uuid))
    assert result.exit_code == 0, result.output
    assert "queue is full" in result.stderr
    assert [r.path for r in sim.requests].count("/api/v1/deploy") == 2
    assert len(sim.deployments) == 1


def test_a_queue_full_part_way_follows_what_started_and_sends_only_the_rest_again(coolify, run, tmp_path):
    """Five resources in one request, room for two: Coolify queues two and answers 429 for the whole
    request. deployer follows those two and sends again only the three that got nothing, until
    every resource has exactly one deployment."""
    apps = [app(f"app{i}", queue_seconds=0.1, build_seconds=0.8) for i in range(5)]
    sim = coolify(apps, queue_limit=2, retry_after=1)
    out = tmp_path / "out"
    result = run(
        *args(sim, "--uuid", ",".join(a.uuid for a in apps), "--timeout", "60s"), env={"GITHUB_OUTPUT": str(out)}
    )
    assert result.exit_code == 0, result.output
    assert "filled up part-way" in result.stderr
    for a in apps:  # never twice, never none
        assert len([d for d in sim.deployments if d.resource is a]) == 1, a.name
    items = json.loads(outputs_of(out)["result"])
    assert sorted(i["resource"] for i in items) == sorted(a.uuid for a in apps)
    assert {i["status"] for i in items} == {"finished"}
    assert sorted(outputs_of(out)["deployment-ids"].split(",")) == sorted(d.uuid for d in sim.deployments)
    first = sim.requests[[r.path for r in sim.requests].index("/api/v1/deploy")]
    resent = [r for r in sim.requests if r.path == "/api/v1/deploy" and r is not first]
    assert resent and all(apps[0].uuid not in r.query["uuid"][0] for r in resent)


def test_a_queue_full_part_way_through_a_tag_sends_the_rest_by_uuid(coolify, run, tmp_path):
    apps = [app(f"app{i}", queue_seconds=0.1, build_seconds=0.8, tags=("prod",)) for i in range(4)]
    sim = coolify(apps, queue_limit=2, retry_after=1)
    result = run(*args(sim, "--tag", "prod", "--timeout", "60s"))
    assert result.exit_code == 0, result.output
    for a in apps:
        assert len([d for d in sim.deployments if d.resource is a]) == 1, a.name
    deploys = [r for r in sim.requests if r.path == "/api/v1/deploy"]
    assert "tag" in deploys[0].query and all("uuid" in r.query for r in deploys[1:])


def test_a_queue_still_full_at_the_deadline_reports_what_started(coolify, run, tmp_path):
    apps = [app(f"app{i}", queue_seconds=0.1, build_seconds=0.6) for i in range(3)]
    sim = coolify(apps, queue_limit=1, retry_after=60)
    out = tmp_path / "out"
    result = run(
        *args(sim, "--uuid", ",".join(a.uuid for a in apps), "--timeout", "20s"), env={"GITHUB_OUTPUT": str(out)}
    )
    assert result.exit_code == 3, result.output
    by_uuid = {i["resource"]: i for i in json.loads(outputs_of(out)["result"])}
    assert by_uuid[apps[0].uuid]["status"] == "finished"
    assert by_uuid[apps[0].uuid]["deployment_id"] == sim.deployments[0].uuid
    for a in apps[1:]:
        assert by_uuid[a.uuid]["status"] == "failed" and "not deployed" in by_uuid[a.uuid]["message"]
    assert len(sim.deployments) == 1


def test_no_wait_on_an_already_queued_app_outputs_the_deployment_that_exists(coolify, run, tmp_path):
    """Coolify's "already queued" answer carries a uuid it never saved: the output names the real one."""
    web = app("web", build_seconds=30)
    sim = coolify([web])
    queued = sim._create(web, 0, None, False)
    out = tmp_path / "out"
    result = run(*args(sim, "--uuid", web.uuid, "--no-wait"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0, result.output
    assert PHANTOM in result.stdout
    assert outputs_of(out)["deployment-id"] == queued.uuid
    assert len(sim.deployments) == 1


def test_a_trigger_for_ids_that_do_not_exist_does_not_say_triggered(coolify, run):
    sim = coolify([app("web")])
    result = run(*args(sim, "--uuid", "doesnotexist00000000000"))
    assert result.exit_code == 3
    assert "Triggered" not in result.stdout + result.stderr


def test_bad_token_is_exit_3_and_never_printed(coolify, run, tmp_path):
    sim = coolify([app("web")])
    secret = "s3cr3t-t0ken-value"
    out = tmp_path / "out"
    result = run(
        *args(sim, "--uuid", "x1", token=secret),
        env={"GITHUB_OUTPUT": str(out), "DEPLOYER_DOTENV": str(tmp_path / "env")},
    )
    assert result.exit_code == 3
    assert "refused the token" in result.stderr
    for text in (result.stdout, result.stderr, out.read_text(), (tmp_path / "env").read_text()):
        assert secret not in text


def test_unreachable_server_is_exit_3_with_one_line(run):
    result = run("deploy", "--url", "http://127.0.0.1:9", "--token", "t0k", "--uuid", "a1", "--timeout", "3s")
    assert result.exit_code == 3
    assert "cannot connect" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_output_puts_the_document_on_stdout_and_progress_on_stderr(coolify, run):
    web = app("web")
    sim = coolify([web])
    result = run(*args(sim, "--uuid", web.uuid, "--output", "json"))
    document = json.loads(result.stdout)
    assert document["status"] == "finished"
    assert document["deployment-id"] == sim.deployments[0].uuid
    assert document["result"][0]["status"] == "finished"
    assert "Rolling update completed." in result.stderr


def test_dotenv_is_accepted_by_gitlab_rules(coolify, run, tmp_path):
    a, b = app("web"), app("api")
    sim = coolify([a, b])
    path = tmp_path / "deploy.env"
    result = run(*args(sim, "--uuid", a.uuid, "--uuid", b.uuid, "--dotenv", str(path)))
    assert result.exit_code == 0
    values = parse_gitlab_dotenv(path.read_text())
    assert values["DEPLOY_STATUS"] == "finished"
    assert values["DEPLOY_IDS"] == ",".join(d.uuid for d in sim.deployments)
    assert values["DEPLOY_URL"].startswith(sim.url + "/project/")
    assert set(values) == {"DEPLOY_STATUS", "DEPLOY_ID", "DEPLOY_IDS", "DEPLOY_URL", "DEPLOY_DURATION"}


def test_action_inputs_drive_a_deploy_like_the_runner_passes_them(coolify, run, tmp_path):
    web = app("web")
    sim = coolify([web])
    out = tmp_path / "out"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(out),
        "INPUT_URL": sim.url + "/api/v1/",
        "INPUT_TOKEN": TOKEN,
        "INPUT_UUID": f"{web.uuid}\n",
        "INPUT_POLL-INTERVAL": "0.2s",
        "INPUT_WAIT": "TRUE",
        "INPUT_FORCE": "",
        "INPUT_LOGS": "",
    }
    result = run("deploy", env=env)
    assert result.exit_code == 0, result.output
    assert outputs_of(out)["status"] == "finished"
    assert "force" not in sim.requests[0].query
