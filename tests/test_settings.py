"""Options, action inputs and environment: precedence, parsing, and bad input answered with exit 2."""

from __future__ import annotations

import pytest

from deployer.config.settings import (
    normalize_url,
    parse_bool,
    parse_duration,
    resolve,
    split_ids,
)
from deployer.errors import InputError

BASE = {"COOLIFY_URL": "https://coolify.example.com", "COOLIFY_TOKEN": "env-token"}


@pytest.mark.parametrize(
    "text, seconds",
    [("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600), ("1m30s", 90), ("0.5s", 0.5), ("250ms", 0.25), (" 2M ", 120)],
)
def test_durations(text, seconds):
    assert parse_duration(text, "--timeout") == seconds


@pytest.mark.parametrize("text", ["", " ", "-5", "0", "0s", "abc", "15 m", "1d", "25h", "1e3", "15m-", "∞"])
def test_bad_durations(text):
    with pytest.raises(InputError):
        parse_duration(text, "--timeout")


def test_ids_split_on_commas_spaces_and_newlines_without_duplicates():
    assert split_ids(["a1,b2", "c3 d4\ne5", "a1"], "--uuid") == ["a1", "b2", "c3", "d4", "e5"]


@pytest.mark.parametrize("value", ["TRUE", "yes", "1", "On"])
def test_booleans_true(value):
    assert parse_bool(value, "force") is True


@pytest.mark.parametrize("value", ["False", "NO", "0"])
def test_booleans_false(value):
    assert parse_bool(value, "force") is False


@pytest.mark.parametrize(
    "url, base",
    [
        ("https://c.example.com", "https://c.example.com"),
        ("https://c.example.com/", "https://c.example.com"),
        ("https://c.example.com/api", "https://c.example.com"),
        ("https://c.example.com/api/v1/", "https://c.example.com"),
        ("http://10.0.0.5:8000", "http://10.0.0.5:8000"),
        ("https://example.com/coolify/api/v1", "https://example.com/coolify"),
    ],
)
def test_urls_are_normalized(url, base):
    assert normalize_url(url) == base


def test_precedence_option_over_input_over_environment():
    env = {**BASE, "INPUT_TOKEN": "input-token", "INPUT_UUID": "from-input", "INPUT_TIMEOUT": "10m"}
    s = resolve({"uuid": ("from-cli",)}, env)
    assert s.uuids == ["from-cli"]  # option beats input
    assert s.token == "input-token"  # input beats COOLIFY_TOKEN
    assert s.timeout == 600
    assert s.url == "https://coolify.example.com"


def test_an_empty_input_means_not_given():
    env = {**BASE, "INPUT_TOKEN": "", "INPUT_UUID": "a1", "INPUT_TIMEOUT": "", "INPUT_WAIT": ""}
    s = resolve({}, env)
    assert (s.token, s.timeout, s.wait) == ("env-token", 900, True)


def test_hyphenated_inputs_are_read_with_their_hyphens():
    env = {
        **BASE,
        "INPUT_UUID": "a1",
        "INPUT_POLL-INTERVAL": "2s",
        "INPUT_CANCEL-ON-TIMEOUT": "yes",
        "INPUT_DOCKER-TAG": "v2",
        "INPUT_PR": "3",
    }
    s = resolve({}, env)
    assert (s.poll_interval, s.cancel_on_timeout, s.docker_tag, s.pr) == (2, True, "v2", 3)


def test_provider_is_inferred_from_the_only_url_set():
    assert resolve({"uuid": ("a1",)}, BASE).provider == "coolify"


def test_defaults_match_the_contract():
    s = resolve({"uuid": ("a1",)}, BASE)
    assert (s.wait, s.timeout, s.poll_interval, s.logs, s.force, s.cancel_on_timeout, s.output) == (
        True,
        900,
        5,
        "stream",
        False,
        False,
        "text",
    )


BAD_INPUT = [
    ([], {}, "which server"),
    (["--provider", "heroku"], BASE, "not one of"),
    (["--uuid", "a1"], {"COOLIFY_TOKEN": "t"}, "no coolify URL"),
    (["--uuid", "a1"], {"COOLIFY_URL": "https://c.example.com"}, "no API token"),
    ([], BASE, "nothing to deploy"),
    (["--uuid", "a1", "--tag", "prod"], BASE, "not both"),
    (["--tag", "prod", "--pr", "3"], BASE, "--pr works with --uuid only"),
    (["--uuid", "a1", "--docker-tag", "v1"], BASE, "--docker-tag needs --pr"),
    (["--uuid", "a1", "--pr", "abc"], BASE, "pull request number"),
    (["--uuid", "a1", "--pr", "-1"], BASE, "pull request number"),
    (["--uuid", "a1", "--timeout", "-5m"], BASE, "--timeout"),
    (["--uuid", "a1", "--timeout", "9999h"], BASE, "too long"),
    (["--uuid", "a1", "--poll-interval", "soon"], BASE, "--poll-interval"),
    (["--uuid", "a1", "--logs", "verbose"], BASE, "--logs"),
    (["--uuid", "a1", "--output", "xml"], BASE, "--output"),
    (["--uuid", "a1", "--url", "coolify.example.com"], BASE, "not a URL"),
    (["--uuid", "a1", "--url", "ftp://c.example.com"], BASE, "not a URL"),
    (["--uuid", "a1", "--url", "https://c.example.com:99999"], BASE, "invalid port"),
    (["--uuid", "app 1"], BASE, None),  # splits into two ids: fine, not an error
    (["--uuid", "ápp"], BASE, "not a valid id"),
    (["--uuid", "a1", "--token", "  "], BASE, "must not be empty"),
    (["--uuid", "a1", "--ca-cert", "/nonexistent/ca.pem"], BASE, "no file"),
    (["--uuid", "a1", "--application-id", "x"], BASE, "for Dokploy"),
    (
        ["--provider", "dokploy", "--uuid", "a1"],
        {"DOKPLOY_URL": "https://d.example.com", "DOKPLOY_API_KEY": "k"},
        "are for Coolify",
    ),
    (
        ["--provider", "dokploy"],
        {"DOKPLOY_URL": "https://d.example.com", "DOKPLOY_API_KEY": "k"},
        "--application-id, --compose-id or --name",
    ),
    (["--uuid", "a1", "--bogus"], BASE, "No such option"),
    (["--uuid", "a1"], {**BASE, "INPUT_WAIT": "maybe"}, "not a boolean"),
    (["--uuid", "a1"], {**BASE, "INPUT_TIMEOUT": "forever"}, "not a duration"),
    (
        ["--uuid", "a1"],
        {**BASE, "INPUT_CONFIG": "no-such-deployer.yml"},
        "input 'config': no file at 'no-such-deployer.yml'",
    ),
]


@pytest.mark.parametrize("argv, env, expected", [c for c in BAD_INPUT if c[2]])
def test_bad_input_is_exit_2_with_one_line_and_no_traceback(run, argv, env, expected):
    result = run("deploy", *argv, env=env)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("deployer: error: ")
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_version(run):
    from deployer import __version__

    result = run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"deployer {__version__}"


def test_python_dash_m_runs_the_same_cli():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "deployer", "deploy", "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and "--poll-interval" in done.stdout


# -- the provider, inferred where only one fits, and said ----------------------------------------------


def test_the_provider_is_inferred_from_the_one_token_variable_set(coolify, run):
    from deployer.simulator.coolify import SimResource

    web = SimResource("web", queue_seconds=0.1, build_seconds=0.2)
    sim = coolify([web])
    result = run(
        "deploy", "--url", sim.url, "--name", "web", "--poll-interval", "0.2s", env={"COOLIFY_TOKEN": "root-token"}
    )
    assert result.exit_code == 0, result.output
    assert "provider coolify (inferred: only COOLIFY_TOKEN is set)" in result.stdout


def test_a_token_shaped_id_bar_secret_is_coolifys(run):
    result = run("deploy", "--url", "https://127.0.0.1:9", "--token", "12|abcdefgh", "--name", "web", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing was sent to coolify" in result.stdout and "id|secret" in result.stdout


@pytest.mark.parametrize("provider", ["coolify", "dokploy"])
def test_one_probe_of_the_server_tells_which_it_is(coolify, dokploy, run, provider):
    sim = coolify([]) if provider == "coolify" else dokploy([])
    result = run("deploy", "--url", sim.url, "--token", "some-key", "--name", "web", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"nothing was sent to {provider}" in result.stdout and "/api/health answered" in result.stdout
    assert [r.path for r in sim.requests] == ["/api/health"]


def test_with_nothing_to_go_by_it_asks_which_server(run):
    result = run("deploy", "--url", "http://127.0.0.1:9", "--token", "some-key", "--name", "web")
    assert result.exit_code == 2 and "which server?" in result.stderr


# -- the action's words --------------------------------------------------------------------------------


def test_action_errors_name_the_action_inputs_and_are_annotations(run):
    env = {
        "GITHUB_ACTIONS": "true",
        "INPUT_PROVIDER": "dokploy",
        "INPUT_URL": "https://dokploy.example.com",
        "INPUT_TOKEN": "k3y-value",
        "INPUT_APPLICATION-ID": "",
        "INPUT_UUID": "",
    }
    result = run("deploy", env=env)
    assert result.exit_code == 2
    assert "input 'application-id'" in result.stderr and "--application-id" not in result.stderr
    assert "::error title=deployer::nothing to deploy: set input 'application-id'" in result.stderr


def test_on_the_command_line_errors_name_the_options(run):
    result = run("deploy", "--provider", "dokploy", "--url", "https://d.example.com", "--token", "k3y-value")
    assert (
        result.exit_code == 2 and "--application-id" in result.stderr and "::error" not in result.stdout + result.stderr
    )


def test_a_gitlab_error_line_is_red(run):
    result = run(
        "deploy",
        "--provider",
        "dokploy",
        "--url",
        "https://d.example.com",
        "--token",
        "k3y-value",
        env={"GITLAB_CI": "true"},
    )
    assert result.exit_code == 2 and result.stderr.startswith("\x1b[31;1mdeployer: error:")
