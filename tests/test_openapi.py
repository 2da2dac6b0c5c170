"""The OpenAPI check itself: it must reject what the real server would not take."""

from __future__ import annotations

import json

from deployer.simulator.server import Request
from tests.conftest import openapi


def req(method: str, path: str, query: dict[str, list[str]] | None = None, body: object = None) -> Request:
    return Request(method, path, query or {}, {}, json.dumps(body).encode() if body is not None else b"")


def test_the_deploy_trigger_deployer_sends_fits_the_document():
    doc = openapi("coolify")
    good = req(
        "POST", "/api/v1/deploy", {"uuid": ["a,b"], "force": ["true"], "pull_request_id": ["5"], "docker_tag": ["v1"]}
    )
    assert doc.check(good) == []


def test_the_check_rejects_what_the_server_would_not_take():
    doc = openapi("coolify")
    assert doc.check(req("GET", "/api/v1/deploy", {"uuid": ["a"]}))  # GET /deploy is 405 since 4.2
    assert doc.check(req("POST", "/api/v1/deploy", {"uuids": ["a"]}))  # undeclared parameter
    assert doc.check(req("POST", "/api/v1/deploy", {"pull_request_id": ["five"]}))  # not an integer
    assert doc.check(req("POST", "/api/v1/deploy", {"force": ["yes"]}))  # not a boolean
    assert doc.check(req("GET", "/api/v1/deployments/applications/x", {"take": ["0"]}))  # below minimum
    assert doc.check(req("GET", "/api/v1/deploymentz/x"))  # no such path
    assert doc.check(req("GET", "/deployments/x"))  # without the /api/v1 prefix
    assert doc.check(req("POST", "/api/v1/deployments/x", body={"a": 1}))  # no POST there


def test_the_follow_requests_fit_the_document():
    doc = openapi("coolify")
    for request in (
        req("GET", "/api/v1/deployments/abc"),
        req("POST", "/api/v1/deployments/abc/cancel"),
        req("GET", "/api/v1/deployments/applications/abc", {"skip": ["0"], "take": ["10"]}),
        req("GET", "/api/v1/services/abc"),
        req("GET", "/api/v1/databases/abc"),
        req("GET", "/api/v1/services"),
    ):
        assert doc.check(request) == [], request.path
