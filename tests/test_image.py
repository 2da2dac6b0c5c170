"""The image's ENTRYPOINT and CMD, called the three ways the image is used, with the environment
exactly as each caller sets it (the image itself is built by the project's GitHub workflow; no
Docker engine runs here)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deployer.simulator.coolify import SimResource
from deployer.simulator.dokploy import SimTarget
from tests.runner_files import GitHubLog, parse_github_file

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def dockerfile_instruction(name: str) -> list[str]:
    """The exec form of ENTRYPOINT or CMD in the Dockerfile."""
    match = re.search(rf"^{name}\s+(\[.*\])\s*$", (ROOT / "Dockerfile").read_text(), re.M)
    assert match, f"the Dockerfile has no exec-form {name}"
    return json.loads(match.group(1))


def image_cmd() -> list[str]:
    """The CMD the Dockerfile gives: what GitHub runs when the action passes no args."""
    return dockerfile_instruction("CMD")


def entrypoint(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the Dockerfile's ENTRYPOINT as Docker does: exec'd directly (no shell), `args` after it,
    the installed console scripts on PATH as in the image, and only the variables given."""
    program, *fixed = dockerfile_instruction("ENTRYPOINT")
    found = shutil.which(program, path=str(BIN)) or shutil.which(program)
    assert found, f"the ENTRYPOINT {program!r} is not installed (pip install -e .)"
    path = str(BIN) + os.pathsep + "/usr/local/bin:/usr/bin:/bin"
    full_env = {"PATH": path, "HOME": str(cwd or ROOT), **(env or {})}
    return subprocess.run([found, *fixed, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=60)


def action_inputs() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]


def test_the_entrypoint_is_no_shell_script():
    """busybox ash (alpine's /bin/sh) and dash drop INPUT_APPLICATION-ID and every other hyphenated
    input from what they start: nothing between the runner and deployer may be a shell."""
    program = dockerfile_instruction("ENTRYPOINT")[0]
    assert program not in ("sh", "/bin/sh", "bash", "/bin/bash")
    found = shutil.which(program, path=str(BIN))
    assert found and not Path(found).read_text(errors="replace").startswith(
        ("#!/bin/sh", "#!/bin/bash", "#!/usr/bin/env sh")
    )


@pytest.mark.skipif(
    shutil.which("busybox") is None and os.environ.get("CI") != "true", reason="busybox is not installed"
)
def test_busybox_sh_drops_hyphenated_inputs_so_no_shell_may_stand_in_between():
    """The trap the ENTRYPOINT avoids, shown with alpine's own shell (.ci/run installs busybox)."""
    busybox = shutil.which("busybox")
    assert busybox, "busybox is missing: .ci/run installs it"
    env = {"PATH": "/usr/bin:/bin", "INPUT_APPLICATION-ID": "app-1", "INPUT_URL": "http://x"}
    seen = subprocess.run([busybox, "sh", "-c", "env"], capture_output=True, text=True, env=env).stdout
    assert "INPUT_URL=http://x" in seen and "INPUT_APPLICATION-ID" not in seen


def _non_default_inputs(tmp_path: Path, url: str) -> list[dict[str, str]]:
    """Every input of action.yml, each set to a value that is not its default, in three coherent
    runs (Coolify by uuid and name, Coolify by tag, Dokploy): a dry run lists where each came from."""
    ca = tmp_path / "ca.pem"
    import trustme

    trustme.CA().cert_pem.write_to_path(str(ca))
    config = tmp_path / "deployer.yml"
    config.write_text(
        "environments:\n  staging:\n    provider: coolify\n    url: https://config.example.com\n"
        "    resources: [{name: from-config}]\n  production:\n    resources: [{name: other}]\n"
    )
    common = {
        "url": url,
        "token": "12|input-secret",
        "wait": "false",
        "timeout": "7m",
        "poll-interval": "3s",
        "cancel-on-timeout": "true",
        "logs": "none",
        "request-budget": "30",
        "ca-cert": str(ca),
        "insecure": "true",
        "config": str(config),
        "environment": "staging",
        "health-url": "https://app.example.com/healthz",
        "github-token": "gh-input-secret",
        "github-environment": "prod-gh",
        "dry-run": "true",
    }
    return [
        {
            **common,
            "provider": "coolify",
            "uuid": "uuid-1,uuid-2",
            "name": "shop/web",
            "force": "true",
            "pr": "7",
            "docker-tag": "v2",
            "wait-healthy": "true",
        },
        {**common, "provider": "coolify", "tag": "prod"},
        {
            **common,
            "provider": "dokploy",
            "application-id": "app-1",
            "compose-id": "stack-1",
            "title": "Release 2",
            "description": "from CI",
        },
    ]


def test_every_action_input_reaches_deployer_through_the_entrypoint(tmp_path):
    """The runner's environment, names hyphens and all, through ENTRYPOINT + CMD: each input arrives."""
    declared = set(action_inputs())
    runs = _non_default_inputs(tmp_path, "https://deploy.example.com")
    assert set().union(*runs) == declared - VERSION_INPUTS  # every input is exercised (those below too)
    for inputs in runs:
        env = {"GITHUB_ACTIONS": "true", "CI": "true", "PYTHONUNBUFFERED": "1", "GITHUB_WORKSPACE": str(tmp_path)}
        env.update({f"INPUT_{name.upper()}": "" for name in declared})  # unset inputs arrive empty
        env.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
        done = entrypoint(*image_cmd(), env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Dry run: nothing was sent" in done.stdout
        for name in inputs:
            assert re.search(rf"^  {re.escape(name)}\s.*\sinput '{re.escape(name)}'$", done.stdout, re.M), (
                name,
                done.stdout,
            )
        assert "input-secret" not in done.stdout + done.stderr


#: Inputs whose dry run reads the resource (to show old -> new): exercised against a simulator.
VERSION_INPUTS = {
    "image-tag",
    "commit",
    "env",
    "rollback-on-failure",
    "compose-file",
    "server",
    "force-domain-override",
}


def test_every_version_input_reaches_deployer_through_the_entrypoint(coolify, tmp_path):
    image, site = SimResource("img", docker_image=True), SimResource("site")
    sim = coolify([image, site])
    stack = tmp_path / "compose.yml"
    stack.write_text("services:\n  web:\n    image: nginx\n")
    runs = [
        {"uuid": image.uuid, "image-tag": "v9", "env": "A=input-secret\nB=2", "rollback-on-failure": "true"},
        {"uuid": site.uuid, "commit": "0a1b2c3d"},
        {
            "name": "acme/production/stack",
            "compose-file": str(stack),
            "server": "localhost",
            "force-domain-override": "true",
        },
    ]
    assert set().union(*runs) - {"uuid", "name"} == VERSION_INPUTS
    declared = set(action_inputs())
    for inputs in runs:
        env = {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": str(tmp_path)}
        env.update({f"INPUT_{name.upper()}": "" for name in declared})
        env.update({"INPUT_URL": sim.url, "INPUT_TOKEN": "root-token", "INPUT_DRY-RUN": "true"})
        env.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
        done = entrypoint(*image_cmd(), env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Would change:" in done.stdout or "Would create the stack" in done.stdout
        for name in set(inputs) - {"uuid", "name"}:
            assert re.search(rf"^  {re.escape(name)}\s.*\sinput '{re.escape(name)}'$", done.stdout, re.M), name
        assert "input-secret" not in done.stdout + done.stderr
    assert sim.changes == [] and sim.triggers == 0


def test_github_runs_the_cmd_with_inputs_and_writes_outputs(coolify, tmp_path):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.4)
    sim = coolify([web])
    workspace, files = tmp_path / "workspace", tmp_path / "file_commands"
    workspace.mkdir()
    files.mkdir()
    output = files / "set_output_1"
    env = {
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "PYTHONUNBUFFERED": "1",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_WORKSPACE": str(workspace),
        "INPUT_URL": sim.url,
        "INPUT_TOKEN": "root-token",
        "INPUT_UUID": web.uuid,
        "INPUT_POLL-INTERVAL": "0.2s",
        "INPUT_TIMEOUT": "",
        "INPUT_FORCE": "false",
        "INPUT_PROVIDER": "",
    }
    done = entrypoint(*image_cmd(), env=env, cwd=workspace)
    assert done.returncode == 0, done.stderr
    outputs = parse_github_file(output.read_text())
    assert outputs["status"] == "finished"
    assert outputs["deployment-id"] == sim.deployments[0].uuid
    log = GitHubLog(done.stdout)
    assert ("add-mask", "", "root-token") in log.commands  # masked first
    assert log.commands[0][0] == "add-mask"
    assert "root-token" not in "\n".join(log.shown) + done.stderr  # and never shown


def test_github_deploys_a_dokploy_application_by_its_hyphenated_input(dokploy, tmp_path):
    """`application-id` arrives as INPUT_APPLICATION-ID: the published action must deploy with it."""
    web = SimTarget("web", build_seconds=0.4)
    sim = dokploy([web])
    output = tmp_path / "out"
    env = {
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_OUTPUT": str(output),
        "INPUT_PROVIDER": "dokploy",
        "INPUT_URL": sim.url,
        "INPUT_TOKEN": "dokploy-key",
        "INPUT_APPLICATION-ID": web.id,
        "INPUT_POLL-INTERVAL": "0.2s",
        "INPUT_UUID": "",
    }
    done = entrypoint(*image_cmd(), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sim.deploy_calls == 1
    assert parse_github_file(output.read_text())["deployment-id"] == sim.jobs[0].deployment_id


def test_github_run_of_a_failed_deployment_fails_the_step(coolify, tmp_path):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.4, outcome="failed")
    sim = coolify([web])
    env = {
        "INPUT_URL": sim.url,
        "INPUT_TOKEN": "root-token",
        "INPUT_UUID": web.uuid,
        "INPUT_POLL-INTERVAL": "0.2s",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
    }
    done = entrypoint(*image_cmd(), env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert parse_github_file((tmp_path / "out").read_text())["status"] == "failed"


@pytest.mark.parametrize("shell", ["sh", "busybox"])
def test_gitlab_hands_the_image_a_shell(tmp_path, shell):
    """GitLab's Docker executor keeps the ENTRYPOINT and passes a shell command: it runs as given
    (busybox: alpine's own shell, as in the image)."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")  # .ci/run installs busybox
    command = ["busybox", "sh"] if shell == "busybox" else ["sh"]
    done = entrypoint(*command, "-c", "echo from-gitlab && deployer --version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "from-gitlab"
    assert done.stdout.splitlines()[1].startswith("deployer ")


@pytest.mark.parametrize("args", [("--version",), ("deploy", "--help")])
def test_docker_run_passes_deployer_arguments(args, tmp_path):
    done = entrypoint(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "deployer" in done.stdout


def test_docker_run_with_bad_input_exits_2(tmp_path):
    done = entrypoint("deploy", "--uuid", "a1", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("deployer: error:")


def test_action_yml_pulls_the_image_of_this_version():
    """Users pull a prebuilt image (seconds) rather than build the Dockerfile (minutes)."""
    import yaml

    from deployer import __version__

    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "docker"
    assert action["runs"]["image"] == f"docker://ghcr.io/deployer-dev/deployer:v{__version__}"
    assert "args" not in action["runs"]  # the image's CMD (deploy) runs, reading the INPUT_* variables


def test_action_yml_declares_every_input_and_output_of_the_contract():
    import yaml

    action = yaml.safe_load((ROOT / "action.yml").read_text())
    from deployer.cli import deploy

    contract = {
        "provider",
        "url",
        "token",
        "uuid",
        "tag",
        "force",
        "pr",
        "docker-tag",
        "application-id",
        "compose-id",
        "title",
        "description",
        "wait",
        "timeout",
        "poll-interval",
        "cancel-on-timeout",
        "logs",
        "ca-cert",
        "insecure",
        "config",
        "image-tag",
        "commit",
        "env",
        "rollback-on-failure",
    }
    # Every option of `deploy` is an input too (INPUT_<NAME> is read for each), except the two
    # CONTRACT.md gives no input: --output and --dotenv.
    options = {p.name.replace("_", "-") for p in deploy.params} - {"output", "dotenv"}
    assert contract <= options
    assert set(action["inputs"]) == options
    assert all(spec.get("description") for spec in action["inputs"].values())
    assert set(action["outputs"]) == {
        "status",
        "deployment-id",
        "deployment-ids",
        "deployment-url",
        "duration",
        "version",
        "rolled-back",
        "resource-id",
        "created",
        "result",
    }
