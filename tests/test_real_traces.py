"""What a real Coolify 4.3.10 and a real Dokploy v0.30.2 answered (../shared/real-traces): the
client reads every answer, and the simulators answer in the same shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from deployer.config.settings import Settings
from deployer.errors import UnexpectedAnswer
from deployer.http import ApiClient
from deployer.model import ENDED, Deployment
from deployer.providers.coolify import (
    CoolifyProvider,
    DeploymentFollower,
    iter_log_entries,
    listed,
)
from deployer.providers.dokploy import DokployFollower, DokployProvider, _ms
from deployer.retry import TriggerRetry
from deployer.simulator.coolify import SimResource
from deployer.simulator.dokploy import SimTarget
from tests.conftest import shared_file


def entries(name: str) -> Iterator[dict[str, Any]]:
    with open(shared_file(f"real-traces/{name}")) as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def body(entry: dict[str, Any]) -> Any:
    """The answer's JSON, or None where the capture cut a long answer short."""
    text = entry.get("resp_body", entry.get("resp"))
    if entry.get("len") and len(str(text).encode()) < entry["len"]:
        return None
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def elements(entry: dict[str, Any]) -> list[Any]:
    """The complete elements of an array answer, even where the capture cut it short."""
    text = entry.get("resp_body", entry.get("resp")) or ""
    return list(iter_log_entries(text)) if str(text).startswith("[") else []


def coolify_provider(answer: Any) -> CoolifyProvider:
    provider = CoolifyProvider(Settings(provider="coolify", url="http://127.0.0.1:1", token="t0ken", uuids=["a1"]))
    provider.api.request = lambda *a, **k: answer  # type: ignore[method-assign]
    return provider


def test_every_real_coolify_answer_is_read():
    seen = set()
    for entry in entries("coolify-4.3.10.jsonl"):
        path, status, answer = entry["path"].split("?")[0], entry["status"], body(entry)
        if status == 200 and answer is None and entry["resp_body"].startswith("{"):
            # The capture cut long answers (deployment rows with their nested application) short:
            # read as a server's truncated answer, that is one clean error, never a crash.
            client = ApiClient("http://127.0.0.1:1", {})
            with pytest.raises(UnexpectedAnswer):
                client._decode(
                    "GET",
                    path,
                    200,
                    httpx.Headers({"content-type": "application/json"}),
                    bytearray(entry["resp_body"].encode()),
                )
            seen.add("truncated")
            continue
        if status != 200 or answer is None:
            continue
        if path == "/api/v1/deploy":
            followers = coolify_provider(answer).trigger(TriggerRetry(deadline=1e12))
            assert followers and all(f.deployment.status for f in followers), entry["resp_body"]
            seen.add("deploy")
        elif path == "/api/v1/deployments":
            rows = listed(answer)
            assert all("deployment_uuid" in r for r in rows)
            seen.add("list")
        elif path.startswith("/api/v1/deployments/applications/"):
            assert isinstance(answer, dict) and isinstance(
                answer["deployments"], list
            )  # not the array the OpenAPI says
            seen.add("history")
        elif path.startswith("/api/v1/deployments/") and not path.endswith("/cancel"):
            d = Deployment("coolify", "a1", "application", answer.get("deployment_uuid"))
            DeploymentFollower(coolify_provider(None), d, phantom=False).apply(answer, want_logs=True)
            assert d.status in ("queued", "in_progress") or d.status in ENDED, answer.get("status")
            list(iter_log_entries(answer.get("logs")))
            seen.add("deployment")
    assert {"deploy", "list", "history", "truncated"} <= seen


def test_every_real_dokploy_answer_is_read():
    seen = set()
    provider = DokployProvider(Settings(provider="dokploy", url="http://127.0.0.1:1", token="k", application_ids=["x"]))
    for entry in entries("dokploy-v0.30.2.jsonl"):
        path, answer = entry["path"].split("?")[0], body(entry)
        if entry["status"] != 200:
            continue
        if path in ("/api/deployment.all", "/api/deployment.allByCompose"):
            for row in elements(entry):
                d = Deployment("dokploy", "x", "application", row["deploymentId"])
                DokployFollower(provider, d, before=set()).read_status(row)
                assert isinstance(row["logPath"], str) and row["logPath"].startswith("/")  # where the live log is
                assert d.status in ENDED or d.status == "in_progress", row["status"]
                assert _ms(row["startedAt"]) is not None
            seen.add("rows")
        elif path == "/api/deployment.queueList":
            for job in elements(entry):
                assert ("processedOn" in job) == (job["state"] == "active"), job  # waiting: no key at all
                assert isinstance(job["timestamp"], int) and job["servicePath"]["href"].startswith("/dashboard/")
            seen.add("queue")
        elif path == "/api/deployment.readLogs" and answer is not None:
            assert isinstance(answer, str)
            seen.add("logs")
    assert seen == {"rows", "queue", "logs"}


def _keys(answers: list[Any]) -> set[str]:
    return {key for a in answers for key in (a if isinstance(a, dict) else {})}


def test_the_dokploy_simulator_answers_in_the_real_shapes():
    """(Started without the fixture: this test sends requests outside the API on purpose.)"""
    from deployer.simulator.dokploy import DokploySimulator

    real_rows = [
        row
        for e in entries("dokploy-v0.30.2.jsonl")
        if e["path"].startswith("/api/deployment.all?")
        for row in elements(e)
    ]
    real_jobs = [
        job
        for e in entries("dokploy-v0.30.2.jsonl")
        if e["path"].startswith("/api/deployment.queueList")
        for job in elements(e)
    ]
    web = SimTarget("web", build_seconds=5)
    with DokploySimulator([web]) as sim:
        _check_dokploy_shapes(sim, web, real_rows, real_jobs)


def _check_dokploy_shapes(sim: Any, web: SimTarget, real_rows: list[Any], real_jobs: list[Any]) -> None:
    import time

    first = sim.enqueue(web)
    time.sleep(0.05)
    second = sim.enqueue(web)
    time.sleep(0.4)

    headers = {"x-api-key": "dokploy-key"}
    jobs = httpx.get(sim.url + "/api/deployment.queueList", headers=headers).json()
    rows = httpx.get(sim.url + "/api/deployment.all", params={"applicationId": web.id}, headers=headers).json()
    assert {j["state"] for j in jobs} == {"active", "waiting"}
    assert [j["data"]["titleLog"] for j in jobs] == [second.title, first.title] and jobs[0]["timestamp"] > jobs[1][
        "timestamp"
    ]
    assert _keys(jobs) <= _keys(real_jobs) and {"id", "data", "timestamp", "state", "servicePath"} <= _keys(jobs)
    assert (
        {
            "deploymentId",
            "title",
            "description",
            "status",
            "logPath",
            "createdAt",
            "startedAt",
            "finishedAt",
            "errorMessage",
        }
        <= _keys(rows)
        <= _keys(real_rows)
    )
    health = httpx.get(sim.url + "/api/health")
    assert health.json() == {"ok": True}
    unknown = httpx.get(sim.url + "/api/nothing.here", headers=headers)
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"
    wrong_method = httpx.get(sim.url + "/api/application.deploy", headers=headers)
    assert wrong_method.status_code == 404 and wrong_method.headers["content-type"].startswith("application/json")


def test_the_coolify_simulator_answers_in_the_real_shapes(coolify):
    real_rows = [
        row
        for e in entries("coolify-4.3.10.jsonl")
        if e["status"] == 200
        for row in (
            listed(body(e))
            if e["path"] == "/api/v1/deployments"
            else (body(e) or {}).get("deployments", [])
            if e["path"].startswith("/api/v1/deployments/applications/")
            else []
        )
    ]
    assert real_rows
    apps = [SimResource(f"app{i}", queue_seconds=0.0 if i else 0.5, build_seconds=5) for i in range(2)]
    sim = coolify(apps)

    headers = {"Authorization": "Bearer root-token", "Accept": "application/json"}
    for a in apps:
        httpx.post(sim.url + "/api/v1/deploy", params={"uuid": a.uuid}, headers=headers)
    import time

    time.sleep(0.1)
    listing = httpx.get(sim.url + "/api/v1/deployments", headers=headers).json()
    assert isinstance(listing, dict) and list(listing) == ["1", "0"]  # the object form a real one gives at times
    row = httpx.get(sim.url + f"/api/v1/deployments/{sim.deployments[0].uuid}", headers=headers).json()
    assert set(row) - {"logs"} <= _keys(real_rows)
    assert isinstance(row["application_id"], str) and isinstance(row["destination_id"], str)
