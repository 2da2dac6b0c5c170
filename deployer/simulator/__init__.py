"""Simulated deploy servers (stdlib only): for the tests, `deployer demo`, and trying things out."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from deployer.simulator.coolify import CoolifySimulator, SimResource

DEMO_TOKEN = "demo-token-not-a-secret"


@contextmanager
def demo_server(provider: str = "coolify", *, fail: bool = False) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Serve a two-resource demo; yield (url, token, options naming the targets)."""
    resources = [
        SimResource("web", uuid="w3b0demo0app0000000000001", queue_seconds=1.0, build_seconds=5.0),
        SimResource("worker", uuid="w0rk3rdemo0app00000000002", queue_seconds=1.5, build_seconds=7.0,
                    outcome="failed" if fail else "finished"),
    ]
    with CoolifySimulator(resources, tokens={DEMO_TOKEN: frozenset({"root"})}) as sim:
        yield sim.url, DEMO_TOKEN, {"uuid": (",".join(r.uuid for r in resources),)}
