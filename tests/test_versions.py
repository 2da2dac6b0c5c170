"""Deploy exactly this version, with its variables, and put the last one back when it fails:
--image-tag, --commit, --env and --rollback-on-failure against both simulated servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import deployer
from deployer.providers.dokploy import tag_of, with_tag, with_variables
from deployer.simulator.coolify import SimResource
from deployer.simulator.dokploy import SimTarget
from tests.runner_files import parse_gitlab_dotenv
from tests.runner_files import read_github_output as outputs_of

TOKEN, KEY = "root-token", "dokploy-key"
SECRET = "s3cr3t-value-9f8e7d"


def coolify_args(sim: Any, *extra: str) -> list[str]:
    return ["deploy", "--provider", "coolify", "--url", sim.url, "--token", TOKEN, "--poll-interval", "0.2s", *extra]


def dokploy_args(sim: Any, *extra: str) -> list[str]:
    return ["deploy", "--provider", "dokploy", "--url", sim.url, "--token", KEY, "--poll-interval", "0.2s", *extra]


def image_app(name: str = "web", **options: Any) -> SimResource:
    options.setdefault("queue_seconds", 0.1)
    options.setdefault("build_seconds", 0.4)
    return SimResource(name, docker_image=True, image_tag="v1", **options)


def docker_target(name: str = "api", **options: Any) -> SimTarget:
    options.setdefault("build_seconds", 0.4)
    return SimTarget(name, docker_image=f"registry.local:5000/{name}:v1", **options)


def paths(sim: Any) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.requests]


# -- Coolify -----------------------------------------------------------------------------------


def test_coolify_image_tag_is_set_before_the_deploy_and_is_the_version(coolify, run, tmp_path):
    web = image_app()
    sim = coolify([web])
    out = tmp_path / "out"
    result = run(*coolify_args(sim, "--uuid", web.uuid, "--image-tag", "v2"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0, result.output
    sent = paths(sim)
    patch = sent.index(f"PATCH /api/v1/applications/{web.uuid}")
    assert patch < sent.index("POST /api/v1/deploy")
    assert sim.changes == [(web.uuid, {"docker_registry_image_tag": "v2"})]  # the image name stays
    assert sim.deployments[-1].version == "v2" and web.image == "ghcr.io/acme/web"
    outputs = outputs_of(out)
    assert (outputs["version"], outputs["rolled-back"], outputs["status"]) == ("v2", "false", "finished")
    assert "image tag v1 -> v2" in result.stdout


def test_coolify_commit_pins_a_git_application(coolify, run):
    app = SimResource("site", queue_seconds=0.1, build_seconds=0.4)
    sim = coolify([app])
    result = run(*coolify_args(sim, "--uuid", app.uuid, "--commit", "4f2a9c1e", "--output", "json"))
    assert result.exit_code == 0, result.output
    assert sim.changes == [(app.uuid, {"git_commit_sha": "4f2a9c1e"})]
    assert sim.deployments[-1].commit == "4f2a9c1e"
    assert json.loads(result.stdout)["version"] == "4f2a9c1e"


@pytest.mark.parametrize(
    "resource, option, said",
    [
        (SimResource("site"), ("--image-tag", "v2"), "not a Docker-image application"),
        (SimResource("img", docker_image=True), ("--commit", "abc123"), "not a git application"),
        (SimResource("cache", kind="service"), ("--image-tag", "v2"), "not an application"),
    ],
)
def test_coolify_a_change_that_does_not_fit_the_resource_is_bad_input(coolify, run, resource, option, said):
    sim = coolify([resource])
    result = run(*coolify_args(sim, "--uuid", resource.uuid, *option))
    assert result.exit_code == 2
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sim.changes == [] and sim.triggers == 0


def test_coolify_env_is_set_in_bulk_and_its_value_is_never_printed(coolify, run, tmp_path):
    web = image_app()
    sim = coolify([web])
    out, summary, dotenv = tmp_path / "out", tmp_path / "summary", tmp_path / "deploy.env"
    result = run(
        *coolify_args(
            sim, "--uuid", web.uuid, "--env", f"API_KEY={SECRET}", "--env", "MODE=prod", "--dotenv", str(dotenv)
        ),
        env={"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.exit_code == 0, result.output
    bulk = [r for r in sim.requests if r.path.endswith("/envs/bulk")]
    assert len(bulk) == 1 and bulk[0].method == "PATCH"
    assert json.loads(bulk[0].body)["data"] == [{"key": "API_KEY", "value": SECRET}, {"key": "MODE", "value": "prod"}]
    assert web.envs == {"API_KEY": SECRET, "MODE": "prod"}
    for text in (result.stdout, result.stderr, out.read_text(), summary.read_text(), dotenv.read_text()):
        assert SECRET not in text
    assert "variable API_KEY" in result.stdout  # the change is said, its value is not
    assert "version" not in outputs_of(out)  # no version was pinned


def test_coolify_rollback_puts_the_previous_tag_back_and_follows_it(coolify, run, tmp_path):
    web = image_app(failing_versions=("v2",))
    sim = coolify([web])
    out = tmp_path / "out"
    result = run(
        *coolify_args(sim, "--uuid", web.uuid, "--image-tag", "v2", "--rollback-on-failure"),
        env={"GITHUB_OUTPUT": str(out)},
    )
    assert result.exit_code == 1  # what was asked failed
    assert [c[1] for c in sim.changes] == [{"docker_registry_image_tag": "v2"}, {"docker_registry_image_tag": "v1"}]
    assert [d.version for d in sim.deployments] == ["v2", "v1"]
    assert sim.triggers == 2
    assert [sim.status_of(d) for d in sim.deployments] == ["failed", "finished"]  # followed to its end
    outputs = outputs_of(out)
    assert (outputs["status"], outputs["version"], outputs["rolled-back"]) == ("failed", "v1", "true")
    assert web.image_tag == "v1"
    assert "rolling back web: image tag v2 -> v1" in result.stderr


def test_coolify_without_rollback_a_failed_version_leaves_the_previous_one_running(coolify, run, tmp_path):
    web = image_app(failing_versions=("v2",))
    sim = coolify([web])
    out = tmp_path / "out"
    result = run(*coolify_args(sim, "--uuid", web.uuid, "--image-tag", "v2"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 1 and sim.triggers == 1
    outputs = outputs_of(out)
    assert (outputs["version"], outputs["rolled-back"]) == ("v1", "false")


def test_coolify_a_refused_change_deploys_nothing_and_says_why(coolify, run):
    web = image_app(refused_fields=("docker_registry_image_tag",))
    sim = coolify([web])
    result = run(*coolify_args(sim, "--uuid", web.uuid, "--image-tag", "v2"))
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "refused to change web" in line and "docker_registry_image_tag: This field is not allowed." in line
    assert "nothing was deployed" in line
    assert sim.triggers == 0 and web.image_tag == "v1"


def test_coolify_a_deploy_refused_after_the_change_says_what_the_resource_points_to(coolify, run):
    web = image_app(refusal="Unauthorized to deploy this application.")
    sim = coolify([web])
    result = run(*coolify_args(sim, "--uuid", web.uuid, "--image-tag", "v2", "--output", "json"))
    assert result.exit_code == 1
    [entry] = json.loads(result.stdout)["result"]
    assert "Unauthorized to deploy" in entry["message"] and "now points to the new version" in entry["message"]
    assert "image tag v1 -> v2" in entry["message"]


def test_coolify_tag_deploy_pins_every_docker_image_application_of_the_tag(coolify, run):
    a, b = image_app("a", tags=("prod",)), image_app("b", tags=("prod",))
    sim = coolify([a, b])
    result = run(*coolify_args(sim, "--tag", "prod", "--image-tag", "v7"))
    assert result.exit_code == 0, result.output
    assert sorted(uuid for uuid, _ in sim.changes) == sorted([a.uuid, b.uuid])
    assert {d.version for d in sim.deployments} == {"v7"}


def test_coolify_tag_with_an_application_that_is_not_an_image_is_refused_before_any_change(coolify, run):
    a, site = image_app("a", tags=("prod",)), SimResource("site", tags=("prod",))
    sim = coolify([a, site])
    result = run(*coolify_args(sim, "--tag", "prod", "--image-tag", "v7"))
    assert result.exit_code == 2 and "site is not a Docker-image application" in result.stderr
    assert sim.changes == [] and sim.triggers == 0


def test_coolify_dry_run_shows_each_change_and_changes_nothing(coolify, run):
    web = image_app()
    sim = coolify([web])
    result = run(*coolify_args(sim, "--uuid", web.uuid, "--image-tag", "v2", "--env", f"API_KEY={SECRET}", "--dry-run"))
    assert result.exit_code == 0, result.output
    assert "web: image tag v1 -> v2" in result.stdout
    assert "variable API_KEY" in result.stdout and SECRET not in result.stdout
    assert all(r.method == "GET" for r in sim.requests) and sim.triggers == 0 and sim.changes == []


def test_coolify_a_token_that_cannot_write_is_told_so(coolify, run):
    web = image_app()
    sim = coolify([web], tokens={"deploy-read": frozenset({"deploy", "read"})})
    result = run("deploy", "--url", sim.url, "--token", "deploy-read", "--uuid", web.uuid, "--image-tag", "v2")
    assert result.exit_code == 3 and "write" in result.stderr
    assert sim.triggers == 0


# -- Dokploy -----------------------------------------------------------------------------------


def test_dokploy_image_tag_keeps_the_image_name_and_registry_login(dokploy, run, tmp_path):
    api = docker_target(username="ci", password=SECRET, registry_url="registry.local:5000")
    sim = dokploy([api])
    out = tmp_path / "out"
    result = run(*dokploy_args(sim, "--application-id", api.id, "--image-tag", "v2"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0, result.output
    [save] = [json.loads(r.body) for r in sim.requests if r.path == "/api/application.saveDockerProvider"]
    assert save == {
        "applicationId": api.id,
        "dockerImage": "registry.local:5000/api:v2",
        "username": "ci",
        "password": SECRET,
        "registryUrl": "registry.local:5000",
    }
    sent = paths(sim)
    assert sent.index("POST /api/application.saveDockerProvider") < sent.index("POST /api/application.deploy")
    assert sim.jobs[-1].image == "registry.local:5000/api:v2"
    assert outputs_of(out)["version"] == "v2"
    assert SECRET not in result.output  # the registry password is passed back, never shown


def test_dokploy_env_replaces_its_keys_and_keeps_every_other_line(dokploy, run):
    api = docker_target(
        env="# shared\nA=1\nAPI_KEY=old\n\nB=2\n", build_args="NODE=20", build_secrets="NPM=x", create_env_file=False
    )
    sim = dokploy([api])
    result = run(*dokploy_args(sim, "--application-id", api.id, "--env", f"API_KEY={SECRET}", "--env", "NEW=yes"))
    assert result.exit_code == 0, result.output
    [save] = [json.loads(r.body) for r in sim.requests if r.path == "/api/application.saveEnvironment"]
    assert save["env"] == f"# shared\nA=1\nAPI_KEY={SECRET}\n\nB=2\nNEW=yes\n"
    assert (save["buildArgs"], save["buildSecrets"], save["createEnvFile"]) == ("NODE=20", "NPM=x", False)
    assert SECRET not in result.output


def test_dokploy_rollback_puts_the_previous_image_back(dokploy, run, tmp_path):
    api = docker_target(failing_images=("registry.local:5000/api:v2",))
    sim = dokploy([api])
    dotenv = tmp_path / "deploy.env"
    result = run(
        *dokploy_args(
            sim, "--application-id", api.id, "--image-tag", "v2", "--rollback-on-failure", "--dotenv", str(dotenv)
        )
    )
    assert result.exit_code == 1
    assert [j.image for j in sim.jobs] == ["registry.local:5000/api:v2", "registry.local:5000/api:v1"]
    assert [j.result for j in sim.jobs] == ["error", "done"]
    assert api.docker_image == "registry.local:5000/api:v1"
    values = parse_gitlab_dotenv(dotenv.read_text())
    assert (values["DEPLOY_VERSION"], values["DEPLOY_ROLLED_BACK"], values["DEPLOY_STATUS"]) == ("v1", "true", "failed")


def test_dokploy_commit_is_bad_input(dokploy, run):
    api = docker_target()
    sim = dokploy([api])
    result = run(*dokploy_args(sim, "--application-id", api.id, "--commit", "abc123"))
    assert result.exit_code == 2 and "Dokploy has no API to deploy a given commit" in result.stderr
    assert sim.requests == []


def test_dokploy_image_tag_on_a_git_application_is_refused_before_it_is_turned_into_an_image_one(dokploy, run):
    app = SimTarget("site")  # built from git: saveDockerProvider would make it a Docker-image application
    sim = dokploy([app])
    result = run(*dokploy_args(sim, "--application-id", app.id, "--image-tag", "v2"))
    assert result.exit_code == 2 and "not a Docker-image application" in result.stderr
    assert sim.changes == [] and sim.deploy_calls == 0


def test_dokploy_a_refused_change_deploys_nothing_and_gives_the_servers_reasons(dokploy, run):
    api = docker_target(refuse_changes=True)
    sim = dokploy([api])
    result = run(*dokploy_args(sim, "--application-id", api.id, "--image-tag", "v2"))
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "refused to change api" in line and "dockerImage:" in line
    assert sim.deploy_calls == 0 and api.docker_image == "registry.local:5000/api:v1"


def test_dokploy_dry_run_reads_and_changes_nothing(dokploy, run):
    api = docker_target()
    sim = dokploy([api])
    result = run(*dokploy_args(sim, "--application-id", api.id, "--image-tag", "v2", "--dry-run", "--output", "json"))
    assert result.exit_code == 0, result.output
    [change] = json.loads(result.stdout)["changes"]
    assert (change["old"], change["new"]) == ("registry.local:5000/api:v1", "registry.local:5000/api:v2")
    assert sim.changes == [] and sim.deploy_calls == 0


# -- the pieces, the library, the inputs ---------------------------------------------------------


@pytest.mark.parametrize(
    "image, tag, expected",
    [
        ("registry.local/web:v1", "v2", "registry.local/web:v2"),
        ("registry.local:5000/team/web:v1", "v2", "registry.local:5000/team/web:v2"),
        ("nginx", "1.27", "nginx:1.27"),
        ("localhost:5000/web", "v3", "localhost:5000/web:v3"),
        ("ghcr.io/acme/web:v1@sha256:" + "a" * 64, "v2", "ghcr.io/acme/web:v2"),
    ],
)
def test_a_new_tag_keeps_the_registry_port_and_name(image, tag, expected):
    assert with_tag(image, tag) == expected
    assert tag_of(expected) == tag


def test_env_text_keeps_comments_and_blank_lines_and_drops_later_duplicates():
    text = "A=1\n#A=commented\nA=2\n\nB=3"
    assert with_variables(text, [("A", "x"), ("C", "y")]) == "A=x\n#A=commented\n\nB=3\nC=y"


@pytest.mark.parametrize(
    "option, said",
    [
        (("--image-tag", "-bad"), "not a Docker image tag"),
        (("--image-tag", "v1 v2"), "not a Docker image tag"),
        (("--env", "NOEQUALS"), "KEY=VALUE"),
        (("--env", "9KEY=x"), "KEY=VALUE"),
        (("--commit", "abc;rm"), "not a commit"),
        (("--rollback-on-failure",), "needs the version"),
    ],
)
def test_bad_version_options_are_exit_2_before_anything_is_sent(coolify, run, option, said):
    web = image_app()
    sim = coolify([web])
    result = run(*coolify_args(sim, "--uuid", web.uuid, *option))
    assert result.exit_code == 2 and said in result.stderr
    assert sim.requests == []


def test_the_action_input_env_is_one_assignment_a_line(coolify, tmp_path):
    from tests.test_image import entrypoint, image_cmd

    web = image_app()
    sim = coolify([web])
    env = {
        "INPUT_URL": sim.url,
        "INPUT_TOKEN": TOKEN,
        "INPUT_UUID": web.uuid,
        "INPUT_IMAGE-TAG": "v2",
        "INPUT_ENV": f"API_KEY={SECRET}\nMODE=prod\n",
        "INPUT_POLL-INTERVAL": "0.2s",
        "INPUT_ROLLBACK-ON-FAILURE": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
    }
    done = entrypoint(*image_cmd(), env=env)
    assert done.returncode == 0, done.stderr
    assert web.envs == {"API_KEY": SECRET, "MODE": "prod"} and web.image_tag == "v2"
    assert SECRET not in done.stdout + done.stderr
    assert outputs_of(tmp_path / "out")["version"] == "v2"


def test_the_library_reports_version_and_rollback(coolify):
    web = image_app(failing_versions=("v2",))
    sim = coolify([web])
    result = deployer.deploy(
        provider="coolify",
        url=sim.url,
        token=TOKEN,
        uuid=[web.uuid],
        image_tag="v2",
        rollback_on_failure=True,
        poll_interval=1,
    )
    assert (result.exit_code, result.version, result.rolled_back) == (1, "v1", True)
    assert [d.status for d in result.deployments] == ["failed", "finished"]
    changes = deployer.api.plan_changes(provider="coolify", url=sim.url, token=TOKEN, uuid=[web.uuid], image_tag="v3")
    assert [str(c) for c in changes] == ["web: image tag v1 -> v3"]


def test_readme_documents_every_version_option():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for option in ("--image-tag", "--commit", "--env", "--rollback-on-failure", "DEPLOY_VERSION", "rolled-back"):
        assert option in readme
