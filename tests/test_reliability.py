"""Never lie, never deploy twice, never leak: the retry policy, odd answers, deadlines, signals, TLS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from deployer.config.settings import resolve
from deployer.errors import HTTPStatusError, UnexpectedAnswer, Unreachable
from deployer.reporting.redact import Redactor
from deployer.retry import TriggerRetry, unsent_retry_delay
from deployer.simulator.coolify import SimResource
from deployer.simulator.server import Faults
from tests.runner_files import parse_github_file

TOKEN = "root-token"


def args(sim, *extra: str) -> list[str]:
    return ["deploy", "--url", sim.url, "--token", TOKEN, "--poll-interval", "0.2s", *extra]


# -- the retry policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error, retried",
    [
        (Unreachable("refused", sent=False), True),
        (Unreachable("reset after sending", sent=True), False),
        (Unreachable("read time-out"), False),
        (HTTPStatusError("queue full", status=429, retry_after=1.0), True),
        (HTTPStatusError("maintenance", status=503, retry_after=2.0), True),
        (HTTPStatusError("503 without Retry-After", status=503), False),
        (HTTPStatusError("429 without Retry-After", status=429), False),
        (HTTPStatusError("bad gateway", status=502), False),
        (HTTPStatusError("server error", status=500), False),
        (UnexpectedAnswer("an HTML page"), False),
    ],
)
def test_a_trigger_is_retried_only_when_the_server_provably_did_nothing(error, retried):
    assert (unsent_retry_delay(error, 1) is not None) is retried


def test_trigger_retry_sends_again_after_an_unsent_failure_and_stops_at_the_deadline():
    calls = []

    def send():
        calls.append(1)
        if len(calls) < 3:
            raise Unreachable("refused", sent=False)
        return "ok"

    slept = []
    retry = TriggerRetry(deadline=1e9, sleep=slept.append)
    assert retry.run(send) == "ok" and len(calls) == 3 and len(slept) == 2

    calls.clear()
    retry = TriggerRetry(deadline=time.monotonic() + 0.5, sleep=slept.append)
    with pytest.raises(HTTPStatusError):
        retry.run(
            lambda: (calls.append(1), (_ for _ in ()).throw(HTTPStatusError("full", status=429, retry_after=60)))[1]
        )
    assert len(calls) == 1  # Retry-After beyond the deadline: give up now, not after the deadline


# -- triggers under faults: never twice -------------------------------------------------------------


@pytest.mark.parametrize(
    "fault, exit_code, acted",
    [
        ("reset", 3, 0),  # dropped before the server acted: unknown to us, so not retried
        ("reset_after", 3, 1),  # acted, then dropped: retrying would deploy twice
        ("garbage", 3, 1),  # acted, answer unreadable
        ("html", 3, 0),  # a login page in front of the API
        ("429", 0, 1),  # Retry-After: nothing was queued, retried once
    ],
)
def test_trigger_faults_never_deploy_twice_nor_claim_success(coolify, run, fault, exit_code, acted):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.3)
    faults = Faults(seed=1, rate=1.0, kinds=(fault,))
    sim = coolify([web], faults=faults)

    def only_first(request, _pick=faults.pick):  # the fault hits the trigger, not the polls
        return _pick(request) if request.path == "/api/v1/deploy" and not faults.log else None

    faults.pick = only_first  # type: ignore[method-assign]
    result = run(*args(sim, "--uuid", web.uuid, "--timeout", "10s"))
    assert result.exit_code == exit_code, result.output
    assert sim.triggers == acted
    assert "Traceback" not in result.stderr


def test_a_hanging_trigger_is_not_retried(coolify, run):
    web = SimResource("web")
    faults = Faults(seed=2, rate=1.0, kinds=("hang",), hang_seconds=3)
    sim = coolify([web], faults=faults)
    started = time.monotonic()
    result = run(*args(sim, "--uuid", web.uuid, "--timeout", "1s"))
    assert result.exit_code == 3 and "no answer" in result.stderr
    assert [k for k, _, _ in faults.log] == ["hang"]  # sent once
    assert time.monotonic() - started < 2.5


# -- polls under faults: retried, never a false success ----------------------------------------------


def test_polls_ride_out_5xx_429_html_garbage_and_stale_answers(coolify, run, tmp_path):
    web = SimResource("web", queue_seconds=0.2, build_seconds=2.0)
    faults = Faults(seed=7, rate=0.5, kinds=("5xx", "429", "html", "garbage", "stale", "reset_after"))
    sim = coolify([web], faults=faults)
    original = faults.pick
    faults.pick = lambda r: None if r.path == "/api/v1/deploy" else original(r)  # type: ignore[method-assign]
    out = tmp_path / "out"
    result = run(*args(sim, "--uuid", web.uuid, "--timeout", "30s"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 0, result.output
    assert faults.log, "no fault was injected"
    assert parse_github_file(out.read_text())["status"] == "finished"
    assert sim.status_of(sim.deployments[0]) == "finished"


def test_polls_failing_until_the_deadline_end_as_timeout_with_the_last_error(coolify, run, tmp_path):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.3)
    faults = Faults(seed=3, rate=1.0, kinds=("5xx",))
    sim = coolify([web], faults=faults)
    original = faults.pick
    faults.pick = lambda r: None if r.path == "/api/v1/deploy" else original(r)  # type: ignore[method-assign]
    out = tmp_path / "out"
    result = run(*args(sim, "--uuid", web.uuid, "--timeout", "2s"), env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 4
    outputs = parse_github_file(out.read_text())
    assert outputs["status"] == "timeout"
    assert "last error" in json.loads(outputs["result"])[0]["message"]


def test_an_unknown_status_is_reported_and_never_success(httpserver, run):
    httpserver.expect_request("/api/v1/deploy", method="POST").respond_with_json(
        {
            "deployments": [
                {"message": "Application web deployment queued.", "resource_uuid": "a1", "deployment_uuid": "d1"}
            ]
        }
    )
    httpserver.expect_request("/api/v1/deployments/d1").respond_with_json(
        {"deployment_uuid": "d1", "status": "succeeded-ish"}
    )
    result = run(
        "deploy",
        "--url",
        httpserver.url_for("/"),
        "--token",
        "t0k",
        "--uuid",
        "a1",
        "--timeout",
        "1.5s",
        "--poll-interval",
        "0.2s",
    )
    assert result.exit_code == 4
    assert "unknown status 'succeeded-ish'" in result.stdout


def test_the_deadline_holds_while_a_poll_hangs(coolify, run):
    web = SimResource("web", queue_seconds=0.1, build_seconds=60)
    faults = Faults(seed=4, rate=1.0, kinds=("hang",), hang_seconds=20)
    sim = coolify([web], faults=faults)
    original = faults.pick
    faults.pick = lambda r: None if r.path == "/api/v1/deploy" else original(r)  # type: ignore[method-assign]
    started = time.monotonic()
    result = run(*args(sim, "--uuid", web.uuid, "--timeout", "2s", "--poll-interval", "1s"))
    took = time.monotonic() - started
    assert result.exit_code == 4
    assert took < 2 + 1 + 1.0, f"took {took:.1f}s for a 2s timeout"


def test_a_vanished_deployment_is_not_found_exit_3(coolify, run):
    web = SimResource("web", queue_seconds=0.1, build_seconds=1)
    faults = Faults(seed=5, rate=1.0, kinds=("vanish",))
    sim = coolify([web], faults=faults)
    original = faults.pick
    faults.pick = lambda r: (
        original(r) if r.path.startswith("/api/v1/deployments/") and "applications" not in r.path else None
    )  # type: ignore[method-assign]
    result = run(*args(sim, "--uuid", web.uuid, "--timeout", "10s"))
    assert result.exit_code == 3
    assert "no queued or running deployment" in result.stdout + result.stderr


# -- a cancelled CI job ---------------------------------------------------------------------------


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("cancel", [False, True])
def test_a_cancelled_job_stops_cleanly_writes_outputs_and_cancels_if_asked(coolify, tmp_path, sig, code, cancel):
    web = SimResource("web", queue_seconds=0.1, build_seconds=60)
    sim = coolify([web])
    out = tmp_path / "out"
    env = {**os.environ, "GITHUB_OUTPUT": str(out), "PYTHONUNBUFFERED": "1"}
    argv = [
        sys.executable,
        "-m",
        "deployer",
        *args(sim, "--uuid", web.uuid),
        *(["--cancel-on-timeout"] if cancel else []),
    ]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not sim.deployments or sim.status_of(sim.deployments[0]) != "in_progress":
        assert time.monotonic() < deadline, "the deployment never started"
        time.sleep(0.1)
    time.sleep(0.5)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=5)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    assert f"stopped by {signal.Signals(sig).name}" in stderr
    outputs = parse_github_file(out.read_text())
    assert outputs["status"] == "cancelled"
    assert outputs["deployment-id"] == sim.deployments[0].uuid
    assert sim.status_of(sim.deployments[0]) == ("cancelled-by-user" if cancel else "in_progress")


# -- TLS and the token ----------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path):
    trustme = pytest.importorskip("trustme")
    from pytest_httpserver import HTTPServer

    ca = trustme.CA()
    context = __import__("ssl").SSLContext(__import__("ssl").PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    server.expect_request("/api/v1/deploy", method="POST").respond_with_json(
        {
            "deployments": [
                {"message": "Application web deployment queued.", "resource_uuid": "a1", "deployment_uuid": "d1"}
            ]
        }
    )
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield server, ca_file
    server.clear()
    server.stop()


def _tls_args(server, *extra):
    return ["deploy", "--url", server.url_for("/"), "--token", "t0k", "--uuid", "a1", "--no-wait", *extra]


def test_tls_is_verified_by_default(tls_server, run):
    server, _ = tls_server
    result = run(*_tls_args(server))
    assert result.exit_code == 3
    assert "TLS verification failed" in result.stderr and "--ca-cert" in result.stderr


def test_a_private_ca_is_trusted_with_ca_cert(tls_server, run):
    server, ca_file = tls_server
    assert run(*_tls_args(server, "--ca-cert", str(ca_file))).exit_code == 0
    assert run(*_tls_args(server), env={"DEPLOYER_CA_CERT": str(ca_file)}).exit_code == 0


def test_insecure_skips_verification_and_warns_loudly(tls_server, run):
    server, _ = tls_server
    result = run(*_tls_args(server, "--insecure"))
    assert result.exit_code == 0
    assert "TLS verification is OFF" in result.stderr


def test_a_ca_cert_that_is_not_pem_is_bad_input(run, tmp_path):
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    result = run("deploy", "--url", "https://c.example.com", "--token", "t", "--uuid", "a1", "--ca-cert", str(bogus))
    assert result.exit_code == 2 and "not a PEM CA bundle" in result.stderr


@pytest.mark.parametrize(
    "url, clear",
    [
        ("http://coolify.example.com", True),
        ("http://10.1.2.3:8000", True),
        ("https://coolify.example.com", False),
        ("http://127.0.0.1:8000", False),
        ("http://localhost:8000", False),
    ],
)
def test_plain_http_to_another_host_is_flagged(url, clear):
    settings = resolve({"url": url, "token": "t", "uuid": ("a1",), "provider": "coolify"}, {})
    assert settings.token_in_clear is clear


def test_the_redactor_catches_encoded_forms_and_urls():
    redact = Redactor("tok/en+1 x")
    for text in ("Bearer tok/en+1 x", "https://h/?t=tok%2Fen%2B1%20x", "q=tok%2Fen%2B1+x"):
        assert "tok" not in redact(text), text


EMPTY_CASES = [
    "--url",
    "--token",
    "--timeout",
    "--poll-interval",
    "--logs",
    "--output",
    "--pr",
    "--docker-tag",
    "--provider",
    "--ca-cert",
    "--dotenv",
    "--title",
    "--description",
]


@pytest.mark.parametrize("option", EMPTY_CASES)
@pytest.mark.parametrize("value", ["", "   "])
def test_every_option_empty_or_blank_is_exit_2(run, option, value):
    env = {"COOLIFY_URL": "https://c.example.com", "COOLIFY_TOKEN": "t"}
    argv = ["deploy", option, value, "--uuid", "a1"]
    result = run(*argv, env=env)
    assert result.exit_code == 2, (option, result.output)
    assert result.stderr.startswith("deployer: error: ") and len(result.stderr.strip().splitlines()) == 1


# -- words that match what is known -----------------------------------------------------------------


def test_a_trigger_whose_answer_was_lost_says_the_deploy_may_have_started(coolify, run):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.3)
    faults = Faults(seed=1, rate=1.0, kinds=("reset_after",))
    sim = coolify([web], faults=faults)
    faults.pick = lambda request, _pick=faults.pick: _pick(request) if request.path == "/api/v1/deploy" else None  # type: ignore[method-assign]
    result = run(*args(sim, "--uuid", web.uuid))
    assert result.exit_code == 3
    assert "may have started" in result.stderr and "not sent again" in result.stderr
    assert "Traceback" not in result.stderr and sim.triggers == 1


def test_ctrl_c_after_the_deployment_finished_does_not_call_it_cancelled(coolify, httpserver, tmp_path):
    """Interrupted during the health check, after Coolify said finished: the outcome stands."""
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.3)
    sim = coolify([web])
    httpserver.expect_request("/never-healthy").respond_with_data("starting", status=503)
    out = tmp_path / "out"
    env = {**os.environ, "GITHUB_OUTPUT": str(out), "PYTHONUNBUFFERED": "1"}
    argv = [
        sys.executable,
        "-m",
        "deployer",
        *args(sim, "--uuid", web.uuid, "--health-url", httpserver.url_for("/never-healthy")),
    ]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while not httpserver.log:
        assert time.monotonic() < deadline and process.poll() is None, "the health check never started"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 130, stderr
    assert "after every deployment had ended; nothing was cancelled" in stderr
    outputs = parse_github_file(out.read_text())
    assert outputs["status"] == "finished"
    assert "cancelled" not in stdout.replace("nothing was cancelled", "")


# -- words for the network's own mistakes ------------------------------------------------------------


def test_a_host_name_that_does_not_resolve_fails_at_once(run):
    began = time.monotonic()
    result = run("deploy", "--url", "https://no-such-host.invalid", "--token", TOKEN, "--uuid", "a1")
    assert result.exit_code == 3
    assert time.monotonic() - began < 2
    assert "cannot resolve no-such-host.invalid" in result.stderr and "sending it again" not in result.stderr


def test_https_spoken_to_a_plain_http_port_says_so(coolify, run):
    sim = coolify([SimResource("web")])
    result = run("deploy", "--url", sim.url.replace("http://", "https://"), "--token", TOKEN, "--uuid", "a1")
    assert result.exit_code == 3
    assert "plain http" in result.stderr and "use http://" in result.stderr and "--insecure" not in result.stderr


def test_http_spoken_to_an_https_port_says_so(httpserver, run):
    httpserver.expect_request("/api/v1/deploy", method="POST").respond_with_data(
        "<html><center>The plain HTTP request was sent to HTTPS port</center></html>",
        status=400,
        content_type="text/html",
    )
    result = run("deploy", "--url", httpserver.url_for("/").rstrip("/"), "--token", TOKEN, "--uuid", "a1")
    assert result.exit_code == 3
    assert "use https://" in result.stderr
