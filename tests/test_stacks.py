"""A stack defined in the repo (--compose-file): created on the first run, updated when the file
changes, left alone when it is the same, then deployed; conflicts, dry runs and bad files."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from deployer.simulator.coolify import SimResource
from deployer.simulator.dokploy import SimTarget
from tests.runner_files import read_github_output as outputs_of

TOKEN, KEY = "root-token", "dokploy-key"
STACK = (
    "services:\n  web:\n    image: nginx:alpine\n    environment:\n      - SERVICE_FQDN_WEB=https://shop.example.com\n"
)


@pytest.fixture
def compose_file(tmp_path: Path) -> Path:
    path = tmp_path / "compose.yml"
    path.write_text(STACK)
    return path


def coolify_args(sim: Any, compose: Path, *extra: str) -> list[str]:
    return [
        "deploy",
        "--provider",
        "coolify",
        "--url",
        sim.url,
        "--token",
        TOKEN,
        "--poll-interval",
        "0.2s",
        "--name",
        "shop/production/stack",
        "--compose-file",
        str(compose),
        *extra,
    ]


def dokploy_args(sim: Any, compose: Path, *extra: str) -> list[str]:
    return [
        "deploy",
        "--provider",
        "dokploy",
        "--url",
        sim.url,
        "--token",
        KEY,
        "--poll-interval",
        "0.2s",
        "--compose-file",
        str(compose),
        *extra,
    ]


def neighbour() -> SimResource:
    """Something already in shop/production, so that the environment exists."""
    return SimResource("api", project="shop", environment="production")


def stacks(sim: Any) -> list[SimResource]:
    return [r for r in sim.resources.values() if r.kind == "service"]


# -- Coolify -----------------------------------------------------------------------------------


def test_coolify_first_run_creates_the_stack_then_deploys_it_until_it_runs(coolify, run, compose_file, tmp_path):
    sim = coolify([neighbour()])
    out = tmp_path / "out"
    result = run(*coolify_args(sim, compose_file), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0, result.output
    [stack] = stacks(sim)
    assert (stack.name, stack.project, stack.environment) == ("stack", "shop", "production")
    [create] = [r for r in sim.requests if r.method == "POST" and r.path == "/api/v1/services"]
    body = json.loads(create.body)
    assert base64.b64decode(body["docker_compose_raw"]).decode() == STACK
    assert body["server_uuid"] and body["project_uuid"] and body["environment_name"] == "production"
    outputs = outputs_of(out)
    assert (outputs["resource-id"], outputs["created"], outputs["status"]) == (stack.uuid, "true", "finished")
    assert sim._resource_status(stack) == "running:healthy"  # deployed: its containers run


def test_coolify_a_second_run_with_the_same_file_changes_nothing_but_the_deploy(coolify, run, compose_file, tmp_path):
    sim = coolify([neighbour()])
    assert run(*coolify_args(sim, compose_file)).exit_code == 0
    before = len(sim.changes)
    out = tmp_path / "out"
    result = run(*coolify_args(sim, compose_file), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0, result.output
    assert len(sim.changes) == before  # no create, no update
    assert not [r for r in sim.requests[-20:] if r.method == "PATCH"]
    assert outputs_of(out)["created"] == "false" and len(stacks(sim)) == 1
    assert sim.triggers == 2


def test_coolify_a_changed_file_updates_the_stack(coolify, run, compose_file):
    existing = SimResource(
        "stack",
        kind="service",
        project="shop",
        environment="production",
        compose="services:\n  web:\n    image: nginx:1.25\n",
    )
    sim = coolify([neighbour(), existing])
    result = run(*coolify_args(sim, compose_file))
    assert result.exit_code == 0, result.output
    [patch] = [r for r in sim.requests if r.method == "PATCH"]
    assert patch.path == f"/api/v1/services/{existing.uuid}"
    assert base64.b64decode(json.loads(patch.body)["docker_compose_raw"]).decode() == STACK
    assert "nginx:alpine" in str(existing.compose) and len(stacks(sim)) == 1


def test_coolify_domain_conflicts_are_listed_one_a_line_and_nothing_is_deployed(coolify, run, compose_file):
    sim = coolify([neighbour()], taken_domains={"shop.example.com": "Old shop"})
    result = run(*coolify_args(sim, compose_file))
    assert result.exit_code == 1
    assert "shop.example.com: held by application Old shop" in result.stderr
    assert "--force-domain-override" in result.stderr
    assert stacks(sim) == [] and sim.triggers == 0


def test_coolify_force_domain_override_passes_the_servers_flag(coolify, run, compose_file):
    sim = coolify([neighbour()], taken_domains={"shop.example.com": "Old shop"})
    result = run(*coolify_args(sim, compose_file, "--force-domain-override"))
    assert result.exit_code == 0, result.output
    [create] = [r for r in sim.requests if r.method == "POST" and r.path == "/api/v1/services"]
    assert json.loads(create.body)["force_domain_override"] is True


def test_coolify_several_servers_and_no_server_option_is_bad_input(coolify, run, compose_file):
    sim = coolify([neighbour()], servers=("edge-1", "edge-2"))
    result = run(*coolify_args(sim, compose_file))
    assert result.exit_code == 2 and "pass --server (edge-1, edge-2)" in result.stderr
    assert stacks(sim) == []
    assert run(*coolify_args(sim, compose_file, "--server", "edge-2")).exit_code == 0
    [create] = [r for r in sim.requests if r.method == "POST" and r.path == "/api/v1/services"]
    assert json.loads(create.body)["server_uuid"].startswith("srv1")


def test_coolify_dry_run_shows_a_diff_and_changes_nothing(coolify, run, compose_file):
    existing = SimResource(
        "stack",
        kind="service",
        project="shop",
        environment="production",
        compose="services:\n  web:\n    image: nginx:1.25\n",
    )
    sim = coolify([neighbour(), existing])
    result = run(*coolify_args(sim, compose_file, "--dry-run"))
    assert result.exit_code == 0, result.output
    assert "Would update the compose file of the stack stack" in result.stdout
    assert "-    image: nginx:1.25" in result.stdout and "+    image: nginx:alpine" in result.stdout
    assert all(r.method == "GET" for r in sim.requests) and sim.triggers == 0


def test_coolify_dry_run_of_a_first_run_says_it_would_create(coolify, run, compose_file):
    sim = coolify([neighbour()])
    result = run(*coolify_args(sim, compose_file, "--dry-run"))
    assert (
        result.exit_code == 0 and "Would create the stack stack in shop/production on server localhost" in result.stdout
    )
    assert stacks(sim) == []


# -- Dokploy -----------------------------------------------------------------------------------


def test_dokploy_creates_the_stack_by_name_then_updates_it_and_leaves_it(dokploy, run, compose_file, tmp_path):
    sim = dokploy([SimTarget("api", project="shop", environment="production")])
    named = ("--name", "shop/production/stack")
    out = tmp_path / "out"
    first = run(*dokploy_args(sim, compose_file, *named), env={"GITHUB_OUTPUT": str(out)})
    assert first.exit_code == 0, first.output
    [stack] = [t for t in sim.targets.values() if t.kind == "compose"]
    assert (stack.compose_file, stack.source_type) == (STACK, "raw")
    assert (outputs_of(out)["created"], outputs_of(out)["resource-id"]) == ("true", stack.id)
    assert sim.jobs[-1].target is stack and sim.jobs[-1].result == "done"  # compose.deploy, followed

    assert run(*dokploy_args(sim, compose_file, *named)).exit_code == 0
    assert [p for p in sim.requests if p.path == "/api/compose.update"] == []  # same file: left alone

    compose_file.write_text(STACK + "  worker:\n    image: busybox\n")
    assert run(*dokploy_args(sim, compose_file, *named)).exit_code == 0
    [update] = [json.loads(r.body) for r in sim.requests if r.path == "/api/compose.update"]
    assert update == {"composeId": stack.id, "composeFile": compose_file.read_text(), "sourceType": "raw"}
    assert len([t for t in sim.targets.values() if t.kind == "compose"]) == 1
    assert sim.deploy_calls == 3


def test_dokploy_compose_id_updates_an_existing_stack(dokploy, run, compose_file):
    stack = SimTarget("stack", kind="compose", compose_file="services:\n  old:\n    image: x\n")
    sim = dokploy([stack])
    result = run(*dokploy_args(sim, compose_file, "--compose-id", stack.id, "--output", "json"))
    assert result.exit_code == 0, result.output
    assert stack.compose_file == STACK
    assert json.loads(result.stdout)["created"] == "false"


def test_dokploy_dry_run_diff_and_no_change(dokploy, run, compose_file):
    stack = SimTarget(
        "stack", kind="compose", compose_file="services:\n  web:\n    image: nginx:1.25\n", source_type="raw"
    )
    sim = dokploy([stack])
    result = run(*dokploy_args(sim, compose_file, "--compose-id", stack.id, "--dry-run"))
    assert result.exit_code == 0, result.output
    assert "+    image: nginx:alpine" in result.stdout
    assert sim.changes == [] and sim.deploy_calls == 0


def test_dokploy_an_environment_that_does_not_exist_is_bad_input(dokploy, run, compose_file):
    sim = dokploy([SimTarget("api")])
    result = run(*dokploy_args(sim, compose_file, "--name", "nowhere/production/stack"))
    assert result.exit_code == 2 and "no environment 'nowhere/production'" in result.stderr
    assert sim.changes == []


# -- the file and the options, before anything is sent ------------------------------------------


@pytest.mark.parametrize(
    "text, said",
    [
        ("services:\n  web:\n    image: [nginx\n", "compose.yml:4: not valid YAML"),
        ("version: '3'\n", "compose.yml:1: 'services' must be a mapping"),
        ("- a\n- b\n", "compose.yml:1: a compose file is a mapping"),
        ("services:\n  web: nginx\n", "compose.yml:2: service 'web' must be a mapping"),
    ],
)
@pytest.mark.parametrize("provider", ["coolify", "dokploy"])
def test_a_bad_compose_file_is_exit_2_with_its_line_and_nothing_is_sent(
    coolify, dokploy, run, tmp_path, text, said, provider
):
    path = tmp_path / "compose.yml"
    path.write_text(text)
    if provider == "coolify":
        sim = coolify([neighbour()])
        result = run(*coolify_args(sim, path))
    else:
        sim = dokploy([SimTarget("api", project="shop", environment="production")])
        result = run(*dokploy_args(sim, path, "--name", "shop/production/stack"))
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert said in line
    assert sim.requests == []


@pytest.mark.parametrize(
    "extra, said",
    [
        (("--name", "stack"), "PROJECT/ENVIRONMENT/NAME"),
        (("--uuid", "abc"), "not --uuid or --tag"),
    ],
)
def test_coolify_the_stack_needs_its_place(coolify, run, compose_file, extra, said):
    sim = coolify([neighbour()])
    result = run(
        "deploy",
        "--provider",
        "coolify",
        "--url",
        sim.url,
        "--token",
        TOKEN,
        "--compose-file",
        str(compose_file),
        *extra,
    )
    assert result.exit_code == 2 and said in result.stderr and sim.requests == []


def test_a_missing_compose_file_is_bad_input(run, tmp_path):
    result = run(
        "deploy",
        "--provider",
        "coolify",
        "--url",
        "https://c.example.com",
        "--token",
        "t0ken",
        "--name",
        "a/b/c",
        "--compose-file",
        str(tmp_path / "nope.yml"),
    )
    assert result.exit_code == 2 and "no file at" in result.stderr
