from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from deployer.cli import cli
from deployer.simulator.coolify import CoolifySimulator
from deployer.simulator.dokploy import DokploySimulator
from tests.openapi import OpenAPIDocument

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
_ENV_PREFIXES = ("INPUT_", "GITHUB_", "GITLAB_", "CI_", "COOLIFY_", "DOKPLOY_", "DEPLOYER_")
_documents: dict[str, OpenAPIDocument] = {}


def shared_file(relative: str) -> Path:
    """A file of ../shared: skipped where it is absent (a user's clone), a failure in .ci/run."""
    path = SHARED / relative
    if not path.exists():
        message = f"../shared/{relative} is not beside this checkout"
        if os.environ.get("DEPLOYER_REQUIRE_SHARED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def openapi(name: str) -> OpenAPIDocument:
    if name not in _documents:
        _documents[name] = OpenAPIDocument(str(shared_file(f"specs/{name}-openapi.json")))
    return _documents[name]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no CI variables from the machine running them: each test sets what it needs."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in ("CI", "NO_COLOR"):
            monkeypatch.delenv(name, raising=False)


def _simulators(server_class: type, spec: str) -> Any:
    """Start simulated servers for one test; afterwards, every request they got must fit the
    server's OpenAPI document (checked wherever ../shared is beside the checkout)."""
    started: list[Any] = []

    def make(*args: Any, **options: Any) -> Any:
        sim = server_class(*args, **options).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()
    if SHARED.exists():
        document = openapi(spec)
        problems = [p for sim in started for r in sim.requests for p in document.check(r)]
        assert not problems, f"requests that do not fit {spec}-openapi.json:\n" + "\n".join(problems)


@pytest.fixture
def coolify() -> Any:
    """`coolify([SimResource(...)], **options)` starts a simulated Coolify."""
    yield from _simulators(CoolifySimulator, "coolify")


@pytest.fixture
def dokploy() -> Any:
    """`dokploy([SimTarget(...)], **options)` starts a simulated Dokploy."""
    yield from _simulators(DokploySimulator, "dokploy")


@pytest.fixture
def run() -> Callable[..., Any]:
    """Invoke the CLI the way a user does; returns click's Result (exit_code, stdout, stderr)."""

    def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke
