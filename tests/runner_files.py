"""Read CI files the way the platforms do, to check what deployer writes."""

from __future__ import annotations

import os
import re


def parse_github_file(text: str) -> dict[str, str]:
    """The Actions runner's parser for GITHUB_OUTPUT / GITHUB_ENV (FileCommandManager).

    `name=value`, or `name<<DELIMITER`, value lines, a line exactly `DELIMITER`. Raises
    ValueError where the runner fails the step ("Unable to process file command").
    """
    if "\r" in text:
        raise ValueError("CR in the file: it would stay in the values on Linux")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    outputs: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line == "":
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if heredoc >= 0 and (eq < 0 or heredoc < eq):
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            if not name or not delimiter:
                raise ValueError(f"invalid heredoc line {line!r}")
            value: list[str] = []
            while True:
                if i >= len(lines):
                    raise ValueError(f"no closing delimiter for {name!r}")
                if lines[i] == delimiter:
                    i += 1
                    break
                value.append(lines[i])
                i += 1
            outputs[name] = "\n".join(value)
        elif eq > 0:
            outputs[line[:eq]] = line[eq + 1 :]
        else:
            raise ValueError(f"invalid line {line!r}")
    return outputs


def read_github_output(path: str | os.PathLike[str]) -> dict[str, str]:
    """A GITHUB_OUTPUT file on disk, parsed as the runner parses it."""
    with open(path, encoding="utf-8", newline="") as handle:
        return parse_github_file(handle.read())


_DOTENV_KEY = re.compile(r"^[A-Za-z0-9_]+$")


def parse_gitlab_dotenv(text: str) -> dict[str, str]:
    """GitLab's dotenv report rules: KEY=VALUE lines, no blank or comment lines, under 5 KB."""
    if len(text.encode()) >= 5 * 1024:
        raise ValueError("dotenv report over 5 KB")
    values: dict[str, str] = {}
    for line in text.rstrip("\n").split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            raise ValueError("blank or comment line: GitLab rejects the report")
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _DOTENV_KEY.match(key):
            raise ValueError(f"invalid key in {line!r}")
        if any(ch.isspace() for ch in value):
            raise ValueError(f"space in the value of {key}")
        values[key] = value
    return values


class GitHubLog:
    """Replays stdout the way the Actions runner reads it: which commands it obeys, what it shows."""

    def __init__(self, text: str) -> None:
        self.commands: list[tuple[str, str, str]] = []  # (name, properties, data) of obeyed commands
        self.shown: list[str] = []  # lines displayed, before masking
        self.masks: list[str] = []
        stopped_by = ""
        for line in text.split("\n"):
            if stopped_by:
                if line.strip() == f"::{stopped_by}::":
                    stopped_by = ""
                    self.commands.append(("resume", "", stopped_by))
                else:
                    self.shown.append(line)
                continue
            trimmed = line.lstrip()  # the runner trims leading white space before it looks for '::'
            match = re.match(r"^::([A-Za-z-]+)( [^:]*)?::(.*)$", trimmed)
            if not match:
                self.shown.append(line)
                continue
            name, props, data = match.group(1), (match.group(2) or "").strip(), match.group(3)
            self.commands.append((name, props, data))
            if name == "add-mask":
                self.masks.append(data)
            elif name == "stop-commands":
                stopped_by = data

    def named(self, name: str) -> list[tuple[str, str, str]]:
        return [c for c in self.commands if c[0] == name]

    def displayed(self) -> str:
        """What a reader sees: shown lines with every mask applied."""
        text = "\n".join(self.shown)
        for mask in sorted(self.masks, key=len, reverse=True):
            if mask:
                text = text.replace(mask, "***")
        return text


def unescape_data(text: str) -> str:
    return text.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def check_jsonschema() -> str | None:
    """The check-jsonschema command (installed by .ci/run beside this Python), or None."""
    import shutil
    import sys
    from pathlib import Path

    beside = Path(sys.executable).parent / "check-jsonschema"
    return str(beside) if beside.exists() else shutil.which("check-jsonschema")
