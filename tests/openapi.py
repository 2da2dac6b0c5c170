"""Check a recorded request against an OpenAPI document: method, path, parameters, JSON body."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import jsonschema

from deployer.simulator.server import Request


class OpenAPIDocument:
    def __init__(self, path: str) -> None:
        with open(path, encoding="utf-8") as handle:
            self.spec = json.load(handle)
        self.prefix = urlsplit(self.spec["servers"][0]["url"]).path.rstrip("/")
        self.routes: list[tuple[re.Pattern[str], str, dict[str, Any]]] = []
        for template, item in self.spec["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            self.routes.append((pattern, template, item))
        # Literal paths first, so /deployments/applications/{uuid} is not taken for /deployments/{uuid}.
        self.routes.sort(key=lambda r: r[1].count("{"))

    def _schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {**schema, "components": self.spec.get("components", {})}

    def check(self, request: Request, *, prefix: str | None = None) -> list[str]:
        """Problems with `request` (an empty list when it is valid)."""
        prefix = self.prefix if prefix is None else prefix
        where = f"{request.method} {request.path}"
        if request.method == "GET" and request.path == "/api/health":
            return []  # both servers' unauthenticated health check, outside the documents (API-NOTES.md)
        if request.headers.get("upgrade", "").lower() == "websocket":
            return self._check_socket(where, request)
        if not request.path.startswith(prefix + "/"):
            return [f"{where}: not under the API prefix {prefix}"]
        path = request.path[len(prefix) :]
        candidates = [(t, item) for pattern, t, item in self.routes if pattern.match(path)]
        if not candidates:
            return [f"{where}: no such path in the OpenAPI document"]
        for _template, item in candidates:
            operation = item.get(request.method.lower())
            if operation is not None:
                return self._check_operation(where, item, operation, request)
        return [f"{where}: {candidates[0][0]} has no {request.method} operation"]

    def _check_socket(self, where: str, request: Request) -> list[str]:
        """Dokploy's live log is a WebSocket outside its document (API-NOTES.md): `logPath` (and
        `serverId`) in the query, the key in `x-api-key`, and nothing else."""
        if self.prefix != "/api" or request.path != "/listen-deployment":
            return [f"{where}: a WebSocket this server does not have"]
        problems = [
            f"{where}: unexpected query parameter {k!r}" for k in request.query if k not in ("logPath", "serverId")
        ]
        if not request.query.get("logPath", [""])[-1]:
            problems.append(f"{where}: no logPath")
        if not request.headers.get("x-api-key"):
            problems.append(f"{where}: no x-api-key header")
        return problems

    def _check_operation(
        self, where: str, item: dict[str, Any], operation: dict[str, Any], request: Request
    ) -> list[str]:
        problems = []
        declared = {
            p["name"]: p for p in item.get("parameters", []) + operation.get("parameters", []) if p.get("in") == "query"
        }
        for name, values in request.query.items():
            if name not in declared:
                problems.append(f"{where}: query parameter {name!r} is not declared")
                continue
            schema = declared[name].get("schema", {})
            for value in values:
                problems += [f"{where}: {name}={value!r}: {e}" for e in _query_value_errors(value, schema)]
        for name, param in declared.items():
            if param.get("required") and name not in request.query:
                problems.append(f"{where}: required query parameter {name!r} missing")
        body_spec = operation.get("requestBody")
        if request.body:
            if body_spec is None:
                problems.append(f"{where}: sends a body, but the operation takes none")
            else:
                content = body_spec.get("content", {}).get("application/json")
                if content is None:
                    problems.append(f"{where}: the operation takes no JSON body")
                else:
                    try:
                        body = json.loads(request.body)
                    except ValueError:
                        return problems + [f"{where}: body is not JSON"]
                    validator = jsonschema.Draft202012Validator(self._schema(content.get("schema", {})))
                    problems += [f"{where}: body: {e.message}" for e in validator.iter_errors(body)]
        elif body_spec is not None and body_spec.get("required"):
            problems.append(f"{where}: the operation requires a body")
        return problems


def _query_value_errors(value: str, schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return ["not an integer"]
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return ["not a number"]
    if kind == "boolean" and value not in ("true", "false", "1", "0"):
        return ["not a boolean"]
    if "enum" in schema and value not in [str(v) for v in schema["enum"]]:
        return [f"not one of {schema['enum']}"]
    if kind == "integer" and "minimum" in schema and int(value) < schema["minimum"]:
        return [f"below the minimum {schema['minimum']}"]
    return []
