"""The GitHub job summary: a Markdown table of the run, failed deployments' log tails folded."""

from __future__ import annotations

from deployer.model import ENDED, Deployment, Status
from deployer.reporting.base import seconds_text
from deployer.reporting.ci import ANNOTATION_LINES
from deployer.safe_text import one_line as clean


def summary_markdown(
    status: str, duration: int, deployments: list[Deployment], limit: int = 900_000, error: str | None = None
) -> str:
    """The job summary: one row per resource, failed ones' last log lines folded; under `limit` bytes."""
    icon = {"finished": "✅", "failed": "❌", "cancelled": "⚪", "timeout": "⌛", "queued": "🕓", "in_progress": "🔄"}

    def cell(text: str) -> str:
        return clean(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")[:300]

    lines = [f"### Deploy {icon.get(status, '')} {status} in {seconds_text(duration)}", ""]
    if error:
        lines += [f"**Error:** {cell(error)}", ""]
    if not deployments:
        return "\n".join(lines) + "\n"
    lines += ["| Resource | Status | Duration | Deployment | Message |", "|---|---|---|---|---|"]
    for d in deployments:
        took = seconds_text(d.duration) if d.duration is not None else "-"
        link = f"[{cell(d.deployment_id or 'open')}]({cell(d.url)})" if d.url else cell(d.deployment_id or "-")
        message = cell(d.message if d.status != Status.FINISHED else "")
        lines.append(f"| {cell(d.label)} | {icon.get(d.status, '')} {d.status} | {took} | {link} | {message} |")
    text = "\n".join(lines) + "\n"
    for d in deployments:
        if d.status in ENDED and d.status != Status.FINISHED and d.log_tail:
            body = "\n".join(clean(line)[:500] for line in d.log_tail[-ANNOTATION_LINES:])
            fence = "`" * max(3, _longest_backtick_run(body) + 1)
            title = f"<summary>Last lines of {cell(d.label)}'s build log</summary>"
            block = f"\n<details>{title}\n\n{fence}\n{body}\n{fence}\n</details>\n"
            if len((text + block).encode()) > limit:
                break
            text += block
    return text


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return longest
