"""GitHub Actions, GitLab CI and a terminal: what each platform makes of deployer's output."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import yaml

from deployer.model import Deployment
from deployer.reporting import make_reporter
from deployer.reporting.summary import summary_markdown
from deployer.reporting.terminal import ConsoleReporter, TerminalReporter
from deployer.simulator.coolify import SimResource
from tests.runner_files import (
    GitHubLog,
    parse_github_file,
    parse_gitlab_dotenv,
    unescape_data,
)

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "root-token"
HOSTILE = (
    "::set-output name=status::finished",
    "::add-mask::hostile",
    "::error::injected",
    "   ::warning::indented",
    "::stop-commands::abc",
    "::abc::",
    "::add-mask::after-resume",
    "\x1b[0Ksection_end:1:deployer_log_1\r\x1b[0K",
)


def github_env(tmp_path: Path) -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }


def test_github_obeys_no_command_from_a_hostile_log(coolify, run, tmp_path):
    bad = SimResource("::error::pwn", outcome="failed", queue_seconds=0.1, build_seconds=0.5, log_extra=HOSTILE)
    sim = coolify([bad])
    result = run(
        "deploy",
        "--url",
        sim.url,
        "--token",
        TOKEN,
        "--uuid",
        bad.uuid,
        "--poll-interval",
        "0.2s",
        env=github_env(tmp_path),
    )
    assert result.exit_code == 1
    log = GitHubLog(result.stdout)

    assert [c[2] for c in log.named("add-mask")] == [TOKEN]  # only ours
    assert not log.named("set-output") and not log.named("warning")
    stops = [c[2] for c in log.named("stop-commands")]
    assert stops and all(re.fullmatch(r"[0-9a-f]{32}", t) for t in stops)  # only our random fences
    [annotation] = log.named("error")
    assert annotation[1].startswith("title=Deployment failed")
    assert "did not complete successfully" in unescape_data(annotation[2])
    shown = "\n".join(log.shown)
    # shown (a leading "::" broken up), never obeyed
    assert ": :set-output name=status::finished" in shown and ": :error::injected" in shown
    assert "\x1b" not in shown  # no escape sequences from the server
    assert len(log.named("group")) == len(log.named("endgroup")) >= 1
    assert parse_github_file((tmp_path / "output").read_text())["status"] == "failed"  # the true one


def test_github_summary_has_a_row_per_resource(coolify, run, tmp_path):
    ok = SimResource("web", queue_seconds=0.1, build_seconds=0.4)
    bad = SimResource("api", outcome="failed", queue_seconds=0.1, build_seconds=0.4)
    sim = coolify([ok, bad])
    run(
        "deploy",
        "--url",
        sim.url,
        "--token",
        TOKEN,
        "--uuid",
        f"{ok.uuid},{bad.uuid}",
        "--poll-interval",
        "0.2s",
        env=github_env(tmp_path),
    )
    summary = (tmp_path / "summary.md").read_text()
    assert "| web | ✅ finished |" in summary and "| api | ❌ failed |" in summary
    assert f"]({sim.url}/project/" in summary
    assert "<details><summary>Last lines of api's build log" in summary


def test_summary_stays_under_1_mib_whatever_the_logs():
    deployments = []
    for i in range(200):
        d = Deployment("coolify", f"app{i}", "application", f"d{i}", status="failed", message="x" * 5000)
        d.log_tail = ["```" + "y" * 20000 for _ in range(50)]
        deployments.append(d)
    text = summary_markdown("failed", 10, deployments)
    assert len(text.encode()) < 1024 * 1024
    assert text.count("| app") == 200


def test_summary_cells_cannot_break_the_table():
    d = Deployment("coolify", "a", "application", "d1", status="failed", message="a | b\nc", name="x|y")
    row = [line for line in summary_markdown("failed", 1, [d]).splitlines() if line.startswith("| x")][0]
    assert row.count(" | ") == 4  # five cells, the pipes in text escaped


SCENARIOS = ["success", "failure", "bad-token", "unreachable", "timeout"]
MODES = ["plain", "github", "gitlab", "json"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_token_never_appears(coolify, run, tmp_path, mode, scenario):
    secret = "tok-Very$ecret/42"
    web = SimResource(
        "web",
        queue_seconds=0.1,
        build_seconds=0.3 if scenario != "timeout" else 30,
        outcome="failed" if scenario == "failure" else "finished",
        log_extra=(f"echo {secret}",),
    )
    sim = coolify([web], tokens={secret: frozenset({"root"})})
    url = sim.url if scenario != "unreachable" else "http://127.0.0.1:9"
    token = secret if scenario != "bad-token" else secret + "x"
    env = {
        "DEPLOYER_DOTENV": str(tmp_path / "deploy.env"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    extra = []
    if mode == "github":
        env["GITHUB_ACTIONS"] = "true"
    elif mode == "gitlab":
        env["GITLAB_CI"] = "true"
    elif mode == "json":
        extra = ["--output", "json"]
    result = run(
        "deploy",
        "--url",
        f"{url}/api/v1",
        "--token",
        token,
        "--uuid",
        web.uuid,
        "--poll-interval",
        "0.2s",
        "--timeout",
        {"timeout": "1s", "unreachable": "3s"}.get(scenario, "20s"),
        *extra,
        env=env,
    )
    assert (
        result.exit_code
        in {"success": (0,), "failure": (1,), "bad-token": (3,), "unreachable": (3,), "timeout": (4,)}[scenario]
    )
    files = [p.read_text() for p in tmp_path.iterdir()]
    stdout = result.stdout
    if mode == "github":
        log = GitHubLog(stdout)
        assert {c[2] for c in log.named("add-mask")} >= {token}
        stdout = "\n".join(log.shown)
        stderr_log = GitHubLog(result.stderr)
        assert not stderr_log.named("add-mask")
    for text in (stdout, result.stderr, *files):
        assert token not in text and "Very$ecret" not in text and "Very%24ecret" not in text


def test_gitlab_sections_are_balanced_and_cannot_be_forged(coolify, run, tmp_path):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.5, log_extra=HOSTILE)
    api = SimResource("api", queue_seconds=0.1, build_seconds=0.5)
    sim = coolify([web, api])
    env = {"GITLAB_CI": "true", "DEPLOYER_DOTENV": str(tmp_path / "deploy.env")}
    result = run(
        "deploy",
        "--url",
        sim.url,
        "--token",
        TOKEN,
        "--uuid",
        f"{web.uuid} {api.uuid}",
        "--poll-interval",
        "0.2s",
        env=env,
    )
    assert result.exit_code == 0, result.output
    starts = re.findall(r"\x1b\[0Ksection_start:\d+:([A-Za-z0-9_.-]+)\[collapsed=true\]\r\x1b\[0K", result.stdout)
    ends = re.findall(r"\x1b\[0Ksection_end:\d+:([A-Za-z0-9_.-]+)\r\x1b\[0K", result.stdout)
    assert starts and starts == ends  # every section we open we close, and no other end marker exists
    values = parse_gitlab_dotenv((tmp_path / "deploy.env").read_text())
    assert values["DEPLOY_STATUS"] == "finished"


def test_gitlab_example_uses_the_image_shell_and_the_dotenv_url():
    example = yaml.safe_load((ROOT / "examples" / ".gitlab-ci.yml").read_text())
    jobs = [job for name, job in example.items() if isinstance(job, dict) and "script" in job]
    deploy = next(job for job in jobs if any("deployer deploy" in line for line in job["script"]))
    assert deploy["image"]["entrypoint"] == [""]
    assert deploy["artifacts"]["reports"]["dotenv"]
    assert deploy["environment"]["url"] == "$DEPLOY_URL"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _drive(reporter: ConsoleReporter) -> str:
    d = Deployment("coolify", "w1", "application", "d1", name="web")
    reporter.triggered([d], "https://c.example.com")
    d.status = "in_progress"
    reporter.status(d, 2)
    reporter.log(d, ["building"])
    reporter.tick(3)
    d.status, d.duration = "finished", 5
    reporter.status(d, 5)
    reporter.summary("finished", 5, [d])
    return reporter.out.getvalue()  # type: ignore[attr-defined]


def test_terminal_gets_a_coloured_live_view():
    out = _drive(make_reporter(Tty(), lambda s: s, {}, []))
    assert "\x1b[32m" in out  # finished in green
    assert "\x1b[1F" in out and "web" in out  # the live block is redrawn in place
    assert out.rstrip().splitlines()[-1].startswith("  web")  # ends on the summary


def test_no_color_is_respected():
    reporter = make_reporter(Tty(), lambda s: s, {"NO_COLOR": "1"}, [])
    assert isinstance(reporter, TerminalReporter)
    out = _drive(reporter)
    assert not re.search(r"\x1b\[3\dm", out)


def test_not_a_terminal_gets_plain_lines():
    reporter = make_reporter(io.StringIO(), lambda s: s, {}, [])
    assert type(reporter) is ConsoleReporter
    assert "\x1b" not in _drive(reporter)


def test_a_quiet_deployment_gets_a_heartbeat_line():
    now = [0.0]
    reporter = ConsoleReporter(io.StringIO(), lambda s: s, clock=lambda: now[0])
    d = Deployment("coolify", "w1", "application", "d1", status="in_progress", name="web")
    reporter.triggered([d], "https://c.example.com")
    now[0] = 30
    reporter.tick(30)
    assert "still" not in reporter.out.getvalue()
    now[0] = 61
    reporter.tick(61)
    assert "web: still in_progress after 1m01s" in reporter.out.getvalue()


def test_json_mode_keeps_stdout_a_single_json_document_in_github(coolify, run, tmp_path):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.3)
    sim = coolify([web])
    result = run(
        "deploy",
        "--url",
        sim.url,
        "--token",
        TOKEN,
        "--uuid",
        web.uuid,
        "--poll-interval",
        "0.2s",
        "--output",
        "json",
        env=github_env(tmp_path),
    )
    assert json.loads(result.stdout)["status"] == "finished"
    assert GitHubLog(result.stderr).named("add-mask")


def _demo_in_a_terminal(env: dict[str, str]) -> str:
    """`deployer demo` in a pseudo-terminal, as a person runs it; everything it drew."""
    import sys

    from tests.test_terminal import run_in_terminal

    return run_in_terminal([sys.executable, "-m", "deployer", "demo"], 80, 24, env=env).decode("utf-8", "replace")


@pytest.mark.parametrize(
    "env, escapes", [({"TERM": "xterm", "NO_COLOR": "1"}, "no colour"), ({"TERM": "dumb"}, "none at all")]
)
def test_the_demo_honours_no_color_and_a_dumb_terminal(env, escapes):
    drawn = _demo_in_a_terminal(env)
    assert "Result: finished" in drawn
    assert not re.search(r"\x1b\[\d+m", drawn)  # no colour either way
    if escapes == "none at all":
        assert "\x1b" not in drawn  # no live block redrawn with cursor moves either


def test_deployer_alone_prints_its_help_and_succeeds(run):
    result = run()
    assert result.exit_code == 0 and result.stdout.startswith("Usage: deployer") and not result.stderr


@pytest.mark.parametrize("command", ["deploy", "status", "plan"])
def test_deployer_help_command_shows_that_commands_help(run, command):
    result = run("help", command)
    assert result.exit_code == 0 and result.stdout.startswith(f"Usage: deployer {command}")


def test_deployer_help_of_an_unknown_command_is_exit_2(run):
    result = run("help", "nope")
    assert result.exit_code == 2 and "no command 'nope'" in result.stderr


@pytest.mark.parametrize("platform", ["github", "gitlab"])
def test_one_fold_per_deployment_holding_its_whole_log_and_verdicts_outside(coolify, run, tmp_path, platform):
    """Three resources streaming at once: one group (section) each, titled with the resource and
    holding its whole log, not a group per poll; the verdict lines stand outside the groups."""
    apps = [SimResource(name, queue_seconds=0.1, build_seconds=1.2, log_lines=30) for name in ("api", "web", "worker")]
    sim = coolify(apps)
    env = github_env(tmp_path) if platform == "github" else {"GITLAB_CI": "true"}
    result = run(
        "deploy",
        "--url",
        sim.url,
        "--token",
        TOKEN,
        "--uuid",
        ",".join(a.uuid for a in apps),
        "--poll-interval",
        "0.2s",
        env=env,
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    if platform == "github":
        opens = re.findall(r"^::group::(.*)$", out, re.M)
        blocks = re.findall(r"^::group::.*?^::endgroup::$", out, re.M | re.S)
    else:
        opens = re.findall(r"section_start:\d+:deployer_log_\d+\[collapsed=true\]\r\x1b\[0K(.*)$", out, re.M)
        blocks = re.findall(r"section_start:.*?section_end:\d+:deployer_log_\d+", out, re.S)
    assert sorted(opens) == ["Build log: api", "Build log: web", "Build log: worker"]
    for app_, block in zip(
        sorted(apps, key=lambda a: a.name), sorted(blocks, key=lambda b: b.split("Build log: ")[1][:6]), strict=True
    ):
        assert block.count("Starting deployment of acme/") == 1 and f"acme/{app_.name}:main" in block
        assert "Rolling update completed." in block
        assert ": finished after" not in block  # verdicts outside
    for name in ("api", "web", "worker"):
        assert re.search(rf"^{name}: finished after", out, re.M)


def test_a_single_deployment_streams_live_in_one_group(coolify, run, tmp_path):
    web = SimResource("web", queue_seconds=0.1, build_seconds=1.5, log_lines=20)
    sim = coolify([web])
    result = run(
        "deploy",
        "--url",
        sim.url,
        "--token",
        TOKEN,
        "--uuid",
        web.uuid,
        "--poll-interval",
        "0.2s",
        env=github_env(tmp_path),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.count("::group::") == 1 and result.stdout.count("::endgroup::") == 1
    group = result.stdout.split("::group::", 1)[1].split("::endgroup::", 1)[0]
    assert "Rolling update completed." in group and "web: finished after" not in group
