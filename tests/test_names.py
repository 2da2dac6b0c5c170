"""Names instead of ids: `--name` (and names in the config file) looked up through each server's API."""

from __future__ import annotations

from typing import Any

from deployer.simulator.coolify import SimResource
from deployer.simulator.dokploy import SimTarget
from tests.runner_files import read_github_output as outputs_of

TOKEN = "root-token"


def coolify_args(sim: Any, *extra: str, token: str = TOKEN) -> list[str]:
    return ["deploy", "--url", sim.url, "--token", token, "--provider", "coolify", "--poll-interval", "0.2s", *extra]


def dokploy_args(sim: Any, *extra: str) -> list[str]:
    return [
        "deploy",
        "--url",
        sim.url,
        "--token",
        "dokploy-key",
        "--provider",
        "dokploy",
        "--poll-interval",
        "0.2s",
        *extra,
    ]


def resource(name: str, **options: Any) -> SimResource:
    options.setdefault("queue_seconds", 0.1)
    options.setdefault("build_seconds", 0.3)
    return SimResource(name, **options)


def deployed_uuids(sim: Any) -> list[str]:
    return [r.query["uuid"][0] for r in sim.requests if r.path == "/api/v1/deploy"]


def test_coolify_name_deploys_that_resource_by_uuid(coolify, run, tmp_path):
    web, worker = resource("web"), resource("worker")
    sim = coolify([web, worker])
    out = tmp_path / "out"
    result = run(*coolify_args(sim, "--name", "worker"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0, result.output
    assert deployed_uuids(sim) == [worker.uuid]
    assert outputs_of(out)["deployment-id"] == sim.deployments[0].uuid


def test_coolify_names_cover_services_and_databases_and_mix_with_uuids(coolify, run):
    web, cache, db = resource("web"), resource("cache", kind="service"), resource("db", kind="database")
    sim = coolify([web, cache, db])
    result = run(*coolify_args(sim, "--name", "cache, db", "--uuid", web.uuid, "--timeout", "20s"))
    assert result.exit_code == 0, result.output
    assert deployed_uuids(sim) == [f"{web.uuid},{cache.uuid},{db.uuid}"]


def test_ambiguous_name_lists_each_candidate_with_its_project_and_environment(coolify, run):
    staging, production = resource("api", environment="staging"), resource("api", environment="production")
    sim = coolify([staging, production])
    result = run(*coolify_args(sim, "--name", "api"))
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert message.count("\n") == 0 and "2 resources are named 'api'" in message
    assert f"acme/staging, id {staging.uuid}" in message and f"acme/production, id {production.uuid}" in message
    assert not deployed_uuids(sim)  # nothing deploys on a guess


def test_project_and_environment_pick_one_of_equal_names(coolify, run):
    staging, production = resource("api", environment="staging"), resource("api", environment="production")
    sim = coolify([staging, production])
    assert run(*coolify_args(sim, "--name", "acme/staging/api")).exit_code == 0
    assert deployed_uuids(sim) == [staging.uuid]
    # The environment's own list was read: no team-wide listing was needed.
    assert any(r.path == "/api/v1/projects/" + sim._project_uuid("acme") + "/staging" for r in sim.requests)


def test_kind_picks_between_an_application_and_a_service_of_one_name(coolify, run, tmp_path):
    app, service = resource("shop"), resource("shop", kind="service")
    sim = coolify([app, service])
    config = tmp_path / "deployer.yml"
    config.write_text(
        f"environments:\n  prod:\n    provider: coolify\n    url: {sim.url}\n"
        "    resources:\n      - name: shop\n        kind: service\n"
    )
    result = run("deploy", "--config", str(config), "--token", TOKEN, "--poll-interval", "0.2s", "--timeout", "20s")
    assert result.exit_code == 0, result.output
    assert deployed_uuids(sim) == [service.uuid]


def test_unknown_name_suggests_close_ones(coolify, run):
    sim = coolify([resource("worker"), resource("web")])
    result = run(*coolify_args(sim, "--name", "wroker"))
    assert result.exit_code == 2
    assert "no application, service or database named 'wroker'" in result.stderr
    assert "candidates: worker (application, acme/production" in result.stderr


def test_unknown_project_or_environment_lists_what_exists(coolify, run):
    sim = coolify([resource("api", environment="staging")])
    result = run(*coolify_args(sim, "--name", "acme/prod/api"))
    assert result.exit_code == 2 and "project 'acme' has no environment 'prod' (environments: staging)" in result.stderr
    result = run(*coolify_args(sim, "--name", "shop/staging/api"))
    assert result.exit_code == 2 and "Coolify has no project 'shop' (projects: acme)" in result.stderr


def test_a_deploy_only_token_cannot_look_names_up_and_is_told_why(coolify, run):
    sim = coolify([resource("web")], tokens={"deploy-only": frozenset({"deploy"})})
    result = run(*coolify_args(sim, "--name", "web", token="deploy-only"))
    assert result.exit_code == 3
    assert "'read' permission" in result.stderr and not deployed_uuids(sim)


def test_name_syntax_errors_are_bad_input(run):
    result = run("deploy", "--provider", "coolify", "--url", "https://c.example.com", "--token", "t", "--name", "a//b")
    assert result.exit_code == 2 and "use NAME, PROJECT/NAME or PROJECT/ENVIRONMENT/NAME" in result.stderr
    result = run(
        "deploy", "--provider", "coolify", "--url", "https://c.example.com", "--token", "t", "--name", "a", "--tag", "b"
    )
    assert result.exit_code == 2 and "not both" in result.stderr


def test_dokploy_names_resolve_applications_and_compose_stacks(dokploy, run):
    web, stack = SimTarget("web", build_seconds=0.3), SimTarget("stack", kind="compose", build_seconds=0.3)
    sim = dokploy([web, stack])
    result = run(*dokploy_args(sim, "--name", "web", "--name", "stack"))
    assert result.exit_code == 0, result.output
    assert [r.json() for r in sim.requests if r.path == "/api/application.deploy"][0]["applicationId"] == web.id
    assert [r.json() for r in sim.requests if r.path == "/api/compose.deploy"][0]["composeId"] == stack.id
    assert sum(r.path == "/api/project.all" for r in sim.requests) == 1  # one listing for every name


def test_dokploy_ambiguous_and_scoped_names(dokploy, run):
    staging = SimTarget("api", environment="staging", build_seconds=0.3)
    production = SimTarget("api", environment="production", build_seconds=0.3)
    sim = dokploy([staging, production])
    result = run(*dokploy_args(sim, "--name", "api"))
    assert result.exit_code == 2 and f"acme/staging, id {staging.id}" in result.stderr
    assert run(*dokploy_args(sim, "--name", "acme/production/api")).exit_code == 0
    assert [r.json()["applicationId"] for r in sim.requests if r.path == "/api/application.deploy"] == [production.id]


def test_dokploy_key_sees_only_its_services(dokploy, run):
    mine, theirs = SimTarget("mine", build_seconds=0.3), SimTarget("theirs", build_seconds=0.3)
    sim = dokploy([mine, theirs], keys={"dokploy-key": {mine.id}})
    result = run(*dokploy_args(sim, "--name", "theirs"))
    assert result.exit_code == 2 and "candidates: mine (application" in result.stderr


def test_a_transient_fault_while_looking_names_up_is_retried(coolify, run):
    from deployer.simulator.server import Reply

    web = resource("web")
    sim = coolify([web])
    original, calls = sim.list_resources, []

    def flaky(request: Any, permissions: Any, plural: str) -> Any:
        calls.append(plural)
        if len(calls) == 1:
            return Reply(502, raw=b"<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        return original(request, permissions, plural)

    sim.list_resources = flaky
    result = run(*coolify_args(sim, "--name", "web"))
    assert result.exit_code == 0, result.output
    assert "nothing is deployed yet, trying again" in result.output
    assert deployed_uuids(sim) == [web.uuid]  # one trigger, after the lookup succeeded
