"""Hostile servers and inputs: no injection, no leak, bounded time and memory, no traceback."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from deployer.simulator.coolify import SimResource
from deployer.simulator.dokploy import SimTarget
from tests.hostile import HostileServer, response, trickle
from tests.runner_files import GitHubLog, parse_github_file

INJECTIONS = (
    "\n::error::pwned",
    "\r\n::add-mask::pwned",
    "\n  ::stop-commands::pwned",
    "\u2028::warning::pwned",
    "\x85::notice::pwned",
    "\n\x1b[0Ksection_start:1:pwned\r\x1b[0K",
    "\x1b]8;;http://evil\x07link",
    "\u202eexe.txt",
    "\x9b31m",
)
EVIL = "".join(INJECTIONS)
MODES = {
    "github": {"GITHUB_ACTIONS": "true"},
    "gitlab": {"GITLAB_CI": "true"},
    "plain": {},
}


def sinks(tmp_path: Path) -> dict[str, str]:
    return {
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "DEPLOYER_DOTENV": str(tmp_path / "deploy.env"),
    }


def everything(result, tmp_path: Path) -> str:
    """All a run wrote: stdout, stderr, the outputs file, the summary, the dotenv file."""
    files = [tmp_path / "output", tmp_path / "summary.md", tmp_path / "deploy.env"]
    return "\n".join([result.stdout, result.stderr] + [f.read_text() for f in files if f.exists()])


def assert_obeys_nothing(text: str) -> None:
    """Every command the runner obeys is one of ours (server text may be the data of our own group
    title or annotation, where it is shown, not obeyed); no escape, C1 or bidi control anywhere."""
    log = GitHubLog(text)
    for name, props, data in log.commands:
        assert name in ("add-mask", "group", "endgroup", "stop-commands", "resume", "error"), (name, data)
        if name == "add-mask":
            assert "pwned" not in data
        if name == "stop-commands":
            assert re.fullmatch(r"[0-9a-f]{32}", data), data
        if name == "error":
            assert props.startswith("title="), props
    ours = re.sub(r"\x1b\[0Ksection_(start|end):\d+:deployer_log_\d+(\[collapsed=true\])?\r\x1b\[0K", "", text)
    ours = re.sub(r"\x1b\[31;1m(deployer: error: [^\x1b]*)\x1b\[0m", r"\1", ours)  # our own red error line (GitLab)
    assert not re.search("[\x1b\x80-\x9f\u202a-\u202e\u2066-\u2069]", ours)
    for line in text.splitlines():
        assert "section_start:1:pwned" not in line, line


# -- 1. server text is data, never a command -------------------------------------------------------


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("output", ["text", "json"])
def test_coolify_text_cannot_inject_in_any_mode(coolify, run, tmp_path, mode, output):
    refused = SimResource("api" + EVIL, refusal="Unauthorized to deploy this application." + EVIL)
    failing = SimResource("web" + EVIL, outcome="failed", queue_seconds=0.1, build_seconds=0.3)
    sim = coolify([refused, failing])
    result = run(
        "deploy",
        "--url",
        sim.url,
        "--token",
        "root-token",
        "--uuid",
        f"{refused.uuid},{failing.uuid}",
        "--poll-interval",
        "0.2s",
        "--output",
        output,
        env={**MODES[mode], **sinks(tmp_path)},
    )
    assert result.exit_code == 1, result.output
    assert_obeys_nothing(everything(result, tmp_path))
    assert "Unauthorized to deploy this application." in result.stdout + result.stderr


@pytest.mark.parametrize("mode", sorted(MODES))
def test_dokploy_text_cannot_inject_in_any_mode(dokploy, run, tmp_path, mode):
    web = SimTarget("web" + EVIL, outcome="error", build_seconds=0.3, error_message="boom" + EVIL)
    sim = dokploy([web])
    result = run(
        "deploy",
        "--provider",
        "dokploy",
        "--url",
        sim.url,
        "--token",
        "dokploy-key",
        "--application-id",
        web.id,
        "--poll-interval",
        "0.2s",
        env={**MODES[mode], **sinks(tmp_path)},
    )
    assert result.exit_code == 1, result.output
    assert_obeys_nothing(everything(result, tmp_path))
    assert "boom" in result.stdout + result.stderr


@pytest.mark.parametrize("mode", sorted(MODES))
def test_error_messages_from_the_server_cannot_inject(run, tmp_path, mode):
    def script(method, target):
        yield response(401, json.dumps({"message": "Invalid token." + EVIL}).encode())

    with HostileServer(script) as server:
        result = run(
            "deploy",
            "--url",
            server.url,
            "--token",
            "t0ken-abc",
            "--uuid",
            "a1",
            env={**MODES[mode], **sinks(tmp_path)},
        )
    assert result.exit_code == 3
    assert_obeys_nothing(everything(result, tmp_path))
    assert "Invalid token." in result.stderr


# -- 2. secrets never leave, in any form ------------------------------------------------------------

COOLIFY_TOKEN = "12|s3cretValueOfTheToken"


def forms_of(token: str) -> list[str]:
    secret = token.split("|", 1)[1]
    return [
        token,
        secret,
        quote(token, safe=""),
        quote(token, safe="").replace("%7C", "%7c"),
        token.replace("|", "\\|"),
        base64.b64encode(token.encode()).decode().rstrip("="),
        base64.b64encode(secret.encode()).decode(),
    ]


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_server_echoing_the_token_in_any_form_leaks_it_nowhere(run, tmp_path, mode):
    echoed = " ".join(forms_of(COOLIFY_TOKEN)) + " " + base64.b64encode(b"Bearer " + COOLIFY_TOKEN.encode()).decode()

    def script(method, target):
        if target.startswith("/api/v1/deploy?"):
            body = {
                "deployments": [
                    {
                        "message": f"Application {echoed} deployment queued.",
                        "resource_uuid": "a1",
                        "deployment_uuid": "d1",
                    }
                ]
            }
            yield response(200, json.dumps(body).encode())
        else:
            yield response(
                200,
                json.dumps(
                    {
                        "deployment_uuid": "d1",
                        "status": "failed",
                        "application_name": echoed,
                        "deployment_url": f"/x/{quote(COOLIFY_TOKEN, safe='')}",
                        "logs": json.dumps([{"output": echoed, "type": "stdout"}]),
                    }
                ).encode(),
            )

    with HostileServer(script) as server:
        result = run(
            "deploy",
            "--url",
            server.url,
            "--token",
            COOLIFY_TOKEN + "\n",
            "--uuid",
            "a1",
            "--poll-interval",
            "0.2s",
            "--output",
            "json",
            env={**MODES[mode], **sinks(tmp_path)},
        )
    assert result.exit_code == 1, result.output
    # GitHub's own mask commands carry the token by design: the runner reads them and shows none.
    written = "\n".join(
        line for line in everything(result, tmp_path).splitlines() if not line.startswith("::add-mask::")
    )
    for form in forms_of(COOLIFY_TOKEN):
        assert form not in written, form


def test_a_token_with_a_line_break_inside_is_refused_and_never_printed(run, tmp_path):
    result = run(
        "deploy",
        "--url",
        "https://coolify.example.com",
        "--token",
        "good-token\n-Xy77",
        "--uuid",
        "a1",
        env={"GITHUB_ACTIONS": "true", **sinks(tmp_path)},
    )
    assert result.exit_code == 2
    assert "line break" in result.stderr
    assert "Xy77" not in everything(result, tmp_path) and "good-token" not in everything(result, tmp_path)


@pytest.mark.parametrize("token", ["tökén-ünicode", "日本語のトークン", "tab\there"])
def test_a_token_no_header_can_carry_is_bad_input_not_a_traceback(run, token):
    result = run("deploy", "--url", "https://coolify.example.com", "--token", token, "--uuid", "a1")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert token not in result.output


def test_a_url_with_a_password_is_refused_and_the_password_never_printed(run, tmp_path):
    result = run(
        "deploy",
        "--url",
        "https://user:hunter2pass@coolify.example.com",
        "--token",
        "t0ken",
        "--uuid",
        "a1",
        env=sinks(tmp_path),
    )
    assert result.exit_code == 2
    assert "user:password" in result.stderr
    assert "hunter2pass" not in everything(result, tmp_path)


def test_the_github_masks_hide_the_secret_part_each_on_one_line(coolify, run, tmp_path):
    sim = coolify(
        [SimResource("web", queue_seconds=0.1, build_seconds=0.2)], tokens={COOLIFY_TOKEN: frozenset({"root"})}
    )
    web = next(iter(sim.resources.values()))
    result = run(
        "deploy",
        "--url",
        sim.url,
        "--token",
        COOLIFY_TOKEN,
        "--uuid",
        web.uuid,
        "--poll-interval",
        "0.2s",
        env={"GITHUB_ACTIONS": "true"},
    )
    assert result.exit_code == 0, result.output
    masks = [c[2] for c in GitHubLog(result.stdout).named("add-mask")]
    assert COOLIFY_TOKEN in masks and COOLIFY_TOKEN.split("|")[1] in masks


# -- 3. bounded time and memory ----------------------------------------------------------------------


def test_a_server_that_trickles_its_answer_cannot_hold_the_run_past_its_deadline(run):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"

    def script(method, target):
        yield from trickle(head, every=0.3)

    with HostileServer(script) as server:
        began = time.monotonic()
        result = run("deploy", "--url", server.url, "--token", "t0ken-abc", "--uuid", "a1", "--timeout", "3s")
        took = time.monotonic() - began
    assert result.exit_code == 3, result.output
    assert took < 3 + 5 + 1  # the deadline plus one poll interval, and a second of slack
    assert "within" in result.stderr


def test_a_health_url_that_trickles_cannot_hold_the_run_past_its_deadline(coolify, run):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.2)
    sim = coolify([web])
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"

    def script(method, target):
        yield from trickle(head[:20], byte=head[20:21], every=0.4)  # even the headers come a byte at a time

    with HostileServer(script) as health:
        began = time.monotonic()
        result = run(
            "deploy",
            "--url",
            sim.url,
            "--token",
            "root-token",
            "--uuid",
            web.uuid,
            "--poll-interval",
            "0.5s",
            "--timeout",
            "3s",
            "--health-url",
            health.url + "/healthz",
        )
        took = time.monotonic() - began
    assert result.exit_code == 1, result.output
    assert took < 3 + 0.5 + 1.5
    assert "not healthy" in result.stdout + result.stderr


def _gzip_bomb(size: int) -> bytes:
    compressor = __import__("zlib").compressobj(9, 8, 31)
    block = b"\0" * 1_048_576
    return b"".join([compressor.compress(block) for _ in range(size // len(block))] + [compressor.flush()])


def test_a_gzip_bomb_is_cut_at_the_cap_in_one_line(tmp_path):
    bomb = _gzip_bomb(1024 * 1_048_576)  # 1 GiB of zeros in about 1 MB

    def script(method, target):
        yield response(200, bomb, headers={"Content-Encoding": "gzip"})

    with HostileServer(script) as server:
        done = _deployer_process("deploy", "--url", server.url, "--token", "t0ken-abc", "--uuid", "a1")
    assert done.returncode == 3, done.stderr
    assert "more than" in done.stderr and "Traceback" not in done.stderr
    assert 0 < done.peak_mb < 100  # the 16 MiB cap, not the gigabyte


def test_an_endless_chunked_answer_ends_in_one_line():
    def script(method, target):
        yield b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunk = b"[" * 65536
        for _ in range(100_000):
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk)

    with HostileServer(script) as server:
        done = _deployer_process(
            "deploy", "--url", server.url, "--token", "t0ken-abc", "--uuid", "a1", "--timeout", "20s"
        )
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2
    assert 0 < done.peak_mb < 100  # the 16 MiB cap, not the gigabyte


class _Done(subprocess.CompletedProcess):
    peak_mb: float


def _deployer_process(*args: str) -> _Done:
    """deployer in a process of its own, with its peak memory (what a CI runner would pay)."""
    # VmHWM is this process's own peak: ru_maxrss would also count the pytest process it was forked from.
    code = (
        "import re, runpy, sys\n"
        "sys.argv = ['deployer'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('deployer', run_name='__main__')\n"
        "finally:\n    peak = re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1)\n"
        "    sys.stderr.write('\\nPEAK %s\\n' % peak)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "COOLIFY_", "DOKPLOY_"))}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env)
    match = re.search(r"\nPEAK (\d+)\n", done.stderr)
    result = _Done(
        done.args, done.returncode, done.stdout, done.stderr.replace(match.group(0), "") if match else done.stderr
    )
    result.peak_mb = int(match.group(1)) / 1024 if match else 0.0
    return result


# -- 4. no traceback, ever ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, answer",
    [
        ("deeply nested JSON", lambda: response(200, b"[" * 200_000 + b"]" * 200_000)),
        ("gzip on a plain body", lambda: response(200, b'{"deployments": []}', headers={"Content-Encoding": "gzip"})),
        ("an encoding nobody reads", lambda: response(200, b"{}", headers={"Content-Encoding": "br"})),
        ("a truncated body", lambda: response(200, b'{"deployments": [')[:-3]),
        ("a binary body", lambda: response(200, bytes(range(256)) * 10, content_type="application/octet-stream")),
    ],
)
def test_odd_answers_end_in_one_line(run, name, answer):
    def script(method, target):
        yield answer()

    with HostileServer(script) as server:
        result = run("deploy", "--url", server.url, "--token", "t0ken-abc", "--uuid", "a1", "--timeout", "5s")
    assert result.exit_code == 3, (name, result.output)
    assert "Traceback" not in result.output
    assert result.stderr.count("deployer: error:") == 1


@pytest.mark.parametrize(
    "option, value",
    [
        ("--url", "http://[::1"),
        ("--health-url", "http://[::1"),
        ("--health-url", "https://app.example.com:99999/health"),
        ("--url", "http://host:99999"),
        ("--url", "https://coolify.example.com/\x00"),
        ("--uuid", "a" * 100_000),
        ("--application-id", "b" * 100_000),
    ],
)
def test_odd_inputs_end_in_one_line_with_exit_2(run, option, value):
    extra = (
        ["--provider", "dokploy"] if option == "--application-id" else ["--uuid", "a1"] if option != "--uuid" else []
    )
    args = ["deploy", "--url", "https://coolify.example.com", "--token", "t0ken-abc", *extra, option, value]
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


# -- 5. each sink on its own, at every exit -------------------------------------------------------------


def test_an_unwritable_outputs_file_loses_no_other_sink_and_exits_5(coolify, run, tmp_path):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.2)
    sim = coolify([web])
    env = {**sinks(tmp_path), "GITHUB_OUTPUT": "/dev/full"}
    result = run(
        "deploy",
        "--url",
        sim.url,
        "--token",
        "root-token",
        "--uuid",
        web.uuid,
        "--poll-interval",
        "0.2s",
        "--output",
        "json",
        env=env,
    )
    assert result.exit_code == 5, result.output
    assert "/dev/full" in result.stderr
    assert json.loads(result.stdout)["status"] == "finished"
    assert "finished" in (tmp_path / "summary.md").read_text()
    assert "DEPLOY_STATUS=finished" in (tmp_path / "deploy.env").read_text()


def test_outputs_are_written_when_the_key_stops_working_while_following(dokploy, run, tmp_path):
    web = SimTarget("web", build_seconds=3)
    sim = dokploy([web], key_budget=6)
    result = run(
        "deploy",
        "--provider",
        "dokploy",
        "--url",
        sim.url,
        "--token",
        "dokploy-key",
        "--application-id",
        web.id,
        "--poll-interval",
        "0.2s",
        env=sinks(tmp_path),
    )
    assert result.exit_code == 3, result.output
    outputs = parse_github_file((tmp_path / "output").read_text())
    assert outputs["status"] == "queued"  # what is known: started, not yet ended
    assert outputs["deployment-id"] in ("", sim.jobs[-1].deployment_id)  # its row, where it was found in time
    assert json.loads(outputs["result"])[0]["status"] in ("queued", "in_progress")
    assert "rateLimitEnabled" in result.stderr


def test_no_wait_writes_the_job_summary(coolify, run, tmp_path):
    web = SimResource("web", queue_seconds=0.1, build_seconds=5)
    sim = coolify([web])
    result = run(
        "deploy", "--url", sim.url, "--token", "root-token", "--uuid", web.uuid, "--no-wait", env=sinks(tmp_path)
    )
    assert result.exit_code == 0
    assert "queued" in (tmp_path / "summary.md").read_text()


def test_bad_input_still_writes_the_outputs_and_one_json_document(run, tmp_path):
    result = run(
        "deploy",
        "--provider",
        "coolify",
        "--url",
        "https://coolify.example.com",
        "--token",
        "t0ken-abc",
        "--output",
        "json",
        env=sinks(tmp_path),
    )
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert (
        document["status"] == "failed"
        and document["error"]["exit_code"] == 2
        and "nothing to deploy" in document["error"]["message"]
    )
    assert parse_github_file((tmp_path / "output").read_text())["status"] == "failed"


# -- any server answer: one line, a documented exit code, and never a false success ----------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_STATUSES = ["queued", "in_progress", "finished", "failed", "cancelled-by-user", "", "FINISHED", None, 3]
_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
_json_values = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=3),
    st.dictionaries(st.text(max_size=8), _scalars, max_size=3),
    st.lists(st.dictionaries(st.text(max_size=8), _scalars, max_size=3), max_size=2),
)


@st.composite
def _answers(draw, kind: str) -> bytes:
    """One HTTP answer a server (or something in front of it) might give."""
    status = draw(st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 405, 422, 429, 500, 502, 503]))
    if kind == "trigger":
        item = {"message": draw(st.text(max_size=30)), "resource_uuid": draw(st.sampled_from(["a1", "zz", ""]))}
        if draw(st.booleans()):
            item["deployment_uuid"] = draw(st.sampled_from(["d1", "d2", "", None]))
        good = {"deployments": [item]} if draw(st.booleans()) else {"message": [item["message"]], "details": [item]}
    else:
        good = {"deployment_uuid": "d1", "status": draw(st.sampled_from(_STATUSES))}
        if draw(st.booleans()):
            good["logs"] = draw(st.sampled_from(['[{"output":"x","type":"stdout"}]', "[", "null", '{"a":1}']))
    body = draw(
        st.one_of(
            st.just(json.dumps(good).encode()),
            _json_values.map(lambda v: json.dumps(v).encode()),
            st.binary(max_size=40),
            st.just(b"[" * 5000),
            st.just(json.dumps(good).encode()[:-2]),
            st.just(b"<html>proxy</html>"),
            st.just(b""),
        )
    )
    headers = {}
    if draw(st.booleans()):
        headers["Content-Encoding"] = draw(st.sampled_from(["gzip", "deflate", "br", "identity"]))
    if status in (429, 503) and draw(st.booleans()):
        headers["Retry-After"] = draw(st.sampled_from(["0", "1", "-5", "soon", "99999999999"]))
    if 300 <= status < 400:
        headers["Location"] = "http://elsewhere.invalid/"
    content_type = draw(st.sampled_from(["application/json", "text/html", "application/json; charset=utf-8", ""]))
    if draw(st.integers(0, 9)) == 0:
        return response(status, body, headers, content_type)[: draw(st.integers(0, 40))]  # cut off
    return response(status, body, headers, content_type)


def _said_finished(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    if (
        not head.startswith(b"HTTP/1.1 200")
        or b"Content-Encoding: gzip" in head
        or b"Content-Encoding: deflate" in head
        or b"Content-Encoding: br" in head
    ):
        return False
    try:
        return json.loads(body).get("status") == "finished"
    except (ValueError, AttributeError, RecursionError):
        return False


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(trigger=_answers("trigger"), polls=st.lists(_answers("poll"), min_size=1, max_size=4))
def test_any_server_answer_ends_in_one_line_and_exit_0_only_when_it_said_finished(trigger, polls):
    from click.testing import CliRunner

    from deployer.cli import cli

    served: list[bytes] = []

    def script(method, target):
        if target.startswith("/api/v1/deploy?"):
            answer = trigger
        else:
            answer = polls[min(len(served), len(polls) - 1)]
            served.append(answer)
        yield answer

    with HostileServer(script) as server:
        result = CliRunner().invoke(
            cli,
            [
                "deploy",
                "--url",
                server.url,
                "--token",
                "t0ken-abc",
                "--uuid",
                "a1",
                "--poll-interval",
                "0.2s",
                "--timeout",
                "1s",
            ],
            catch_exceptions=True,
        )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1, 2, 3, 4, 5), result.output
    if result.exit_code == 0:
        assert any(_said_finished(a) for a in served), result.output


def test_even_a_bug_ends_in_one_line_without_the_token(run, monkeypatch):
    """The last line of defence: an exception nobody foresaw is one line, exit 1, token hidden."""
    import deployer.config.settings

    def broken(*args, **kwargs):
        raise RuntimeError("boom with s3cret-token-value inside")

    monkeypatch.setattr(deployer.config.settings, "resolve", broken)
    result = run("deploy", "--token", "s3cret-token-value", "--uuid", "a1")
    assert result.exit_code == 1
    assert result.stderr.startswith("deployer: error: unexpected RuntimeError") and result.stderr.count("\n") == 1
    assert "s3cret-token-value" not in result.output
