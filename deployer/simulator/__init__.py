"""Simulated deploy servers (stdlib only): for the tests, `deployer demo`, and trying things out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from deployer.simulator.coolify import CoolifySimulator, SimResource
from deployer.simulator.dokploy import DokploySimulator, SimTarget

DEMO_TOKEN = "demo-token-not-a-secret"
#: The version the demo deploys (both applications run v1 before it).
DEMO_VERSION = "v2"


@contextmanager
def demo_server(provider: str = "coolify", *, fail: bool = False) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Serve a two-application demo (Docker images at v1); yield (url, token, options naming the
    targets and pinning v2). With `fail`, the worker's v2 fails and is rolled back to v1."""
    pinned = {"image_tag": DEMO_VERSION, "rollback_on_failure": True}
    if provider == "dokploy":
        apps = [
            SimTarget("web", id="webDemoApp0000000000001", build_seconds=4.0, docker_image="registry.local/web:v1"),
            SimTarget(
                "worker",
                id="workerDemoApp000000002",
                build_seconds=4.0,
                docker_image="registry.local/worker:v1",
                failing_images=("registry.local/worker:v2",) if fail else (),
            ),
        ]
        with DokploySimulator(apps, keys={DEMO_TOKEN: None}, queue_delay=1.0) as dokploy:
            yield dokploy.url, DEMO_TOKEN, {"application_id": (",".join(a.id for a in apps),), **pinned}
        return
    resources = [
        SimResource("web", uuid="w3b0demo0app0000000000001", queue_seconds=1.0, build_seconds=5.0, docker_image=True),
        SimResource(
            "worker",
            uuid="w0rk3rdemo0app00000000002",
            queue_seconds=1.5,
            build_seconds=7.0,
            docker_image=True,
            image="ghcr.io/acme/worker",
            failing_versions=(DEMO_VERSION,) if fail else (),
        ),
    ]
    with CoolifySimulator(resources, tokens={DEMO_TOKEN: frozenset({"root"})}) as sim:
        yield sim.url, DEMO_TOKEN, {"uuid": (",".join(r.uuid for r in resources),), **pinned}
