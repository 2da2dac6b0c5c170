"""The README's reference of the action's inputs and outputs, made from action.yml.

    python scripts/action_reference.py          # print the tables
    python scripts/action_reference.py --write  # put them into README.md, between their markers

tests/test_docs.py fails when README.md and action.yml disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- action-reference:start -->", "<!-- action-reference:end -->"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render(action_yml: Path = ROOT / "action.yml") -> str:
    action = yaml.safe_load(action_yml.read_text())
    lines = ["| input | description |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(spec.get('description', ''))} |" for name, spec in action["inputs"].items()]
    lines += ["", "| output | description |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(spec.get('description', ''))} |" for name, spec in action["outputs"].items()]
    return "\n".join(lines)


def in_readme(readme: Path = ROOT / "README.md") -> str:
    match = re.search(re.escape(START) + r"\n(.*?)\n" + re.escape(END), readme.read_text(), re.S)
    return match.group(1) if match else ""


def write(readme: Path = ROOT / "README.md") -> None:
    text = readme.read_text()
    block = f"{START}\n{render()}\n{END}"
    if START in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _m: block, text, flags=re.S)
    else:
        raise SystemExit(f"README.md has no {START} marker")
    readme.write_text(text)


if __name__ == "__main__":
    write() if "--write" in sys.argv[1:] else print(render())
