"""`python -m deployer.simulator`: serve a simulated Coolify on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import time

from deployer.simulator.coolify import CoolifySimulator, SimResource


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deployer.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to reach it from a container")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--token", default="dev-token", help="the root token it accepts")
    parser.add_argument("--build-seconds", type=float, default=8.0)
    parser.add_argument("--speed", type=float, default=1.0, help="how much faster than real time its clock runs")
    options = parser.parse_args()
    resources = [
        SimResource("web", uuid="web000000000000000000001", tags=("prod",), build_seconds=options.build_seconds),
        SimResource("worker", uuid="worker000000000000000002", tags=("prod",), build_seconds=options.build_seconds * 1.5),
        SimResource("broken", uuid="broken000000000000000003", outcome="failed", build_seconds=options.build_seconds / 2),
        SimResource("cache", uuid="cache0000000000000000004", kind="service", status="exited", tags=("prod",)),
    ]
    with CoolifySimulator(resources, tokens={options.token: frozenset({"root"})}, host=options.host, port=options.port, speed=options.speed) as sim:
        print(f"Simulated Coolify at {sim.url}, token {options.token!r}")
        for r in resources:
            print(f"  {r.kind:<12} {r.name:<8} uuid {r.uuid}  tags {','.join(r.tags) or '-'}  -> {r.outcome}")
        print(f"Try: deployer deploy --url {sim.url} --token {options.token} --tag prod")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
