"""Measure deployer against the polling strategies public deploy actions use today.

Everything runs on 127.0.0.1 against deployer's simulated Coolify and Dokploy, side by side in one
run (deployer itself as real subprocesses, the baselines as threads), so the ratios hold on a noisy
machine. It prints one report of three tables; nothing here is a pass/fail test.

    python benchmarks/run.py            # the full run, about 9 minutes (3-minute deployments)
    python benchmarks/run.py --quick    # shorter deployments and fewer repeats, about 4 minutes
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from deployer.simulator.coolify import ALL_PERMISSIONS, CoolifySimulator, SimResource  # noqa: E402
from deployer.simulator.dokploy import DokploySimulator, SimTarget  # noqa: E402

PY = sys.executable
DOKPLOY_KEY = "dokploy-key"
COOLIFY_ENDED = ("finished", "failed", "cancelled-by-user")
DOKPLOY_ENDED = ("done", "error", "cancelled")
#: Peak memory of the child it runs, in KB: deployer's own, not the benchmark's.
PEAK_RSS = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
    "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


@dataclass
class Run:
    """One deploy by one strategy: where it ran, and when it started and gave its answer."""

    strategy: str
    provider: str
    length: float
    history: bool
    sim: Any
    resource: Any
    token: str = ""
    started_at: float = 0.0
    exited_at: float = 0.0
    extra: list[str] = field(default_factory=list)

    def ended_at(self) -> float:
        """When the deployment ended on the server (monotonic)."""
        if self.provider == "coolify":
            d = [x for x in self.sim.deployments if x.resource is self.resource][-1]
            return float(self.sim._t0 + d.end / self.sim.speed)
        job = [j for j in self.sim.jobs if j.target is self.resource][-1]
        return float(self.sim._t0 + job.end / self.sim.speed)

    def requests(self) -> int:
        if self.provider == "coolify":
            return sum(1 for r in self.sim.requests if r.headers.get("authorization") == f"Bearer {self.token}")
        return len(self.sim.requests)


# -- the strategies ----------------------------------------------------------------------------------


def deployer_args(run: Run) -> list[str]:
    common = ["--url", run.sim.url, "--logs", "none", "--timeout", "30m", *run.extra]
    if run.provider == "coolify":
        return [PY, "-m", "deployer", "deploy", "--token", run.token, "--uuid", run.resource.uuid, *common]
    return [PY, "-m", "deployer", "deploy", "--provider", "dokploy", "--token", DOKPLOY_KEY,
            "--application-id", run.resource.id, *common]  # fmt: skip


def ours(run: Run) -> None:
    run.started_at = time.monotonic()
    subprocess.run(deployer_args(run), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    run.exited_at = time.monotonic()


def polling(pauses: Callable[[], Any]) -> Callable[[Run], None]:
    """What public actions do: trigger, then read the status after each pause until it ended."""

    def strategy(run: Run) -> None:
        url = run.sim.url
        if run.provider == "coolify":
            with httpx.Client(headers={"Authorization": f"Bearer {run.token}"}) as client:
                run.started_at = time.monotonic()
                answer = client.post(f"{url}/api/v1/deploy", params={"uuid": run.resource.uuid}).json()
                uuid = answer["deployments"][0]["deployment_uuid"]
                for pause in pauses():
                    time.sleep(pause)
                    if client.get(f"{url}/api/v1/deployments/{uuid}").json()["status"] in COOLIFY_ENDED:
                        break
        else:
            target = run.resource
            before = {j.deployment_id for j in run.sim.jobs if j.target is target}  # known for free
            with httpx.Client(headers={"x-api-key": DOKPLOY_KEY}) as client:
                run.started_at = time.monotonic()
                client.post(f"{url}/api/application.deploy", json={"applicationId": target.id})
                for pause in pauses():
                    time.sleep(pause)
                    rows = client.get(f"{url}/api/deployment.all", params={"applicationId": target.id}).json()
                    new = [r for r in rows if r["deploymentId"] not in before]
                    if new and new[0]["status"] in DOKPLOY_ENDED:
                        break
        run.exited_at = time.monotonic()

    return strategy


def fixed(interval: float) -> Callable[[], Any]:
    return lambda: iter(lambda: interval, None)


def doubling(first: float, longest: float) -> Callable[[], Any]:
    def pauses() -> Any:
        pause = first
        while True:
            yield pause
            pause = min(longest, pause * 2)

    return pauses


STRATEGIES: dict[str, Callable[[Run], None]] = {
    "deployer (default: poll-interval 5 s)": ours,
    "fixed 5 s polling": polling(fixed(5.0)),
    "fixed 10 s polling": polling(fixed(10.0)),
    "exponential back-off (1 s doubling to 30 s)": polling(doubling(1.0, 30.0)),
}


# -- the figures --------------------------------------------------------------------------------------


def arrivals_of(server_class: type, *args: Any, **options: Any) -> tuple[Any, list[float]]:
    """A simulator that notes when each request arrives."""
    arrivals: list[float] = []

    class Timed(server_class):  # type: ignore[misc, valid-type]
        def handle(self, request: Any) -> Any:
            arrivals.append(time.monotonic())
            return super().handle(request)

    return Timed(*args, **options), arrivals


def startup(rounds: int) -> list[str]:
    """Process start to the first request reaching the server, beside a bare script that imports
    httpx and sends one request."""
    web = SimResource("web", build_seconds=1)
    sim, arrivals = arrivals_of(CoolifySimulator, [web], tokens={"t": ALL_PERMISSIONS}, rate_limit=10_000)
    rows = []
    with sim, tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "deployer.yml")
        with open(config, "w") as handle:
            handle.write(f"environments:\n  prod:\n    provider: coolify\n    resources: [{{uuid: {web.uuid}}}]\n")
        console_script = os.path.join(os.path.dirname(PY), "deployer")
        deploy = ["--url", sim.url, "--token", "t", "--no-wait"]
        variants = [
            ("a bare script: import httpx, send one request",
             [PY, "-c", f"import httpx; httpx.post('{sim.url}/api/v1/deploy?uuid={web.uuid}')"]),
            ("`deployer deploy`", [console_script, "deploy", "--uuid", web.uuid, *deploy]),
            ("`python -m deployer deploy`", [PY, "-m", "deployer", "deploy", "--uuid", web.uuid, *deploy]),
            ("`deployer deploy --config` (yaml + jsonschema)", [console_script, "deploy", "--config", config, *deploy]),
        ]  # fmt: skip
        medians: list[float] = []
        for label, command in variants:
            times = []
            for _ in range(rounds):
                arrivals.clear()
                began = time.monotonic()
                subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
                times.append(arrivals[0] - began)
            medians.append(statistics.median(times))
            ratio = f"{medians[-1] / medians[0]:.2f}x the bare script" if len(medians) > 1 else "the reference"
            target = " (target: at most 2x)" if label == "`deployer deploy`" else ""
            rows.append(f"| start cost: process start to first request, {label} | {medians[-1] * 1000:.0f} ms | "
                        f"{ratio}{target}, median of {rounds} |")  # fmt: skip
    return rows


def peak_rss(command: list[str]) -> tuple[float, float]:
    """Run `command`; its peak RSS in MB and its wall time."""
    began = time.monotonic()
    kb = int(subprocess.run([PY, "-c", PEAK_RSS, *command], capture_output=True, text=True, check=True).stdout)
    return kb / 1024, time.monotonic() - began


def memory(count: int, lines: int, build: float) -> str:
    resources = [SimResource(f"big-{i}", queue_seconds=0.5, build_seconds=build, log_lines=lines) for i in range(count)]
    with CoolifySimulator(resources, tokens={"t": ALL_PERMISSIONS}, rate_limit=10_000) as sim:
        command = [PY, "-m", "deployer", "deploy", "--url", sim.url, "--token", "t",
                   "--uuid", ",".join(r.uuid for r in resources), "--logs", "stream", "--timeout", "30m"]  # fmt: skip
        mb, took = peak_rss(command)
    return (
        f"| peak memory, {count} Coolify deployments streaming {lines:,}-line logs | {mb:.0f} MB | "
        f"target < 60 MB ({took:.0f} s, {len(sim.requests)} requests) |"
    )


def detection(lengths: list[float], repeats: int, stagger: float) -> list[str]:
    """Every strategy on both servers, for each length, with and without history, all at once
    (starts spread over `stagger` seconds so start-ups do not pile up)."""
    runs: list[Run] = []
    coolify_resources: list[SimResource] = []
    dokploy_sims: list[DokploySimulator] = []
    for strategy in STRATEGIES:
        for length in lengths:
            for history in (True, False):
                for _ in range(repeats):
                    build = length + random.uniform(-2.5, 2.5)  # any phase against a 5 s poller's checks
                    r = SimResource(f"app-{len(coolify_resources)}", queue_seconds=0.5, build_seconds=build,
                                    history=5 if history else 0)  # fmt: skip
                    coolify_resources.append(r)
                    runs.append(Run(strategy, "coolify", length, history, None, r, token=f"tok{len(runs)}"))
                    t = SimTarget("web", build_seconds=build, previous=5 if history else 0)
                    sim = DokploySimulator([t], queue_delay=0.3)
                    dokploy_sims.append(sim)
                    runs.append(Run(strategy, "dokploy", length, history, sim, t))
    coolify = CoolifySimulator(
        coolify_resources, tokens={r.token: ALL_PERMISSIONS for r in runs if r.token}, rate_limit=10_000
    )
    with coolify:
        for sim in dokploy_sims:
            sim.start()
        for run in runs:
            if run.provider == "coolify":
                run.sim = coolify
        random.shuffle(runs)

        def go(run: Run, delay: float) -> None:
            time.sleep(delay)
            STRATEGIES[run.strategy](run)

        threads = [threading.Thread(target=go, args=(run, i * stagger / len(runs))) for i, run in enumerate(runs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for sim in dokploy_sims:
            sim.stop()
    rows = []
    for provider in ("coolify", "dokploy"):
        for length in lengths:
            label = f"{length:.0f} s" if length < 60 else f"{length / 60:.0f} min"
            for history in (True, False):
                for strategy in STRATEGIES:
                    mine = [r for r in runs if (r.strategy, r.provider, r.length, r.history) ==
                            (strategy, provider, length, history)]  # fmt: skip
                    delays = sorted(r.exited_at - r.ended_at() for r in mine)
                    p95 = delays[min(len(delays) - 1, int(round(0.95 * (len(delays) - 1))))]
                    requests = statistics.median(r.requests() for r in mine)
                    rows.append(
                        f"| {provider.capitalize()} | {label} | {'yes' if history else 'no'} | {strategy} | "
                        f"{statistics.median(delays):.2f} s | {p95:.2f} s | {requests:.0f} |"
                    )
    return rows


def fan_out(count: int, longest: float, budget: int) -> list[str]:
    """`count` Coolify resources ending at random times: deployer following them all in one run,
    beside one fixed 5 s poller per resource (a CI matrix)."""
    rows = []
    rng = random.Random(7)
    builds = [rng.uniform(2.0, longest) for _ in range(count)]
    for name in ("deployer, one run", "fixed 5 s polling, one job per resource"):
        resources = [SimResource(f"svc-{i}", queue_seconds=0.5, build_seconds=b) for i, b in enumerate(builds)]
        with CoolifySimulator(resources, tokens={"t": ALL_PERMISSIONS}, rate_limit=100_000) as sim:
            began = time.monotonic()
            mb = None
            if name.startswith("deployer"):
                command = [PY, "-m", "deployer", "deploy", "--url", sim.url, "--token", "t", "--uuid",
                           ",".join(r.uuid for r in resources), "--logs", "none", "--timeout", "30m",
                           "--request-budget", str(budget)]  # fmt: skip
                mb, _ = peak_rss(command)
            else:
                matrix = [Run(name, "coolify", 0, False, sim, r, token="t") for r in resources]
                threads = [threading.Thread(target=polling(fixed(5.0)), args=(run,)) for run in matrix]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            done = time.monotonic()
            slowest = max(float(sim._t0 + d.end / sim.speed) for d in sim.deployments)
            times = sorted(r.at for r in sim.requests)
            busiest = max((sum(1 for t in times[i:] if t < s + 60) for i, s in enumerate(times)), default=0)
            over = " (over)" if busiest > budget else ""
            rows.append(
                f"| {count} resources, {min(builds):.0f}-{max(builds):.0f} s | {name} | {done - began:.1f} s | "
                f"{done - slowest:+.1f} s | {len(times)} | {busiest}{over} | "
                f"{f'{mb:.0f} MB' if mb is not None else '-'} |"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter deployments and fewer repeats")
    options = parser.parse_args()
    random.seed(42)
    quick = options.quick
    lengths = [5.0, 10.0, 20.0] if quick else [5.0, 40.0, 180.0]
    print(f"deployer benchmark, {'quick' if quick else 'full'} run, on {os.cpu_count()} cores\n")
    print("| figure | value | note |\n|---|---|---|")
    for row in startup(10 if quick else 20):
        print(row, flush=True)
    print(memory(50, 10_000, 8.0 if quick else 20.0), flush=True)
    print("\n| server | deployment | history | strategy | detection delay, median | p95 | requests |")
    print("|---|---|---|---|---|---|---|")
    for row in detection(lengths, 3 if quick else 5, stagger=10.0 if quick else 30.0):
        print(row, flush=True)
    print("\n| fan-out | strategy | wall time | after the slowest ended | requests | most in any 60 s "
          "(budget 120) | peak RSS |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for count in (50, 300):
        for row in fan_out(count, 20.0, 120):
            print(row, flush=True)


if __name__ == "__main__":
    main()
