"""The config file (`deployer.yml`): environments, each with its server, options and resources.

The file is checked against `config.schema.json` (shipped with the package, for editors too), and
every problem is reported as `FILE:LINE: where: what was expected`. `${VAR}` in a value is replaced
by that environment variable; tokens never sit in the file, only such references.
Imported only when a config file is given: yaml and jsonschema cost nothing otherwise.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources as package_files
from typing import Any

import yaml

from deployer.errors import InputError

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\$")
ID_KEYS = ("uuid", "tag", "application-id", "compose-id")


@dataclass
class ResourceRef:
    """One entry of an environment's `resources`: a name to look up, or an id, uuid or tag."""

    key: str  # "name", "uuid", "tag", "application-id" or "compose-id"
    value: str
    kind: str | None = None
    project: str | None = None
    environment: str | None = None
    where: str = ""


@dataclass
class Environment:
    """One environment of the file; `expanded` gives its values with `${VAR}` replaced."""

    name: str
    options: dict[str, tuple[Any, str]] = field(default_factory=dict)  # option key -> (value, where)
    resources: list[ResourceRef] = field(default_factory=list)

    def expanded(self, env: Mapping[str, str]) -> Environment:
        """Its resources with `${VAR}` replaced. Options are expanded when read (`expand`), so that
        neither another environment's variables nor an overridden option's need to be set."""
        resources = [
            ResourceRef(
                r.key,
                expand(r.value, r.where, env),
                expand(r.kind, r.where, env),
                expand(r.project, r.where, env),
                expand(r.environment, r.where, env),
                where=r.where,
            )
            for r in self.resources
        ]
        return Environment(self.name, dict(self.options), resources)


def schema() -> dict[str, Any]:
    """The JSON Schema of the config file."""
    loaded: dict[str, Any] = json.loads(
        package_files.files("deployer").joinpath("config.schema.json").read_text("utf-8")
    )
    return loaded


def read_text(path: str, where: str) -> str:
    """A file the user named, as text; InputError saying why it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InputError(f"{where}: no file at {path!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: cannot read {path!r}: {exc}") from None


def load(path: str, where: str = "--config") -> dict[str, Environment]:
    """Read and check the file; every problem is an InputError naming the file and line."""
    text = read_text(path, where)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        said = ", ".join(p for p in (exc.context, exc.problem) if p)
        raise InputError(f"{path}{line}: not valid YAML: {said}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    if root is None or data is None:
        raise InputError(f"{path}: the file is empty; it needs an 'environments' mapping")
    _check_duplicates(root, path)
    _check_schema(data, root, path)
    environments = {}
    for name, body in data["environments"].items():
        environments[name] = _environment(name, body, root, path)
    return environments


def pick(environments: dict[str, Environment], name: str | None, path: str, env: Mapping[str, str]) -> Environment:
    """The environment asked for (with none asked, the file's only one), expanded."""
    names = list(environments)
    if name is None:
        if len(names) == 1:
            return environments[names[0]].expanded(env)
        raise InputError(f"{path} has several environments ({', '.join(names)}): choose one with --environment")
    if name not in environments:
        close = [n for n in names if n.startswith(name)] or difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"--environment: {path} has no environment {name!r} (it has {', '.join(names)}){hint}")
    return environments[name].expanded(env)


def _environment(name: str, body: dict[str, Any], root: Any, path: str) -> Environment:
    base = ("environments", name)
    result = Environment(name=name)
    for key, value in body.items():
        where = _where(root, path, base + (key,))
        if key == "resources":
            for index, item in enumerate(value):
                item_where = _where(root, path, base + (key, index))
                result.resources.append(_resource(item, item_where))
            continue
        if key == "health-url" and isinstance(value, str):
            value = [value]
        result.options[key.replace("-", "_")] = (value, where)
    return result


def _resource(item: Any, where: str) -> ResourceRef:
    if isinstance(item, str):
        return ResourceRef("name", item, where=where)
    key = next(k for k in ("name", *ID_KEYS) if k in item)
    extra = [k for k in ("kind", "project", "environment") if k in item]
    if key != "name" and extra:
        raise InputError(f"{where}: {', '.join(extra)} only go with 'name', not with {key!r}")
    return ResourceRef(
        key,
        item[key],
        kind=item.get("kind"),
        project=item.get("project"),
        environment=item.get("environment"),
        where=where,
    )


def expand(value: Any, where: str, env: Mapping[str, str]) -> Any:
    """Replace `${VAR}` with the environment variable's value (`$$` is a plain `$`)."""
    if isinstance(value, list):
        return [expand(v, where, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        if name not in env or not env[name].strip():
            raise InputError(f"{where}: the environment variable {name} is not set (the file refers to ${{{name}}})")
        return env[name]

    return _VARIABLE.sub(replace, value)


def _check_duplicates(node: Any, path: str) -> None:
    """YAML keeps the last of two equal keys silently; a config file should not."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    raise InputError(
                        f"{path}:{key.start_mark.line + 1}: {key.value!r} is given twice "
                        f"(first on line {seen[key.value]})"
                    )
                seen[key.value] = key.start_mark.line + 1
            _check_duplicates(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicates(item, path)


def _check_schema(data: Any, root: Any, path: str) -> None:
    import jsonschema  # type: ignore[import-untyped]

    validator = jsonschema.Draft7Validator(schema())
    errors = sorted(
        validator.iter_errors(data), key=lambda e: (_line(root, e.absolute_path), list(map(str, e.absolute_path)))
    )
    if errors:
        raise InputError(_describe(errors[0], root, path))


def _describe(error: Any, root: Any, path: str) -> str:
    """One line for one schema error: file, line, where in the file, and what was expected."""
    at = tuple(error.absolute_path)
    where = _where(root, path, at)
    kind = error.validator
    if kind == "additionalProperties":
        return _unknown_key(error, root, path, at)
    if kind == "required":
        return f"{where}: {error.message.replace('is a required property', 'is missing')}"
    if at and at[-1] == "token":
        return (
            f"{where}: write the token as a reference to an environment variable, "
            "e.g. token: ${COOLIFY_TOKEN_STAGING}; a token itself never goes in the file"
        )
    if kind == "oneOf" and len(at) >= 4 and at[-2] == "resources":
        return _bad_resource(error, where)
    if kind == "oneOf":
        expected = error.schema.get("x-expected") or error.schema.get("description") or _deepest(error).message
        return f"{where}: {error.instance!r} is not valid here; expected {expected}"
    if kind == "enum":
        return f"{where}: {error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    if kind == "type":
        return f"{where}: expected {_a(error.validator_value)}, got {_a(_type_name(error.instance))}"
    if kind == "pattern" and error.schema.get("x-expected"):
        return f"{where}: {error.instance!r} is not a valid name; use {error.schema['x-expected']}"
    return f"{where}: {error.message}"


def _unknown_key(error: Any, root: Any, path: str, at: tuple[Any, ...]) -> str:
    """A key the schema does not know: the closest known one, or all of them (a token: never here)."""
    allowed = sorted(error.schema.get("properties", {}))
    unknown = sorted(str(k) for k in set(error.instance) - set(allowed) if not (at == () and str(k).startswith("x-")))
    key = unknown[0] if unknown else "?"
    where = _where(root, path, at + (key,))
    if "token" in key:
        return f"{where}: tokens never go in the config file; set the token in the environment"
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of: {', '.join(allowed)}"
    if at == ():
        hint += " (keys starting with 'x-' are free, for YAML anchors)"
    return f"{where}: unknown key {key!r}{hint}"


def _bad_resource(error: Any, where: str) -> str:
    """A resource entry that is neither a name nor a mapping with exactly one target key."""
    item = error.instance
    if not isinstance(item, dict):
        return f"{where}: a resource is a name, or a mapping such as {{name: api}} or {{uuid: ...}}"
    given = [k for k in ("name", *ID_KEYS) if k in item]
    if len(given) != 1:
        return (
            f"{where}: a resource needs exactly one of name, uuid, tag, application-id or compose-id "
            f"(got {', '.join(given) or 'none'})"
        )
    mapping_errors = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == 1]
    best = _deepest_of(mapping_errors) or _deepest(error)
    key = ".".join(map(str, best.relative_path)) or given[0]
    if best.validator == "type":
        quote = " (put it in quotes)" if isinstance(best.instance, (int, float)) else ""
        return f"{where}.{key}: expected {_a(best.validator_value)}, got {_a(_type_name(best.instance))}{quote}"
    return f"{where}.{key}: {best.message}"


def _deepest(error: Any) -> Any:
    return _deepest_of(error.context) or error


def _deepest_of(errors: list[Any]) -> Any:
    import jsonschema

    return jsonschema.exceptions.best_match(errors) if errors else None


def _a(kind: Any) -> str:
    names = {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "integer": "a whole number",
        "number": "a number",
        "boolean": "true or false",
        "null": "nothing",
    }
    return names.get(kind, str(kind))


def _type_name(value: Any) -> str:
    for name, kind in (
        ("boolean", bool),
        ("integer", int),
        ("number", float),
        ("string", str),
        ("array", list),
        ("object", dict),
    ):
        if isinstance(value, kind):
            return name
    return "null"


def _line(root: Any, at: Any) -> int:
    """The line of the value at a path of keys and indexes (of its key, for a mapping or list), or of
    the deepest part of the path that exists."""
    node, line = root, int(root.start_mark.line) + 1
    for step in at:
        found = _child(node, step)
        if found is None:
            return line
        key, node = found
        container = isinstance(node, (yaml.MappingNode, yaml.SequenceNode))
        line = int((key if key is not None and container else node).start_mark.line) + 1
    return line


def _child(node: Any, step: Any) -> tuple[Any, Any] | None:
    """(key node or None, value node) for one step into a mapping (merge keys included) or list."""
    if isinstance(node, yaml.MappingNode):
        merged = None
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                for source in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                    merged = merged or _child(source, step)
            elif isinstance(key, yaml.ScalarNode) and key.value == str(step):
                return key, value
        return merged
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        return None, node.value[step]
    return None


def _where(root: Any, path: str, at: tuple[Any, ...]) -> str:
    dotted = ""
    for step in at:
        dotted += f"[{step + 1}]" if isinstance(step, int) else (f".{step}" if dotted else str(step))
    return f"{path}:{_line(root, at)}" + (f": {dotted}" if dotted else "")
