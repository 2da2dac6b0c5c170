"""The README's copy-paste recipes work as written: each is run here, against the simulators, the
way its platform runs it (GitHub: the action's inputs through the image's entrypoint; GitLab: the
job's script in a shell; docker run and pip: the command line)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from deployer.simulator.coolify import SimResource
from deployer.simulator.dokploy import SimTarget
from tests.runner_files import parse_github_file, parse_gitlab_dotenv
from tests.test_image import entrypoint, image_cmd

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BIN = str(Path(sys.executable).parent)


def blocks(heading: str, language: str) -> list[str]:
    """The fenced blocks of one language under a `## heading` (up to the next `## `)."""
    section = README.split(f"\n## {heading}", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def commands(block: str) -> list[str]:
    """The block's shell lines, continuations joined, comments and blank lines dropped."""
    joined = block.replace("\\\n", " ")
    return [
        line.split("  #")[0].strip()
        for line in joined.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def as_deployer(line: str, placeholders: dict[str, str]) -> list[str]:
    """`docker run ... IMAGE deploy ...` or `deployer deploy ...` as deployer's own arguments."""
    for placeholder, value in placeholders.items():
        line = line.replace(placeholder, value)
    words = shlex.split(line)
    if words[0] == "docker":
        image = next(i for i, w in enumerate(words) if w.startswith("ghcr.io/"))
        return words[image + 1 :]
    assert words[0] == "deployer", line
    return words[1:]


def run_deployer(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {"PATH": BIN + os.pathsep + os.environ.get("PATH", ""), "HOME": str(cwd), **env}
    return subprocess.run(
        [shutil.which("deployer", path=BIN) or "deployer", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        timeout=120,
    )


def test_the_github_recipe(coolify, tmp_path):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.5)
    sim = coolify([web])
    workflow = yaml.safe_load(blocks("GitHub Actions", "yaml")[0])
    [step] = [
        s for s in workflow["jobs"]["deploy"]["steps"] if str(s.get("uses", "")).startswith("deployer-dev/deployer@")
    ]
    values = {
        "${{ secrets.COOLIFY_TOKEN }}": "root-token",
        "${{ vars.COOLIFY_APP_UUID }}": web.uuid,
        "https://coolify.example.com": sim.url,
    }
    inputs = {name: values.get(str(value), str(value)) for name, value in step["with"].items()}
    output = tmp_path / "output"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output)}
    env.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
    done = entrypoint(*image_cmd(), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert parse_github_file(output.read_text())["status"] == "finished"


def test_the_gitlab_recipe(coolify, tmp_path):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.5)
    sim = coolify([web])
    pipeline = yaml.safe_load(blocks("GitLab CI", "yaml")[0])
    job = pipeline["deploy"]
    assert job["image"]["entrypoint"] == [""] and job["artifacts"]["reports"]["dotenv"] == "deploy.env"
    env = {
        "PATH": BIN + os.pathsep + os.environ.get("PATH", ""),
        "GITLAB_CI": "true",
        "COOLIFY_URL": sim.url,
        "COOLIFY_TOKEN": "root-token",
        "COOLIFY_APP_UUID": web.uuid,
        "HOME": str(tmp_path),
    }
    for line in job["script"]:
        done = subprocess.run(["sh", "-c", line], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    assert parse_gitlab_dotenv((tmp_path / "deploy.env").read_text())["DEPLOY_STATUS"] == "finished"


def test_the_docker_run_recipes(coolify, dokploy, tmp_path):
    web, app = SimResource("web", queue_seconds=0.1, build_seconds=0.5), SimTarget("app", build_seconds=0.5)
    csim, dsim = coolify([web]), dokploy([app])
    env = {
        "COOLIFY_URL": csim.url,
        "COOLIFY_TOKEN": "root-token",
        "DOKPLOY_URL": dsim.url,
        "DOKPLOY_API_KEY": "dokploy-key",
    }
    lines = commands(blocks("docker run (any other runner)", "sh")[0])
    assert len(lines) == 2
    for line in lines:
        passed = {name: env[name] for name in re.findall(r"-e (\w+)", line)}  # only what `docker run -e` passes in
        done = run_deployer(
            as_deployer(line, {"<application-uuid>": web.uuid, "<applicationId>": app.id}), passed, tmp_path
        )
        assert done.returncode == 0, line + "\n" + done.stdout + done.stderr


def test_the_quick_start_recipes_for_both_servers(coolify, dokploy, tmp_path):
    web, app = SimResource("web", queue_seconds=0.1, build_seconds=0.5), SimTarget("app", build_seconds=0.5)
    csim, dsim = coolify([web]), dokploy([app])
    ours = {
        "COOLIFY_URL": csim.url,
        "COOLIFY_TOKEN": "root-token",
        "DOKPLOY_URL": dsim.url,
        "DOKPLOY_API_KEY": "dokploy-key",
    }
    placeholders = {"<application-uuid>": web.uuid, "<applicationId>": app.id}
    ran = 0
    for block in blocks("Quick start", "sh"):
        env: dict[str, str] = {}
        for line in commands(block):
            if line.startswith("export "):
                name = line.split()[1].split("=", 1)[0]
                env[name] = ours[name]  # the recipe's placeholder value, made real
            elif line.startswith("deployer deploy"):
                done = run_deployer(as_deployer(line, placeholders), env, tmp_path)
                assert done.returncode == 0, line + "\n" + done.stdout + done.stderr
                ran += 1
    assert ran == 2  # Coolify and Dokploy
