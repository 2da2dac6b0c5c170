"""Dokploy's live log: the build log streamed over its WebSocket instead of read at each check,
its last line bringing the check that confirms the end, and the fall-backs where it cannot be used."""

from __future__ import annotations

import threading
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployer.log_socket import LogSocket
from deployer.simulator.dokploy import DokploySimulator, SimTarget
from deployer.simulator.server import Peer, Reply, Request, SimulatedServer

KEY = "dokploy-key"


def args(sim: Any, target: SimTarget, *extra: str) -> list[str]:
    kind = "--application-id" if target.kind == "application" else "--compose-id"
    return ["deploy", "--provider", "dokploy", "--url", sim.url, "--token", KEY, kind, target.id, *extra]


def paths(sim: Any) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in sim.requests]


def test_the_log_streams_over_the_socket_once_and_in_order_without_reading_it(dokploy, run):
    web = SimTarget("web", build_seconds=3, log_lines=8)
    sim = dokploy([web])
    result = run(*args(sim, web, "--logs", "stream"))
    assert result.exit_code == 0, result.output
    expected = [
        "Initializing deployment",
        *(f"Step {i}/8: building" for i in range(1, 9)),
        "✅ Nixpacks build completed.",
    ]
    shown = [line.strip() for line in result.stdout.splitlines() if line.strip() in expected]
    assert shown == expected
    assert "deployment.readLogs" not in paths(sim)
    assert paths(sim).count("listen-deployment") == 1


def test_a_failure_is_seen_from_its_last_line_and_its_log_shown_without_a_log_read(dokploy, run):
    web = SimTarget("web", build_seconds=4, outcome="error")
    sim = dokploy([web])
    result = run(*args(sim, web, "--logs", "on-failure"))
    assert result.exit_code == 1, result.output
    assert "npm run build" in result.stdout and "Error occurred ❌" in result.stdout
    assert "deployment.readLogs" not in paths(sim)
    # No status checks through the build: the one that finds the row, then the ones the last line brought.
    assert paths(sim).count("deployment.all") <= 5


def test_the_end_is_noticed_soon_after_the_row_says_it_with_few_requests(dokploy, run):
    web = SimTarget("web", build_seconds=8, kind="compose")
    sim = dokploy([web])
    result = run(*args(sim, web, "--logs", "none"))
    assert result.exit_code == 0, result.output
    job = sim.jobs[-1]
    ended = [r.at for r in sim.requests if r.path.endswith("deployment.allByCompose") and r.at >= sim._t0 + job.end]
    checks = [r for r in sim.requests if r.path.endswith("deployment.allByCompose")]
    assert ended and ended[0] - (sim._t0 + job.end) < 1.0  # the first check after the end saw it
    # Fixed polling every 5 s would send 2 status reads over these 8 s: one finds the row, then the
    # one the last line brings (and one after it, where the status had not changed yet).
    assert len(checks) <= 4, paths(sim)


def test_a_dropped_socket_falls_back_to_reading_the_log_when_the_status_changes(dokploy, run):
    web = SimTarget("web", build_seconds=2, log_lines=5)
    sim = dokploy([web], log_socket="drop")
    result = run(*args(sim, web, "--logs", "stream", "--poll-interval", "0.5s"))
    assert result.exit_code == 0, result.output
    assert result.stdout.count("the live log closed before the end") == 1
    for line in ["Initializing deployment", "Step 5/5: building", "✅ Nixpacks build completed."]:
        assert result.stdout.count(line) == 1, result.stdout
    assert paths(sim).count("deployment.readLogs") == 1  # at the end, once


def test_a_refused_socket_is_said_once_and_not_tried_again_for_the_next_resource(dokploy, run):
    web, api = SimTarget("web", build_seconds=1.5), SimTarget("api", build_seconds=1.5)
    sim = dokploy([web, api], log_socket="refused")
    result = run(
        "deploy", "--provider", "dokploy", "--url", sim.url, "--token", KEY,
        "--application-id", f"{web.id},{api.id}", "--logs", "stream", "--poll-interval", "0.5s",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.count("live log could not be used") == 1
    assert paths(sim).count("listen-deployment") == 1
    for line in ["Initializing deployment", "✅ Nixpacks build completed."]:
        assert result.stdout.count(line) == 2, result.stdout  # each log whole, once


def test_the_socket_carries_the_key_in_its_header_and_never_in_its_address(dokploy, run):
    web = SimTarget("web", build_seconds=1)
    sim = dokploy([web])
    run(*args(sim, web))
    opened = [r for r in sim.requests if r.path == "/listen-deployment"]
    assert opened and opened[0].headers["x-api-key"] == KEY
    assert KEY not in str(opened[0].query)
    assert opened[0].query["logPath"][0].startswith("/etc/dokploy/logs/web/")


def _socket(sim: Any, query: str, headers: dict[str, str]) -> LogSocket:
    done = threading.Event()
    got: list[str] = []
    socket = LogSocket(
        sim.url.replace("http", "ws", 1) + "/listen-deployment" + query,
        headers,
        verify=True,
        on_lines=got.extend,
        on_end=done.set,
        open_timeout=5,
    )
    socket.start()
    assert done.wait(5)
    return socket


def test_a_socket_the_server_closes_at_once_says_why():
    with DokploySimulator([SimTarget("web")]) as sim:
        assert _socket(sim, "", {"x-api-key": KEY}).refused == "the server closed it at once (4000 logPath no provided)"
        assert _socket(sim, "?logPath=/etc/dokploy/logs/x.log", {}).refused == "the server closed it at once"
        assert _socket(sim, "?logPath=/etc/passwd", {"x-api-key": KEY}).refused == (
            "the server closed it at once (4000 Invalid log path)"
        )


class Chunked(SimulatedServer):
    """A socket that sends a log in the chunks it is given, then keeps still, as a tail does."""

    def __init__(self, chunks: list[str], gap: float = 0.0) -> None:
        super().__init__()
        self.chunks, self.gap = chunks, gap

    def handle(self, request: Request) -> Reply:
        return Reply(404)

    def socket(self, request: Request) -> Any:
        def session(peer: Peer) -> None:
            for chunk in self.chunks:
                peer.send(chunk)
                peer.wait(self.gap)
            while peer.wait(0.05):
                pass

        return session


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(
        st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=["Cs"]), max_size=30),
        min_size=1,
        max_size=20,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_lines_arrive_whole_however_the_server_cuts_its_chunks(lines, cuts):
    text = "".join(line + "\n" for line in lines)
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    chunks = [text[a:b] for a, b in zip(points, points[1:], strict=False) if text[a:b]]
    got: list[str] = []
    with Chunked(chunks) as server:
        socket = LogSocket(
            server.url.replace("http", "ws", 1) + "/log", {}, verify=True, on_lines=got.extend, on_end=lambda: None
        )
        socket.start()
        deadline = time.monotonic() + 5
        while len(got) < len(lines) and time.monotonic() < deadline:
            time.sleep(0.01)
        socket.close()
        assert socket.ended.wait(5)
    assert got == lines
    assert socket.refused is None and not socket.dropped  # we closed it: neither a refusal nor a drop


def test_a_deployment_its_history_says_is_short_is_followed_without_a_socket(dokploy, run):
    web = SimTarget("web", build_seconds=2, previous=3)  # the last three took 2 s each
    sim = dokploy([web])
    result = run(*args(sim, web, "--logs", "on-failure"))
    assert result.exit_code == 0, result.output
    assert "listen-deployment" not in paths(sim)
    checks = [r.at for r in sim.requests if r.path == "/api/deployment.all"][1:]  # after the one before the trigger
    deploy = next(r.at for r in sim.requests if r.path == "/api/application.deploy")
    assert checks[0] - deploy > 1.5  # the first check comes where it should end, not at once
    assert len(checks) <= 4


def test_the_dashboard_link_comes_from_the_application_itself_without_listing_every_project(dokploy, run):
    web = SimTarget("web", build_seconds=1)
    sim = dokploy([web])
    result = run(*args(sim, web))
    assert result.exit_code == 0, result.output
    assert f"/dashboard/project/prj-acme/environment/env-acme-production/services/application/{web.id}" in result.stdout
    assert "project.all" not in paths(sim)


class Redirecting(SimulatedServer):
    """A socket address that answers a redirect to another server."""

    def __init__(self, to: str) -> None:
        super().__init__()
        self.to = to

    def handle(self, request: Request) -> Reply:
        return Reply(404)

    def socket(self, request: Request) -> Any:
        return Reply(302, {"message": "moved"}, headers={"Location": self.to + "/listen-deployment?logPath=/x"})


def test_a_redirected_socket_is_refused_and_the_key_never_goes_to_the_other_address():
    with Chunked(["stolen\n"]) as other, Redirecting(other.url.replace("http", "ws", 1)) as server:
        done = threading.Event()
        socket = LogSocket(
            server.url.replace("http", "ws", 1) + "/listen-deployment?logPath=/x",
            {"x-api-key": KEY},
            verify=True,
            on_lines=lambda lines: None,
            on_end=done.set,
        )
        socket.start()
        assert done.wait(5)
        assert socket.refused == "the server answered 302 instead of opening it"
        assert other.requests == []


def test_a_quiet_stretch_of_the_build_longer_than_the_open_time_limit_is_no_broken_socket():
    got: list[str] = []
    with Chunked(["Step 1\n", "Step 2\n"], gap=1.5) as server:
        socket = LogSocket(
            server.url.replace("http", "ws", 1) + "/log",
            {},
            verify=True,
            on_lines=got.extend,
            on_end=lambda: None,
            open_timeout=0.5,
        )
        socket.start()
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        socket.close()
        assert socket.ended.wait(5)
    assert got == ["Step 1", "Step 2"]
    assert not socket.dropped and socket.refused is None


class Flooding(DokploySimulator):
    """A Dokploy whose live log sends one frame far over any sane size, then nothing."""

    def socket(self, request: Request) -> Any:
        def session(peer: Peer) -> None:
            peer.send("x" * (6 * 1_048_576))
            while peer.wait(0.05):
                pass

        return session


def test_a_socket_that_floods_is_dropped_and_the_deployment_still_followed_to_its_end(run):
    web = SimTarget("web", build_seconds=2, log_lines=4)
    with Flooding([web]) as sim:
        result = run(*args(sim, web, "--logs", "stream", "--poll-interval", "0.5s"))
    assert result.exit_code == 0, result.output
    assert "finished" in result.stdout and "Traceback" not in result.output
    assert "x" * 1000 not in result.stdout  # the oversized frame is never printed
    assert "live log could not be used (it sent a message over 4 MB)" in result.stdout
    assert result.stdout.count("✅ Nixpacks build completed.") == 1  # the log, read when the status changed
