"""The image's ENTRYPOINT: one image, three callers, and no shell between the runner and deployer.

- GitHub's Docker action passes no arguments (the image's CMD, `deploy`, arrives) and hands the
  inputs over as `INPUT_<NAME>` variables whose names keep their hyphens (`INPUT_APPLICATION-ID`).
  busybox ash and dash drop such variables from the environment of anything they start, so a shell
  script here would silently lose them: deployer reads them itself, started directly.
- GitLab's Docker executor keeps the ENTRYPOINT and hands it a shell command (`sh -c ...`): that
  program is executed as given.
- `docker run IMAGE deploy --uuid ...`: deployer's own arguments.
"""

from __future__ import annotations

import os
import shutil
import sys

#: deployer's own commands: a first argument among these (or an option) is never a program to run.
COMMANDS = frozenset({"deploy", "demo", "plan", "status", "cancel", "help"})


def program(args: list[str]) -> str | None:
    """The program to execute instead of deployer (GitLab's shell), or None to run deployer."""
    if not args or args[0].startswith("-") or args[0] in COMMANDS:
        return None
    return shutil.which(args[0])


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    found = program(args)
    if found is not None:
        os.execv(found, args)  # replaces this process: the shell gets the environment untouched
    from deployer.cli import cli

    cli.main(args, prog_name="deployer")


if __name__ == "__main__":
    main()
