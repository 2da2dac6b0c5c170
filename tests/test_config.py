"""The config file: environments and targets in deployer.yml, its schema, and its error messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from deployer.config.file import schema
from deployer.simulator.coolify import SimResource
from tests.runner_files import check_jsonschema
from tests.runner_files import read_github_output as outputs_of

TOKEN = "root-token"
ROOT = Path(__file__).resolve().parent.parent


def resource(name: str, **options: Any) -> SimResource:
    options.setdefault("queue_seconds", 0.1)
    options.setdefault("build_seconds", 0.3)
    return SimResource(name, **options)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "deployer.yml"
    path.write_text(text)
    return str(path)


def deployed(sim: Any) -> list[str]:
    return [r.query["uuid"][0] for r in sim.requests if r.path == "/api/v1/deploy"]


TWO_ENVIRONMENTS = """\
x-server: &server
  provider: coolify
  url: ${COOLIFY_URL}
  poll-interval: 0.2s

environments:
  staging:
    <<: *server
    timeout: 1m
    resources:
      - api
      - name: worker
        environment: staging
        project: acme
  production:
    <<: *server
    resources:
      - uuid: ${PRODUCTION_UUID}
"""


def test_environment_deploys_its_resources_by_name_with_its_options(coolify, run, tmp_path):
    api = resource("api", environment="staging")
    worker = resource("worker", environment="staging")
    prod = resource("api", environment="production")
    sim = coolify([api, worker, prod])
    path = write(
        tmp_path,
        TWO_ENVIRONMENTS.replace("      - api\n", "      - {name: api, project: acme, environment: staging}\n"),
    )
    env = {
        "COOLIFY_URL": sim.url,
        "COOLIFY_TOKEN": TOKEN,
        "PRODUCTION_UUID": prod.uuid,
        "GITHUB_OUTPUT": str(tmp_path / "out"),
    }
    result = run("deploy", "--config", path, "--environment", "staging", env=env)
    assert result.exit_code == 0, result.output
    assert deployed(sim) == [f"{api.uuid},{worker.uuid}"]
    result = run("deploy", "--config", path, "--environment", "production", env=env)
    assert result.exit_code == 0, result.output
    assert deployed(sim)[-1] == prod.uuid
    assert outputs_of(tmp_path / "out")["status"] == "finished"


def test_option_beats_input_beats_config(coolify, run, tmp_path):
    sim = coolify([resource("web", build_seconds=5)])
    path = write(
        tmp_path,
        f"environments:\n  prod:\n    provider: coolify\n    url: {sim.url}\n    timeout: 1s\n"
        f"    resources: [{{uuid: {list(sim.resources)[0]}}}]\n",
    )
    base = {"COOLIFY_TOKEN": TOKEN}
    result = run("deploy", "--config", path, env=base)
    assert result.exit_code == 4  # the config's 1s timeout applied (the only environment is chosen)
    result = run("deploy", "--config", path, "--no-wait", env=dict(base, INPUT_WAIT="true"))
    assert result.exit_code == 0  # the option beats the input
    result = run("deploy", env=dict(base, INPUT_CONFIG=path, INPUT_TIMEOUT="0.5s", INPUT_WAIT="false"))
    assert result.exit_code == 0  # config given as an action input; the input beats the config
    result = run("deploy", "--config", path, "--uuid", "zzz", "--no-wait", env=base)
    assert "zzz" in deployed(sim)[-1]  # targets on the command line replace the config's


def test_the_config_beats_the_environment(run, tmp_path):
    """Explicit beats ambient (CONTRACT.md, changed 2026-12): what the file says for this target wins."""
    path = write(
        tmp_path,
        "environments:\n  prod:\n    provider: coolify\n    url: http://127.0.0.1:9\n    resources: [{uuid: u1}]\n",
    )
    result = run(
        "deploy",
        "--config",
        path,
        "--timeout",
        "2s",
        env={"COOLIFY_TOKEN": TOKEN, "COOLIFY_URL": "https://from-env.invalid"},
    )
    assert result.exit_code == 3 and "127.0.0.1:9" in result.stderr and "from-env" not in result.stderr


def test_a_per_environment_token_is_not_overridden_by_the_generic_one(coolify, run, tmp_path):
    web = resource("web")
    sim = coolify([web], tokens={"production-token": frozenset({"root"}), "generic-token": frozenset({"root"})})
    path = write(
        tmp_path,
        f"environments:\n  production:\n    provider: coolify\n    url: {sim.url}\n"
        f"    token: ${{COOLIFY_TOKEN_PRODUCTION}}\n    resources: [{{uuid: {web.uuid}}}]\n"
        "    poll-interval: 0.2s\n",
    )
    result = run(
        "deploy",
        "--config",
        path,
        env={"COOLIFY_TOKEN": "generic-token", "COOLIFY_TOKEN_PRODUCTION": "production-token"},
    )
    assert result.exit_code == 0, result.output
    assert {r.headers["authorization"] for r in sim.requests} == {"Bearer production-token"}


def test_token_reference_is_expanded_and_never_printed(coolify, run, tmp_path):
    sim = coolify([resource("web")], tokens={"s3cret-staging-token": frozenset({"deploy", "read", "read:sensitive"})})
    path = write(
        tmp_path,
        f"environments:\n  staging:\n    provider: coolify\n    url: {sim.url}\n"
        "    token: ${STAGING_TOKEN}\n    resources: [web]\n    poll-interval: 0.2s\n",
    )
    result = run("deploy", "--config", path, env={"STAGING_TOKEN": "s3cret-staging-token"})
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            "environments:\n  prod:\n    provider: coolify\n    forse: true\n    resources: [web]\n",
            "deployer.yml:4: environments.prod.forse: unknown key 'forse'; did you mean 'force'?",
        ),
        (
            "environments:\n  prod:\n    resources: [web]\n    timeout: [1m]\n",
            "deployer.yml:4: environments.prod.timeout: ",
        ),
        (
            "environments:\n  prod:\n    resources: [web]\n    logs: loud\n",
            "deployer.yml:4: environments.prod.logs: 'loud' is not one of stream, on-failure, none",
        ),
        (
            "environments:\n  prod:\n    resources:\n      - uuid: abc\n        tag: x\n",
            "deployer.yml:4: environments.prod.resources[1]: a resource needs exactly one of name, uuid, tag, "
            "application-id or compose-id (got uuid, tag)",
        ),
        (
            "environments:\n  prod:\n    provider: coolify\n",
            "deployer.yml:2: environments.prod: 'resources' is missing",
        ),
        (
            "environments:\n  prod:\n    resources: [web]\n  prod:\n    resources: [api]\n",
            "deployer.yml:4: 'prod' is given twice (first on line 2)",
        ),
        ("environments:\n  prod:\n    resources: [web\n", "deployer.yml:4: not valid YAML"),
        (
            "environments:\n  prod:\n    wait: maybe\n    resources: [web]\n",
            "deployer.yml:3: environments.prod.wait: 'maybe' is not valid here",
        ),
        (
            "environments:\n  prod:\n    resources: [web]\n    timeout: ${NOT_SET_ANYWHERE}\n",
            "deployer.yml:4: environments.prod.timeout: the environment variable NOT_SET_ANYWHERE is not set",
        ),
        (
            "environments:\n  prod:\n    resources:\n      - uuid: abc\n        project: shop\n",
            "deployer.yml:4: environments.prod.resources[1]: project only go with 'name', not with 'uuid'",
        ),
        ("deploy: now\nenvironments:\n  prod:\n    resources: [web]\n", "deployer.yml:1: deploy: unknown key 'deploy'"),
        ("", "the file is empty"),
    ],
)
def test_malformed_file_names_file_line_and_what_was_expected(run, tmp_path, body, expected):
    path = write(tmp_path, body)
    result = run("deploy", "--config", path, env={"COOLIFY_TOKEN": TOKEN, "COOLIFY_URL": "https://c.example.com"})
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message
    assert expected in message.replace(str(tmp_path) + "/", "")


def test_a_variable_is_needed_only_where_its_value_is_used(run, tmp_path):
    # The URL comes from --url (it beats the file), so the file's ${STAGING_URL} is never read.
    path = write(
        tmp_path,
        "environments:\n  prod:\n    provider: coolify\n    url: ${STAGING_URL}\n    resources: [{uuid: u1}]\n",
    )
    result = run(
        "deploy",
        "--config",
        path,
        "--url",
        "http://127.0.0.1:9",
        "--no-wait",
        "--timeout",
        "2s",
        env={"COOLIFY_TOKEN": TOKEN},
    )
    assert result.exit_code == 3 and "STAGING_URL" not in result.output  # it got as far as the server


def test_a_literal_token_in_the_file_is_refused_without_echoing_it(run, tmp_path):
    path = write(tmp_path, "environments:\n  prod:\n    token: abcd-literal-secret\n    resources: [web]\n")
    result = run("deploy", "--config", path, env={"COOLIFY_URL": "https://c.example.com"})
    assert result.exit_code == 2
    assert "deployer.yml:3" in result.stderr and "a token itself never goes in the file" in result.stderr
    assert "abcd-literal-secret" not in result.output


def test_choosing_an_environment(run, tmp_path):
    path = write(tmp_path, TWO_ENVIRONMENTS)
    env = {"COOLIFY_TOKEN": TOKEN, "COOLIFY_URL": "https://c.example.com"}
    result = run("deploy", "--config", path, env=env)
    assert (
        result.exit_code == 2
        and "several environments (staging, production): choose one with --environment" in result.stderr
    )
    result = run("deploy", "--config", path, "--environment", "prodution", env=env)
    assert result.exit_code == 2 and "did you mean 'production'?" in result.stderr
    result = run("deploy", "--config", str(tmp_path / "missing.yml"), env=env)
    assert result.exit_code == 2 and "no file at" in result.stderr


def test_the_schema_is_valid_and_accepts_the_shipped_examples():
    document = schema()
    jsonschema.Draft7Validator.check_schema(document)
    examples = sorted((ROOT / "examples").glob("deployer*.yml"))
    assert examples, "examples/deployer*.yml are the README's config examples"
    for example in examples:
        jsonschema.Draft7Validator(document).validate(yaml.safe_load(example.read_text()))


def test_the_schema_ships_inside_the_package():
    from importlib import resources

    text = resources.files("deployer").joinpath("config.schema.json").read_text("utf-8")
    assert json.loads(text)["title"] == "deployer.yml"


def test_yaml_and_jsonschema_are_not_imported_without_a_config_file():
    import subprocess
    import sys

    code = (
        "import sys, deployer.cli, deployer.config.settings, deployer.api, "
        "deployer.providers.coolify, deployer.providers.dokploy;"
        "print(sorted(m for m in ('yaml', 'jsonschema') if m in sys.modules))"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


def _readme_blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [block.split("\n", 1)[1] for block in text.split("```")[1::2] if block.startswith(language + "\n")]


def test_the_readme_config_example_is_the_shipped_one_and_loads(tmp_path):
    from deployer.config import file as config

    [example] = [b for b in _readme_blocks("yaml") if "environments:" in b]
    assert yaml.safe_load(example) == yaml.safe_load((ROOT / "examples" / "deployer.yml").read_text())
    path = tmp_path / "deployer.yml"
    path.write_text(example)
    environments = config.load(str(path))
    assert list(environments) == ["staging", "production"]
    assert [r.value for r in environments["production"].resources] == ["api", "worker", "web"]


def test_the_readme_gitlab_fan_out_recipe_is_a_valid_pipeline(tmp_path):
    import subprocess

    [recipe] = [b for b in _readme_blocks("yaml") if "deployer plan" in b and "trigger:" in b]
    checker = check_jsonschema()
    if not checker:
        pytest.skip("check-jsonschema is installed by .ci/run")
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(recipe)
    subprocess.run(
        [checker, "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci", str(path)],
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            "    timeout: 10 minutes\n",
            "environments.prod.timeout: '10 minutes' is not valid here; expected seconds (90) or a duration",
        ),
        ("    pr: -3\n", "environments.prod.pr: -3 is not valid here; expected a pull request number such as 42"),
        (
            "    resources: [{uuid: 123}]\n",
            "environments.prod.resources[1].uuid: expected a string, got a whole number (put it in quotes)",
        ),
    ],
)
def test_values_of_the_wrong_shape_say_what_is_expected(run, tmp_path, body, expected):
    text = "environments:\n  prod:\n" + body + ("" if "resources" in body else "    resources: [web]\n")
    result = run(
        "deploy",
        "--config",
        write(tmp_path, text),
        env={"COOLIFY_TOKEN": TOKEN, "COOLIFY_URL": "https://c.example.com"},
    )
    assert result.exit_code == 2 and expected in result.stderr


# Whatever a user writes in the file, deployer answers in one line (exit 2) or plans: never a crash.
_keys = st.sampled_from(
    [
        "environments",
        "resources",
        "provider",
        "url",
        "token",
        "timeout",
        "name",
        "uuid",
        "tag",
        "force",
        "health-url",
        "project",
        "kind",
        "x-a",
        "<<",
        "1",
        "",
        "prod",
    ]
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["${UNSET_VAR}", "$$", "${", "15m", "coolify", "dokploy", "on-failure"]),
)
_documents = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4), max_leaves=20
)


_options = sorted(schema()["definitions"]["environment"]["properties"])
_resources = st.lists(
    st.text(max_size=8)
    | st.sampled_from(["api", "web"])
    | st.dictionaries(
        st.sampled_from(["name", "uuid", "tag", "application-id", "compose-id", "kind", "project", "environment", "x"]),
        _scalars,
        max_size=3,
    ),
    min_size=1,
    max_size=3,
)
_values = _scalars | st.sampled_from(
    [True, "15m", 42, "coolify", "dokploy", "https://c.example.com", "stream", "${HOME}"]
)
_almost_valid = st.fixed_dictionaries(
    {
        "environments": st.dictionaries(
            st.sampled_from(["prod", "staging", "bad name"]),
            st.builds(
                lambda resources, options: {"resources": resources, **options},
                _resources,
                st.dictionaries(st.sampled_from([k for k in _options if k != "resources"]), _values, max_size=2),
            ),
            min_size=1,
            max_size=2,
        )
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    document=_almost_valid
    | st.dictionaries(st.just("environments"), st.dictionaries(_keys, _documents, max_size=3), max_size=1)
    | _documents
)
def test_any_file_gets_an_answer_never_a_crash(run, tmp_path, document):
    path = tmp_path / "fuzz.yml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    result = run("plan", "--config", str(path))  # catch_exceptions=False: a crash fails the test
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert result.stderr.startswith("deployer: error: ") and result.stderr.count("\n") == 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=_almost_valid)
def test_any_file_deploys_or_answers_in_one_line(run, tmp_path, document):
    """deploy reads every option of the file (plan reads only targets); the server is a closed port."""
    path = tmp_path / "fuzz.yml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    result = run(
        "deploy",
        "--config",
        str(path),
        "--environment",
        next(iter(document["environments"])),
        "--timeout",
        "0.5s",
        "--no-wait",
        "--url",
        "http://127.0.0.1:9",
        env={"COOLIFY_URL": "http://127.0.0.1:9", "COOLIFY_TOKEN": "t", "DOKPLOY_API_KEY": "k"},
    )
    assert result.exit_code in (2, 3), result.output
    event(f"exit {result.exit_code}")
    assert "Traceback" not in result.output
    assert result.stderr.count("deployer: error: ") == 1
