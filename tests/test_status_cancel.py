"""`deployer status ID` and `deployer cancel ID`: one deployment, for scripts."""

from __future__ import annotations

import json
import time
from typing import Any

from deployer.simulator.coolify import SimResource
from deployer.simulator.dokploy import SimTarget
from tests.runner_files import read_github_output as outputs_of

TOKEN = "root-token"


def server(sim: Any, provider: str = "coolify", token: str = TOKEN) -> list[str]:
    return ["--provider", provider, "--url", sim.url, "--token", token]


def started(run: Any, sim: Any, tmp_path: Any, *target: str, provider: str = "coolify", token: str = TOKEN) -> str:
    out = tmp_path / "out"
    result = run("deploy", *server(sim, provider, token), *target, "--no-wait", env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0, result.output
    return outputs_of(out)["deployment-id"]


def test_coolify_status_follows_a_deployment_through_its_life(coolify, run, tmp_path):
    web = SimResource("web", queue_seconds=0.2, build_seconds=0.8)
    sim = coolify([web])
    deployment_id = started(run, sim, tmp_path, "--uuid", web.uuid)
    now = run("status", deployment_id, *server(sim))
    assert now.exit_code == 0 and now.stdout.splitlines()[0] in (
        f"{deployment_id}: queued",
        f"{deployment_id}: in_progress",
    )
    time.sleep(1.3)
    done = run("status", deployment_id, *server(sim), "--output", "json")
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    assert document["status"] == "finished" and document["deployment_id"] == deployment_id
    assert document["url"].startswith(sim.url + "/project/") and document["resource"] == "web"


def test_coolify_status_of_a_failed_deployment_exits_1(coolify, run, tmp_path):
    broken = SimResource("broken", outcome="failed", queue_seconds=0.0, build_seconds=0.2)
    sim = coolify([broken])
    deployment_id = started(run, sim, tmp_path, "--uuid", broken.uuid)
    time.sleep(0.5)
    result = run("status", deployment_id, *server(sim))
    assert result.exit_code == 1 and f"{deployment_id}: failed" in result.stdout


def test_status_of_an_unknown_deployment_is_exit_3(coolify, run):
    sim = coolify([SimResource("web")])
    result = run("status", "nosuchdeployment", *server(sim))
    assert result.exit_code == 3 and "Coolify has no deployment nosuchdeployment" in result.stderr


def test_coolify_cancel_stops_a_running_deployment(coolify, run, tmp_path):
    slow = SimResource("slow", queue_seconds=0.1, build_seconds=30)
    sim = coolify([slow])
    deployment_id = started(run, sim, tmp_path, "--uuid", slow.uuid)
    result = run("cancel", deployment_id, *server(sim))
    assert result.exit_code == 0, result.output
    assert "cancelled" in result.stdout
    assert run("status", deployment_id, *server(sim)).stdout.startswith(f"{deployment_id}: cancelled")


def test_cancelling_an_ended_deployment_says_so_and_exits_1(coolify, run, tmp_path):
    quick = SimResource("quick", queue_seconds=0.0, build_seconds=0.1)
    sim = coolify([quick])
    deployment_id = started(run, sim, tmp_path, "--uuid", quick.uuid)
    time.sleep(0.4)
    result = run("cancel", deployment_id, *server(sim))
    assert result.exit_code == 1
    assert "Coolify did not cancel deployment" in result.stderr and "Current status: finished" in result.stderr


def test_status_takes_the_server_from_the_config_file(coolify, run, tmp_path):
    web = SimResource("web", queue_seconds=0.0, build_seconds=0.1)
    sim = coolify([web])
    deployment_id = started(run, sim, tmp_path, "--uuid", web.uuid)
    config = tmp_path / "deployer.yml"
    config.write_text(f"environments:\n  prod:\n    provider: coolify\n    url: {sim.url}\n    resources: [web]\n")
    time.sleep(0.3)
    result = run("status", deployment_id, "--config", str(config), env={"COOLIFY_TOKEN": TOKEN})
    assert result.exit_code == 0 and f"{deployment_id}: finished" in result.stdout


def test_status_and_cancel_need_a_server(run):
    result = run("status", "abc")
    assert result.exit_code == 2 and "--provider" in result.stderr
    result = run("cancel", "abc", "--provider", "coolify", "--url", "https://c.example.com")
    assert result.exit_code == 2 and "no API token" in result.stderr


def test_dokploy_status_finds_the_deployment_without_being_told_where(dokploy, run, tmp_path):
    web, stack = SimTarget("web", build_seconds=0.2), SimTarget("stack", kind="compose", build_seconds=0.2)
    sim = dokploy([web, stack])
    result = run(
        "deploy",
        *server(sim, "dokploy", "dokploy-key"),
        "--compose-id",
        stack.id,
        "--poll-interval",
        "0.2s",
        env={"GITHUB_OUTPUT": str(tmp_path / "out")},
    )
    assert result.exit_code == 0, result.output
    deployment_id = outputs_of(tmp_path / "out")["deployment-id"]
    result = run("status", deployment_id, *server(sim, "dokploy", "dokploy-key"), "--output", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "finished" and document["resource"] == stack.id and document["kind"] == "compose"
    narrowed = run("status", deployment_id, *server(sim, "dokploy", "dokploy-key"), "--compose-id", stack.id)
    assert narrowed.exit_code == 0
    assert not any(r.path == "/api/project.all" for r in sim.requests[-3:])  # told where: no search


def test_dokploy_status_of_an_unknown_deployment(dokploy, run):
    sim = dokploy([SimTarget("web")])
    result = run("status", "nope", *server(sim, "dokploy", "dokploy-key"))
    assert result.exit_code == 3 and "Dokploy has no deployment nope among 1 application(s)" in result.stderr


def test_dokploy_cancel_says_self_hosted_cannot_and_sends_nothing(dokploy, run):
    sim = dokploy([SimTarget("web")])
    result = run("cancel", "some-deployment", *server(sim, "dokploy", "dokploy-key"))
    assert result.exit_code == 3 and "self-hosted Dokploy cannot cancel" in result.stderr
    assert not sim.requests and not getattr(sim, "killed_every_build", False)


def test_dokploy_status_names_the_application_not_the_commit_title(dokploy, run, tmp_path):
    web = SimTarget("web", build_seconds=0.3)  # a git app: its row's title becomes the commit message
    sim = dokploy([web])
    assert (
        run(
            "deploy", *server(sim, "dokploy", "dokploy-key"), "--application-id", web.id, "--poll-interval", "0.2s"
        ).exit_code
        == 0
    )
    deployment_id = sim.jobs[0].deployment_id
    result = run(
        "status", deployment_id, *server(sim, "dokploy", "dokploy-key"), "--application-id", web.id, "--output", "json"
    )
    item = json.loads(result.stdout)
    assert result.exit_code == 0 and item["status"] == "finished", result.output
    text = run("status", deployment_id, *server(sim, "dokploy", "dokploy-key"), "--application-id", web.id).stdout
    assert "resource: web" in text and "feat: the commit message" not in text


def test_dokploy_result_times_are_the_rows_own(dokploy, run, tmp_path):
    """started_at and finished_at are the deployment's, and duration agrees with them."""
    from datetime import datetime

    web = SimTarget("web", build_seconds=1.2)
    sim = dokploy([web], queue_delay=0.8)
    out = tmp_path / "out"
    assert (
        run(
            "deploy",
            *server(sim, "dokploy", "dokploy-key"),
            "--application-id",
            web.id,
            "--poll-interval",
            "0.2s",
            env={"GITHUB_OUTPUT": str(out)},
        ).exit_code
        == 0
    )
    [item] = json.loads(outputs_of(out)["result"])
    job = sim.jobs[0]
    from deployer.model import iso_utc
    from deployer.simulator.dokploy import ROW_LAG

    assert item["started_at"] == iso_utc(sim.stamp(job.start + ROW_LAG))  # the row's, not when the runner triggered
    took = (
        datetime.fromisoformat(item["finished_at"].replace("Z", "+00:00"))
        - datetime.fromisoformat(item["started_at"].replace("Z", "+00:00"))
    ).total_seconds()
    assert item["duration"] == round(took)
    for field in ("started_at", "finished_at"):
        assert item[field].endswith("Z") and len(item[field]) == 20
