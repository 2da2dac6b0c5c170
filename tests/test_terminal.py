"""The terminal's live view, as a person sees it: deployer runs in a pseudo-terminal of a given size
and a terminal emulator (pyte) replays what it drew, scrollback included."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time

import pytest

pyte = pytest.importorskip("pyte")

from deployer.model import Deployment  # noqa: E402
from deployer.reporting.terminal import TerminalReporter  # noqa: E402
from deployer.simulator.coolify import SimResource  # noqa: E402

LIVE_MARKS = ("▶ ", "… ", "✔ ", "✖ ", "⌛ ")


def run_in_terminal(
    argv: list[str], columns: int, rows: int, timeout: float = 90, env: dict[str, str] | None = None
) -> bytes:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    environment = {"PATH": os.environ.get("PATH", ""), "TERM": "xterm", "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=environment, close_fds=True)
    os.close(follower)
    chunks, ends = [], time.monotonic() + timeout
    while time.monotonic() < ends:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=10)
    os.close(leader)
    return b"".join(chunks)


def replay(output: bytes, columns: int, rows: int) -> list[str]:
    """Every line the terminal holds at the end, scrollback first."""
    screen = pyte.HistoryScreen(columns, rows, history=20_000, ratio=0.5)
    stream = pyte.ByteStream(screen)
    stream.feed(output)
    cells = [[line[x].data for x in range(columns)] for line in screen.history.top]
    cells += [[screen.buffer[y][x].data for x in range(columns)] for y in range(rows)]
    # Rejoin the rows a long line wrapped onto: a row whose last cell, or the one before it (a wide
    # character that did not fit leaves the last cell empty), is written.
    lines, current = [], ""
    for row in cells:
        current += "".join(row).rstrip()
        if not any(c.strip() for c in row[-2:]):
            lines.append(current)
            current = ""
    return lines + ([current] if current else [])


@pytest.mark.parametrize(
    "columns, rows, count, name",
    [
        (60, 30, 40, "app"),
        (40, 10, 12, "a-rather-long-application-name"),
        (120, 8, 6, "web"),
        (30, 15, 8, "日本語のアプリ"),
    ],
)
def test_the_live_view_fits_and_leaves_one_line_per_deployment(coolify, columns, rows, count, name):
    apps = [
        SimResource(f"{name}{i}", queue_seconds=0.1, build_seconds=0.5 + (i % 5) * 0.3, log_lines=3)
        for i in range(count)
    ]
    sim = coolify(apps)
    argv = [
        sys.executable,
        "-m",
        "deployer",
        "deploy",
        "--provider",
        "coolify",
        "--url",
        sim.url,
        "--token",
        "root-token",
        "--poll-interval",
        "0.3s",
        "--uuid",
        ",".join(a.uuid for a in apps),
        "--logs",
        "none",
    ]
    lines = replay(run_in_terminal(argv, columns, rows), columns, rows)
    text = "\n".join(lines)
    for app in apps:  # exactly one final line per deployment...
        assert len(re.findall(rf"^{re.escape(app.name)}: finished after", text, re.M)) == 1, app.name
    # ... and nothing left of the live block: no redrawn line went into the scrollback
    assert not [line for line in lines if line.startswith(LIVE_MARKS)], [
        line for line in lines if line.startswith(LIVE_MARKS)
    ][:5]
    assert "Result: finished" in text


def test_the_block_follows_the_terminals_size_at_every_redraw():
    reporter = TerminalReporter(open(os.devnull, "w"), lambda text: text, colour=False)  # noqa: SIM115
    reporter.deployments = [
        Deployment("coolify", f"r{i}", "application", status="in_progress", name=f"deployment-{i}") for i in range(30)
    ]
    reporter.deployments[0].status = "finished"
    for columns, rows in [(80, 24), (40, 10), (20, 3), (200, 60)]:
        lines = reporter.block_lines(columns, rows)
        assert 1 <= len(lines) <= min(rows - 1, TerminalReporter.MAX_BLOCK)
        assert all(len(text) <= columns - 1 for _status, text in lines)
        assert lines[0][1].startswith("✔ 1 finished")
        assert lines[-1][1].startswith("… and") or len(lines) == 30


def test_the_summary_is_in_colour_with_the_reason_before_the_long_link():
    import io

    out = io.StringIO()
    reporter = TerminalReporter(out, lambda text: text, colour=True)
    failed = Deployment(
        "coolify",
        "r1",
        "application",
        status="failed",
        name="web",
        duration=12,
        url="https://coolify.example.com/project/p/environment/e/application/a/deployment/d",
        message="the deployment failed; its build log says why",
    )
    reporter.summary("failed", 12, [failed])
    row = out.getvalue().splitlines()[-1]
    assert "\x1b[31m" in row and "\x1b[31m" in out.getvalue().splitlines()[0]  # red: the row and the result
    assert row.index("the deployment failed") < row.index("https://coolify.example.com")


@pytest.mark.parametrize(
    "env, allowed", [({"TERM": "xterm", "NO_COLOR": "1"}, "cursor moves only"), ({"TERM": "dumb"}, "nothing")]
)
def test_deploy_in_a_terminal_honours_no_color_and_a_dumb_terminal(coolify, env, allowed):
    web = SimResource("web", queue_seconds=0.1, build_seconds=0.8)
    sim = coolify([web])
    argv = [
        sys.executable,
        "-m",
        "deployer",
        "deploy",
        "--provider",
        "coolify",
        "--url",
        sim.url,
        "--token",
        "root-token",
        "--uuid",
        web.uuid,
        "--poll-interval",
        "0.3s",
    ]
    drawn = run_in_terminal(argv, 80, 24, env=env).decode("utf-8", "replace")
    assert "Result: finished" in drawn
    assert not re.search(r"\x1b\[[\d;]*m", drawn)  # no colour
    if allowed == "nothing":
        assert "\x1b" not in drawn
