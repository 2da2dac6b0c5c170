"""The seeded chaos run: many deploys through a server that resets, hangs, throttles, lies and
forgets. What must hold: no false success, no duplicate trigger, no traceback, every run ends
within its deadline plus one poll interval. It prints the counts."""

from __future__ import annotations

import io
import random
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from deployer.api import deploy
from deployer.config.settings import resolve
from deployer.reporting.terminal import ConsoleReporter
from deployer.simulator.coolify import CoolifySimulator, SimResource
from deployer.simulator.server import Faults

RUNS = 200
SEED = 20261122
TIMEOUT = 2.5
POLL = 0.3
# Scheduling noise on a loaded 2-core machine, on top of the one poll interval the policy allows.
SLACK = 0.4


@dataclass
class Outcome:
    exit_code: int = -1
    false_success: bool = False
    duplicate: bool = False
    traceback: str = ""
    overrun: float = 0.0
    faults: int = 0


def one_run(index: int) -> Outcome:
    rng = random.Random(SEED + index)
    resources = [
        SimResource(
            f"app{i}",
            queue_seconds=rng.uniform(0, 1),
            build_seconds=rng.uniform(0.5, 6),
            outcome=rng.choice(["finished", "finished", "failed", "cancelled"]),
        )
        for i in range(rng.randint(1, 3))
    ]
    faults = Faults(seed=SEED + index, rate=rng.choice([0.1, 0.25, 0.5]), hang_seconds=rng.uniform(0.5, 4))
    outcome = Outcome()
    with CoolifySimulator(resources, faults=faults, speed=4.0, retry_after=1) as sim:
        settings = resolve(
            {
                "provider": "coolify",
                "url": sim.url,
                "token": "root-token",
                "uuid": (",".join(r.uuid for r in resources),),
                "timeout": f"{TIMEOUT}s",
                "poll_interval": f"{POLL}s",
            },
            {},
        )
        started = time.monotonic()
        try:
            result = deploy(settings, on_event=ConsoleReporter(io.StringIO(), str, err=io.StringIO()))
        except BaseException:  # anything that escapes is a traceback a user would see
            outcome.traceback = traceback.format_exc()
            return outcome
        outcome.overrun = time.monotonic() - started - TIMEOUT
        outcome.exit_code = result.exit_code
        outcome.faults = len(faults.log)
        outcome.duplicate = sim.triggers > 1
        if result.exit_code == 0 or result.status == "finished":
            truth = {d.uuid: sim.status_of(d) for d in sim.deployments}
            outcome.false_success = any(
                truth.get(d.deployment_id or "") != "finished" for d in result.deployments
            ) or len(result.deployments) != len(resources)
    return outcome


def test_chaos(capsys):
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(one_run, range(RUNS)))
    codes: dict[int, int] = {}
    for o in outcomes:
        codes[o.exit_code] = codes.get(o.exit_code, 0) + 1
    false_successes = sum(o.false_success for o in outcomes)
    duplicates = sum(o.duplicate for o in outcomes)
    tracebacks = [o.traceback for o in outcomes if o.traceback]
    worst = max(o.overrun for o in outcomes)
    late = sum(o.overrun > POLL + SLACK for o in outcomes)
    with capsys.disabled():
        print(
            f"\nchaos: {RUNS} deploys (seed {SEED}), {sum(o.faults for o in outcomes)} faults injected; "
            f"exit codes {dict(sorted(codes.items()))}; false successes {false_successes}; "
            f"duplicate triggers {duplicates}; tracebacks {len(tracebacks)}; "
            f"runs past deadline + poll interval {late} (worst {worst:+.2f}s against a {TIMEOUT}s deadline)"
        )
    assert not tracebacks, tracebacks[0]
    assert false_successes == 0
    assert duplicates == 0
    assert late == 0, f"worst overrun {worst:.2f}s"
    assert codes.get(0, 0) > 0 and sum(v for k, v in codes.items() if k != 0) > 0  # both kinds of ending happened
