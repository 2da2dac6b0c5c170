"""When deployer asks: no early ramp where the history forecasts the end, one check every poll
interval before it (an early failure is still seen within one), close checks around it; the
history read is itself the first status check."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from deployer.waiting.schedule import Backoff


def schedule(backoff: Backoff, window: tuple[float, float] | None, until: float, start: float = 0.0) -> list[float]:
    """The check times a deployment that never ends would get, up to `until`."""
    times, now = [], start
    while now < until:
        now += backoff.next(now, window)
        times.append(round(now, 2))
    return times


def test_with_a_forecast_checks_come_one_poll_interval_apart_then_closely_around_the_end():
    times = schedule(Backoff(5.0, first=5.0), window=(40.3, 42.0), until=43.0, start=5.0)
    before = [t for t in times if t < 40.3]
    assert before == [10.0, 15.0, 20.0, 25.0, 30.0, 35.0]  # as a fixed 5 s poller would: no ramp
    assert 40.3 in times  # one check just as the window opens, in place of the regular one at 40
    close = [t for t in times if 40.3 <= t <= 42.5]
    assert all(b - a <= 0.6 for a, b in zip(close, close[1:], strict=False))  # a third of the window


def test_without_a_forecast_checks_ramp_from_half_a_second_to_the_poll_interval():
    assert schedule(Backoff(5.0), window=None, until=20.0)[:6] == [0.5, 1.5, 3.5, 7.5, 12.5, 17.5]


def test_after_the_window_checks_space_out_again():
    times = schedule(Backoff(5.0, first=5.0), window=(10.0, 11.0), until=30.0, start=5.0)
    late = [t for t in times if t > 12.0]
    assert late and max(b - a for a, b in zip(late, late[1:], strict=False)) == 5.0


def test_a_forecast_costs_no_more_requests_than_fixed_polling_and_sees_the_end_within_a_second(coolify, run):
    from deployer.simulator.coolify import SimResource

    web = SimResource("web", queue_seconds=0.2, build_seconds=3.0, history=3)
    sim = coolify([web])
    result = run(
        "deploy",
        "--url",
        sim.url,
        "--token",
        "root-token",
        "--uuid",
        web.uuid,
        "--poll-interval",
        "1s",
        "--logs",
        "none",
    )
    assert result.exit_code == 0, result.output
    reads = [r for r in sim.requests if r.method == "GET"]
    # The first check is the history read (it holds this deployment's row too): no second request then.
    assert "/deployments/applications/" in reads[0].path
    assert reads[1].at - reads[0].at > 0.5
    deployment = sim.deployments[-1]
    fixed_one_second = int(deployment.end - deployment.created) + 1  # checks a 1 s poller makes
    assert len(reads) <= fixed_one_second + 1


def test_coolifys_near_the_end_lines_bring_close_checks_without_a_history():
    from deployer.model import Deployment
    from deployer.providers.coolify import DeploymentFollower

    class Provider:
        class settings:  # noqa: N801 (a stand-in for Settings)
            uuids = ["a"]
            poll_interval = 5.0

        @staticmethod
        def forecast_wanted() -> bool:
            return True

        @staticmethod
        def deployment_url(path: object) -> None:
            return None

    import time
    from datetime import datetime, timezone

    def stamp(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def logged(*stages: tuple[str, float]) -> dict[str, str]:
        """A row whose log holds these lines, each written `ago` seconds before now."""
        entries = [
            {"command": None, "output": text, "type": "stdout", "timestamp": stamp(time.time() - ago), "hidden": False}
            for text, ago in stages
        ]
        return {"status": "in_progress", "logs": json.dumps(entries, separators=(",", ":"))}

    follower = DeploymentFollower(Provider(), Deployment("coolify", "a", "application", "d1"), phantom=False)  # type: ignore[arg-type]
    follower.apply(logged(("Building docker image completed.", 2.0)), want_logs=False)
    assert follower.expected_end is None  # one stage gives no pace: checks go on as usual
    follower.apply(logged(("Building docker image completed.", 8.0), ("Rolling update started.", 4.0)), want_logs=False)
    assert follower.expected_end is not None  # 4 s a stage: two more to come, the end in about 4 s
    opens, closes = follower.expected_end
    assert 3.0 < opens - time.monotonic() < 5.0 and closes - opens <= 2.0
    follower.apply(logged(("Rolling update completed.", 0.1)), want_logs=False)
    opens, _ = follower.expected_end
    assert opens - time.monotonic() < 0.5  # the last stage: the end is now


class _Counted:
    """A server on a fake clock: when each request arrived, and when each deployment ends."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sent: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.001)

    def busiest_minute(self) -> int:
        times = sorted(self.sent)
        return max((sum(1 for t in times[i:] if t < start + 60.0) for i, start in enumerate(times)), default=0)


def _fan_out(ends: list[float], budget: int) -> tuple[_Counted, list]:
    """Follow deployments that end at `ends` the way Coolify's are: one list request for all that
    are running, one read of its own for each that left the list."""
    from deployer.model import Deployment, Status
    from deployer.providers.base import Follower
    from deployer.waiting.loop import follow_all

    server = _Counted()

    class Fake(Follower):
        def __init__(self, end: float) -> None:
            super().__init__(Deployment("coolify", "r", "application", "d"))
            self.end = end

        def check(self, *, want_logs: bool, timeout: float) -> list[str]:
            server.sent.append(server.now)
            if server.now >= self.end:
                self.deployment.status = Status.FINISHED
            return []

        def cancel(self, timeout: float) -> str:
            return ""

    def listing(due, active, *, want_logs, timeout):
        server.sent.append(server.now)
        running = {f: ([], None) for f in active if server.now < f.end}
        return running, [f for f in active if f not in running]

    followers = [Fake(end) for end in ends]
    follow_all(
        followers,
        lambda event: None,
        started=0.0,
        deadline=3600.0,
        poll_interval=5.0,
        logs="none",
        cancel_on_timeout=False,
        budget_per_minute=budget,
        check_batch=listing,
        clock=server.clock,
        sleep=server.sleep,
    )
    return server, followers


@settings(max_examples=15, deadline=None)
@given(
    ends=st.lists(st.floats(min_value=0.5, max_value=30.0), min_size=1, max_size=80),
    budget=st.integers(min_value=5, max_value=120),
)
def test_many_deployments_all_end_under_the_budget_with_no_minute_over_it(ends, budget):
    server, followers = _fan_out(ends, budget)
    assert all(f.deployment.ended for f in followers)
    assert server.busiest_minute() <= budget
    # As soon as the budget allows: each end read once, and the list requests no more than one a second.
    reads_needed = len(ends) + 1
    minutes = (reads_needed + max(ends) + 2) // (budget - 1)
    assert server.now <= max(ends) + 60.0 * (minutes + 1) + 5.0


def test_three_hundred_deployments_under_120_a_minute_finish_as_the_budget_allows():
    import random

    rng = random.Random(7)
    ends = [rng.uniform(2.0, 20.0) for _ in range(300)]
    server, followers = _fan_out(ends, 120)
    assert all(f.deployment.ended for f in followers)
    assert server.busiest_minute() <= 120
    assert len(server.sent) <= 300 + 25  # one read of each end, and a list request a second while they run
    assert server.now < 160.0  # 320 requests at 120 a minute: the third minute, not a fourth


def test_the_budget_counts_a_request_until_a_minute_after_its_answer():
    from deployer.waiting.schedule import RequestBudget

    budget = RequestBudget(2, now=0.0)
    budget.take(2)  # a check of two requests: the second goes out when the first is answered
    budget.settle(0.8)
    assert budget.available(60.5) == 0  # the server saw the second one after 0: still in its minute
    assert budget.available(60.9) == 2
