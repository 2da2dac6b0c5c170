"""`python -m deployer.simulator`: serve a simulated Coolify (or Dokploy) on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import time
from typing import Any

from deployer.simulator.coolify import CoolifySimulator, SimResource
from deployer.simulator.dokploy import DokploySimulator, SimTarget


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deployer.simulator", description=__doc__)
    parser.add_argument("--provider", choices=["coolify", "dokploy"], default="coolify")
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to reach it from a container")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--token", default="dev-token", help="the root token (Dokploy: API key) it accepts")
    parser.add_argument("--build-seconds", type=float, default=8.0)
    parser.add_argument("--speed", type=float, default=1.0, help="how much faster than real time its clock runs")
    options = parser.parse_args()
    build = options.build_seconds
    sim: Any
    if options.provider == "dokploy":
        targets = [
            SimTarget("web", id="webApp000000000000000001", build_seconds=build),
            SimTarget("broken", id="brokenApp000000000000003", outcome="error", build_seconds=build / 2),
            SimTarget("stack", id="stack0000000000000000004", kind="compose", build_seconds=build),
        ]
        sim = DokploySimulator(
            targets, keys={options.token: None}, host=options.host, port=options.port, speed=options.speed
        )
        rows = [f"  {t.kind:<12} {t.name:<8} id {t.id}  -> {t.outcome}" for t in targets]
        hint = (
            f"deployer deploy --provider dokploy --url {{url}} --token {options.token} --application-id {targets[0].id}"
        )
    else:
        resources = [
            SimResource("web", uuid="web000000000000000000001", tags=("prod",), build_seconds=build),
            SimResource("worker", uuid="worker000000000000000002", tags=("prod",), build_seconds=build * 1.5),
            SimResource("broken", uuid="broken000000000000000003", outcome="failed", build_seconds=build / 2),
            SimResource("cache", uuid="cache0000000000000000004", kind="service", status="exited", tags=("prod",)),
        ]
        sim = CoolifySimulator(
            resources,
            tokens={options.token: frozenset({"root"})},
            host=options.host,
            port=options.port,
            speed=options.speed,
        )
        rows = [
            f"  {r.kind:<12} {r.name:<8} uuid {r.uuid}  tags {','.join(r.tags) or '-'}  -> {r.outcome}"
            for r in resources
        ]
        hint = f"deployer deploy --url {{url}} --token {options.token} --tag prod"
    with sim:
        print(f"Simulated {options.provider} at {sim.url}, token {options.token!r}", flush=True)
        print("\n".join(rows))
        print("Try: " + hint.format(url=sim.url), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
