"""The image's entrypoint, called the three ways the image is used (the image itself is built by
the project's GitHub workflow; no Docker engine runs here)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deployer.simulator.coolify import SimResource
from tests.runner_files import GitHubLog, parse_github_file

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "entrypoint.sh"


def image_cmd() -> list[str]:
    """The CMD the Dockerfile gives: what GitHub runs when the action passes no args."""
    match = re.search(r"^CMD\s+(\[.*\])\s*$", (ROOT / "Dockerfile").read_text(), re.M)
    assert match, "the Dockerfile has no exec-form CMD"
    return json.loads(match.group(1))


def entrypoint(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run entrypoint.sh with deployer on PATH, as in the image."""
    deployer = shutil.which("deployer", path=os.path.dirname(sys.executable)) or shutil.which("deployer")
    assert deployer, "the deployer console script is not installed"
    path = os.path.dirname(deployer) + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")
    full_env = {"PATH": path, "HOME": str(cwd or ROOT), **(env or {})}
    return subprocess.run(["sh", str(ENTRYPOINT), *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=60)


def test_github_runs_the_cmd_with_inputs_and_writes_outputs(coolify, tmp_path):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.4)
    sim = coolify([web])
    workspace, files = tmp_path / "workspace", tmp_path / "file_commands"
    workspace.mkdir()
    files.mkdir()
    output = files / "set_output_1"
    env = {
        "GITHUB_ACTIONS": "true", "CI": "true", "PYTHONUNBUFFERED": "1",
        "GITHUB_OUTPUT": str(output), "GITHUB_WORKSPACE": str(workspace),
        "INPUT_URL": sim.url, "INPUT_TOKEN": "root-token", "INPUT_UUID": web.uuid,
        "INPUT_POLL-INTERVAL": "0.2s", "INPUT_TIMEOUT": "", "INPUT_FORCE": "false", "INPUT_PROVIDER": "",
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


def test_github_run_of_a_failed_deployment_fails_the_step(coolify, tmp_path):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.4, outcome="failed")
    sim = coolify([web])
    env = {"INPUT_URL": sim.url, "INPUT_TOKEN": "root-token", "INPUT_UUID": web.uuid, "INPUT_POLL-INTERVAL": "0.2s",
           "GITHUB_OUTPUT": str(tmp_path / "out")}
    done = entrypoint(*image_cmd(), env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert parse_github_file((tmp_path / "out").read_text())["status"] == "failed"


def test_gitlab_hands_the_image_a_shell(tmp_path):
    done = entrypoint("sh", "-c", "echo from-gitlab && deployer --version", cwd=tmp_path)
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

    contract = {"provider", "url", "token", "uuid", "tag", "force", "pr", "docker-tag", "application-id", "compose-id",
                "title", "description", "wait", "timeout", "poll-interval", "cancel-on-timeout", "logs", "ca-cert",
                "insecure", "config"}
    # Every option of `deploy` is an input too (INPUT_<NAME> is read for each), except the two
    # CONTRACT.md gives no input: --output and --dotenv.
    options = {p.name.replace("_", "-") for p in deploy.params} - {"output", "dotenv"}
    assert contract <= options
    assert set(action["inputs"]) == options
    assert all(spec.get("description") for spec in action["inputs"].values())
    assert set(action["outputs"]) == {"status", "deployment-id", "deployment-ids", "deployment-url", "duration", "result"}
