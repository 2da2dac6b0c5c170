"""A stack's compose file, checked before anything is sent: valid YAML, a `services` mapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployer.errors import InputError


@dataclass(frozen=True)
class ComposeFile:
    """The file as written (sent as is) and as parsed (compared with what the server holds)."""

    path: str
    text: str
    data: dict[str, Any]


def load(path: str, where: str = "--compose-file") -> ComposeFile:
    """Read and check the file; InputError naming the file and line otherwise."""
    import yaml

    from deployer.config.file import read_text  # with yaml: only a run with a compose file pays for them

    text = read_text(path, where)
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f":{mark.line + 1}" if mark is not None else ""
        said = " ".join(str(exc.problem or exc).split())
        raise InputError(f"{where}: {path}{at}: not valid YAML: {said}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{where}: {path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise InputError(f"{where}: {path}:1: a compose file is a mapping with a 'services' key")
    services = data.get("services")
    if not isinstance(services, dict) or not services:
        line = _line_of(text, "services")
        raise InputError(f"{where}: {path}:{line}: 'services' must be a mapping of at least one service")
    for name, body in services.items():
        if not isinstance(body, dict):
            line = _line_of(text, str(name))
            raise InputError(f"{where}: {path}:{line}: service {name!r} must be a mapping (image:, build:, ...)")
    return ComposeFile(path, text, data)


def parsed(text: str | None) -> Any:
    """A compose text as data, for comparing two forms of one file; None when it is not YAML."""
    import yaml

    try:
        return yaml.safe_load(text or "")
    except yaml.YAMLError:
        return None


def _line_of(text: str, key: str) -> int:
    """The first line that starts the key (1 when it is missing)."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(f"{key}:"):
            return number
    return 1
