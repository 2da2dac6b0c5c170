"""The README tells the truth about the interface: its reference tables match action.yml and the
CLI (as sqlite-utils' test_docs.py does)."""

from __future__ import annotations

import re
from pathlib import Path

from deployer.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_action_reference_is_made_from_action_yml():
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import action_reference
    finally:
        sys.path.pop(0)
    assert action_reference.in_readme() == action_reference.render(), "run: python scripts/action_reference.py --write"


def test_the_options_table_lists_every_option_of_deploy_and_no_other():
    section = README.split("## Options", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(--[a-z-]+)", section, re.M))
    deploy = cli.commands["deploy"]
    actual = {opt for p in deploy.params for opt in p.opts if opt.startswith("--")}
    actual = {o for o in actual if not o.startswith("--no-")} - {"--help"}
    assert documented == actual


def test_every_command_is_in_the_readme():
    for name in cli.commands:
        assert f"deployer {name}" in README, name


def test_no_internal_notes_in_the_readme():
    for phrase in ("original contract", "Not in the original", "TODO", "FIXME"):
        assert phrase not in README, phrase


def test_deploy_help_groups_its_options(run):
    shown = run("deploy", "--help").stdout
    titles = [line[:-1] for line in shown.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert titles == [
        "Server",
        "What to deploy",
        "Version and variables",
        "Stack from a compose file",
        "Config file",
        "Waiting and logs",
        "Health",
        "GitHub",
        "Connection",
        "Output",
    ]
    for option in ("--uuid", "--timeout", "--github-token", "--dry-run", "--output"):
        assert option in shown


def test_every_yaml_block_in_the_readme_is_valid_yaml():
    import yaml

    for block in re.findall(r"```yaml\n(.*?)```", README, re.S):
        yaml.safe_load(block)  # a copy-paste that YAML refuses would fail the user's workflow
