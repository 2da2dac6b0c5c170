"""Measure deployer against the polling strategies public deploy actions use today.

Everything runs on 127.0.0.1 against deployer's simulated Coolify, side by side in one process
(deployer itself as a real subprocess, the baselines as threads), so the ratios hold on a noisy
machine. It prints one table; nothing here is a pass/fail test.

    python benchmarks/run.py            # the full run, about 5 minutes (a 3-minute deployment)
    python benchmarks/run.py --quick    # shorter deployments, about 1 minute
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
from dataclasses import dataclass

import httpx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from deployer.simulator.coolify import ALL_PERMISSIONS, CoolifySimulator, SimResource  # noqa: E402

PY = sys.executable


@dataclass
class Run:
    strategy: str
    token: str
    resources: list[SimResource]
    exited_at: float = 0.0
    started_at: float = 0.0


def deployer_cmd(sim: CoolifySimulator, token: str, uuids: list[str], *extra: str) -> list[str]:
    return [
        PY,
        "-m",
        "deployer",
        "deploy",
        "--url",
        sim.url,
        "--token",
        token,
        "--uuid",
        ",".join(uuids),
        "--logs",
        "none",
        "--timeout",
        "30m",
        *extra,
    ]


def end_time(sim: CoolifySimulator, token_runs: list[Run], resource: SimResource) -> float:
    """The monotonic time at which the resource's (newest) deployment ended on the server."""
    d = [x for x in sim.deployments if x.resource is resource][-1]
    return sim._t0 + d.end / sim.speed


def fixed_polling(sim: CoolifySimulator, run: Run, interval: float) -> None:
    """What most public actions do: trigger, then GET the deployment every `interval`, one resource
    after another."""
    with httpx.Client(headers={"Authorization": f"Bearer {run.token}", "Accept": "application/json"}) as client:
        run.started_at = time.monotonic()
        for r in run.resources:
            answer = client.post(f"{sim.url}/api/v1/deploy", params={"uuid": r.uuid}).json()
            uuid = answer["deployments"][0]["deployment_uuid"]
            while True:
                time.sleep(interval)
                status = client.get(f"{sim.url}/api/v1/deployments/{uuid}").json()["status"]
                if status in ("finished", "failed", "cancelled-by-user"):
                    break
        run.exited_at = time.monotonic()


def backoff_polling(sim: CoolifySimulator, run: Run, first: float, longest: float) -> None:
    """Exponential back-off, as some actions do: the first check after `first` seconds, each pause
    twice the last, up to `longest`."""
    with httpx.Client(headers={"Authorization": f"Bearer {run.token}", "Accept": "application/json"}) as client:
        run.started_at = time.monotonic()
        for r in run.resources:
            answer = client.post(f"{sim.url}/api/v1/deploy", params={"uuid": r.uuid}).json()
            uuid = answer["deployments"][0]["deployment_uuid"]
            pause = first
            while True:
                time.sleep(pause)
                pause = min(longest, pause * 2)
                status = client.get(f"{sim.url}/api/v1/deployments/{uuid}").json()["status"]
                if status in ("finished", "failed", "cancelled-by-user"):
                    break
        run.exited_at = time.monotonic()


def ours(sim: CoolifySimulator, run: Run, *extra: str) -> None:
    run.started_at = time.monotonic()
    subprocess.run(
        deployer_cmd(sim, run.token, [r.uuid for r in run.resources], *extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    run.exited_at = time.monotonic()


STRATEGIES = {
    "deployer (default, poll-interval 5s)": lambda sim, run: ours(sim, run),
    "deployer, new app (no history)": lambda sim, run: ours(sim, run),
    "deployer (poll-interval 30s)": lambda sim, run: ours(sim, run, "--poll-interval", "30s"),
    "fixed 5 s polling": lambda sim, run: fixed_polling(sim, run, 5.0),
    "fixed 10 s polling": lambda sim, run: fixed_polling(sim, run, 10.0),
    "fixed 15 s polling": lambda sim, run: fixed_polling(sim, run, 15.0),
    "exponential back-off (1 s doubling to 30 s)": lambda sim, run: backoff_polling(sim, run, 1.0, 30.0),
}


def requests_of(sim: CoolifySimulator, token: str) -> int:
    return sum(1 for r in sim.requests if r.headers.get("authorization") == f"Bearer {token}")


def busiest_minute(sim: CoolifySimulator, token: str) -> int:
    """The most requests in any 60 s: what a server's rate limit counts."""
    times = sorted(r.at for r in sim.requests if r.headers.get("authorization") == f"Bearer {token}")
    return max((sum(1 for t in times[i:] if t < start + 60) for i, start in enumerate(times)), default=0)


def startup(rounds: int = 20) -> list[str]:
    """Process start to the first request reaching the server."""
    arrivals: list[float] = []
    web = SimResource("web", build_seconds=1)

    class Timed(CoolifySimulator):
        def handle(self, request):  # type: ignore[override]
            arrivals.append(time.monotonic())
            return super().handle(request)

    figures = []
    with Timed([web], tokens={"t": ALL_PERMISSIONS}, rate_limit=10_000) as sim, tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "deployer.yml")
        with open(config, "w") as handle:
            handle.write(f"environments:\n  prod:\n    provider: coolify\n    resources: [{{uuid: {web.uuid}}}]\n")
        console_script = os.path.join(os.path.dirname(PY), "deployer")
        variants = [
            ("`python -m deployer`", [PY, "-m", "deployer", "deploy", "--uuid", web.uuid], "target < 250 ms"),
            ("`deployer`", [console_script, "deploy", "--uuid", web.uuid], "target < 250 ms"),
            ("`deployer --config` (yaml + jsonschema)", [console_script, "deploy", "--config", config], "no target"),
        ]
        for label, command, target in variants:
            times = []
            for _ in range(rounds):
                arrivals.clear()
                began = time.monotonic()
                subprocess.run(
                    [*command, "--url", sim.url, "--token", "t", "--no-wait"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )
                times.append(arrivals[0] - began)
            figures.append(
                f"| start-up to first request, {label} "
                f"(median of {rounds}) | {statistics.median(times) * 1000:.0f} ms | {target} |"
            )
    return figures


def detection(lengths: list[float], repeats: int) -> list[str]:
    rows = []
    resources: dict[tuple[str, float, int], SimResource] = {}
    for name in STRATEGIES:
        for length in lengths:
            for i in range(repeats):
                resources[(name, length, i)] = SimResource(
                    f"app-{len(resources)}",
                    queue_seconds=0.5,
                    build_seconds=length * random.uniform(0.97, 1.03),
                    history=0 if "new app" in name else 5,
                )
    tokens = {key: f"tok{n}" for n, key in enumerate(resources)}
    with CoolifySimulator(
        list(resources.values()), tokens={t: ALL_PERMISSIONS for t in tokens.values()}, rate_limit=10_000
    ) as sim:
        runs = {key: Run(key[0], tokens[key], [r]) for key, r in resources.items()}
        threads = [threading.Thread(target=STRATEGIES[key[0]], args=(sim, run)) for key, run in runs.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for length in lengths:
            label = f"{length:.0f} s" if length < 60 else f"{length / 60:.0f} min"
            for name in STRATEGIES:
                mine = [(k, runs[k]) for k in runs if k[0] == name and k[1] == length]
                delays = [run.exited_at - end_time(sim, [], run.resources[0]) for _, run in mine]
                requests = [requests_of(sim, run.token) for _, run in mine]
                minutes = statistics.median(run.exited_at - run.started_at for _, run in mine) / 60
                rows.append(
                    f"| {label} deployment | {name} | {statistics.median(delays):.2f} s | "
                    f"{statistics.median(requests):.0f} | {statistics.median(requests) / minutes:.1f} |"
                )
    return rows


def fan_out(count: int, longest: float, speed: float = 10.0) -> list[str]:
    """50 resources ending at random times. deployer runs in real time; the one-after-another
    baseline would take the sum of all builds, so it runs on a clock `speed` times faster, its 5 s
    interval scaled alike, and its figures are given in the simulated seconds."""
    rows = []
    rng = random.Random(7)
    builds = [rng.uniform(longest / 6, longest) for _ in range(count)]
    for name, strategy, clock in (
        ("deployer (default)", lambda sim, run: ours(sim, run), 1.0),
        ("fixed 5 s polling, one after another", lambda sim, run: fixed_polling(sim, run, 5.0 / speed), speed),
    ):
        resources = [SimResource(f"svc-{i}", queue_seconds=0.5, build_seconds=b) for i, b in enumerate(builds)]
        with CoolifySimulator(resources, tokens={"t": ALL_PERMISSIONS}, rate_limit=10_000, speed=clock) as sim:
            run = Run(name, "t", resources)
            strategy(sim, run)
            slowest = max(end_time(sim, [], r) for r in resources)
            wall = (run.exited_at - run.started_at) * clock
            per_minute = busiest_minute(sim, "t") if clock == 1 else requests_of(sim, "t") / (wall / 60)
            note = "" if clock == 1 else f" (simulated, clock x{clock:.0f})"
            rows.append(
                f"| {count} resources, slowest {max(builds):.0f} s | {name}{note} | {wall:.1f} s | "
                f"{(run.exited_at - slowest) * clock:+.1f} s | {requests_of(sim, 't')} | {per_minute:.0f} |"
            )
    return rows


def memory(count: int, lines: int, build: float) -> str:
    resources = [SimResource(f"big-{i}", queue_seconds=0.5, build_seconds=build, log_lines=lines) for i in range(count)]
    with CoolifySimulator(resources, tokens={"t": ALL_PERMISSIONS}, rate_limit=10_000) as sim:
        probe = (
            "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
            "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        cmd = [PY, "-c", probe, *deployer_cmd(sim, "t", [r.uuid for r in resources])]
        cmd[cmd.index("none")] = "stream"
        began = time.monotonic()
        peak_kb = int(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip())
        took = time.monotonic() - began
    return (
        f"| peak memory, {count} deployments streaming {lines:,}-line logs | {peak_kb / 1024:.0f} MB "
        f"({took:.0f} s, {requests_of(sim, 't')} requests) | target < 60 MB |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter deployments and fewer repeats")
    options = parser.parse_args()
    random.seed(42)
    lengths = [2.0, 6.0, 20.0] if options.quick else [5.0, 30.0, 180.0]
    print(f"deployer benchmark, {'quick' if options.quick else 'full'} run, on {os.cpu_count()} cores\n")
    print("| figure | value | note |\n|---|---|---|")
    for row in startup(10 if options.quick else 20):
        print(row, flush=True)
    print(memory(50, 10_000, 8.0 if options.quick else 20.0), flush=True)
    print("\n| deployment | strategy | detection delay (median) | requests per deployment | requests per minute |")
    print("|---|---|---|---|---|")
    for row in detection(lengths, 3 if options.quick else 5):
        print(row, flush=True)
    print("\n| fan-out | strategy | wall time | after the slowest ended | requests | most requests in any minute |")
    print("|---|---|---|---|---|---|")
    for row in fan_out(50, 20.0 if options.quick else 60.0):
        print(row, flush=True)


if __name__ == "__main__":
    main()
