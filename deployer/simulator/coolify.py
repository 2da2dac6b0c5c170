"""A simulated Coolify v4.3 API that behaves like ../shared/API-NOTES.md says, traps included.

State moves with the clock (queued -> in_progress -> end), build logs grow while a deployment
runs, tokens carry permissions, and the traps are real: GET /deploy is 405, unknown uuids are
skipped, a second deploy of a busy app returns a phantom uuid that 404s, a tag deploy answers in
another shape, logs are a JSON string with hidden entries, HTML errors without `Accept: json`.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deployer.simulator.server import Faults, Reply, Request, SimulatedServer

PHANTOM = "Deployment already queued for this commit."
ALL_PERMISSIONS = frozenset({"root"})
#: The build log's last line comes this long before the status changes (at most): Coolify marks
#: the deployment finished right after "Rolling update completed.".
LAST_LINE_BEFORE_END = 0.3


def new_uuid() -> str:
    """Coolify's ids are cuid2-like: 24 lowercase letters and digits."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(24))


@dataclass
class SimResource:
    """An application, service or database on the simulated server, and how its deploys go."""

    name: str
    kind: str = "application"
    uuid: str = field(default_factory=new_uuid)
    outcome: str = "finished"  # finished | failed | cancelled (a user cancels it in the dashboard)
    queue_seconds: float = 0.3
    build_seconds: float = 1.5
    tags: tuple[str, ...] = ()
    refusal: str | None = None  # e.g. "Unauthorized to deploy this application."
    pull_requests: tuple[int, ...] = ()
    docker_image: bool = False
    log_lines: int = 12
    status: str = "running:healthy"
    fqdn: str | None = None
    vanishes: bool = False  # its deployments are never saved: polling them gives 404
    log_extra: tuple[str, ...] = ()  # lines the build prints (tests put hostile ones here)
    history: int = 0  # finished deployments, as long as this one's, before the server starts
    project: str = "acme"
    environment: str = "production"
    health_check: bool = True  # without one, a running application's status is running:unknown
    healthy_after: float | None = 0.0  # seconds after a finished deployment until healthy; None: never
    #: What a deployment runs: a Docker-image application's image and tag, a git one's commit.
    image: str = "ghcr.io/acme/web"
    image_tag: str = "v1"
    git_commit: str = "HEAD"
    envs: dict[str, str] = field(default_factory=dict)
    #: Versions (tags or commits) whose deployment fails, whatever `outcome` says.
    failing_versions: tuple[str, ...] = ()
    #: Fields PATCH refuses as an older Coolify does ("This field is not allowed.").
    refused_fields: tuple[str, ...] = ()
    #: A service's compose file as the server stores it (re-dumped from the YAML sent).
    compose: str | None = None

    @property
    def version(self) -> str:
        return self.image_tag if self.docker_image else self.git_commit

    def outcome_of(self, version: str) -> str:
        return "failed" if version in self.failing_versions else self.outcome


@dataclass
class SimDeployment:
    id: int
    uuid: str
    resource: SimResource
    created: float
    start: float
    end: float
    pull_request_id: int = 0
    docker_tag: str | None = None
    force: bool = False
    commit: str = "HEAD"
    cancelled_at: float | None = None
    entries: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    #: The image tag or commit it deployed, and so how it ends.
    version: str = ""
    outcome: str = ""

    def __post_init__(self) -> None:
        self.version = self.version or self.resource.version
        self.outcome = self.outcome or self.resource.outcome_of(self.version)


class CoolifySimulator(SimulatedServer):
    """Serve with `with CoolifySimulator([...], tokens={...}) as sim:`; `sim.url` is the instance URL."""

    version = "4.3.10"

    def __init__(
        self,
        resources: list[SimResource],
        tokens: dict[str, set[str] | frozenset[str]] | None = None,
        *,
        speed: float = 1.0,
        rate_limit: int = 200,
        queue_full: int = 0,
        queue_limit: int | None = None,
        retry_after: int = 60,
        cancel_seconds: float = 0.0,
        servers: tuple[str, ...] = ("localhost",),
        taken_domains: dict[str, str] | None = None,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port, speed=speed, faults=faults)
        self.resources = {r.uuid: r for r in resources}
        self.tokens = dict(tokens or {"root-token": ALL_PERMISSIONS})
        self.rate_limit = rate_limit
        self.queue_full = queue_full
        #: Most queued or in-progress application deployments: past it, a deploy request stops at the
        #: application that meets the limit and answers 429 for the whole request, while what it
        #: queued before that stays queued (as a real 4.3.10 does).
        self.queue_limit = queue_limit
        self.retry_after = retry_after
        #: How long a cancel takes to answer: a real one first stops the build container (6-7 s),
        #: and the deployment is cancelled all the same.
        self.cancel_seconds = cancel_seconds
        self.deployments: list[SimDeployment] = []
        self.triggers = 0
        #: Every change a PATCH made, in order: (uuid, the fields it set).
        self.changes: list[tuple[str, dict[str, Any]]] = []
        self.servers = servers
        #: Domains other resources hold (domain -> their name): a stack using one meets a 409.
        self.taken_domains = dict(taken_domains or {})
        self._hits: dict[str, list[float]] = {}
        self._started: dict[str, float] = {}  # service/database uuid -> sim time of its start
        for r in resources:
            for i in range(r.history):
                start = -1000.0 * (r.history - i)
                past = SimDeployment(
                    id=len(self.deployments) + 1,
                    uuid=new_uuid(),
                    resource=r,
                    created=start,
                    start=start + r.queue_seconds,
                    end=start + r.queue_seconds + r.build_seconds,
                )
                self.deployments.append(past)

    # -- clock -----------------------------------------------------------------------------------

    def stamp(self, at: float) -> str:
        return self.wall(at).strftime("%Y-%m-%dT%H:%M:%S.000000Z")

    # -- state -----------------------------------------------------------------------------------

    def vanish(self, request: Request) -> None:
        uuid = request.path.rsplit("/", 1)[-1]
        self.deployments = [d for d in self.deployments if d.uuid != uuid]

    def status_of(self, d: SimDeployment, at: float | None = None) -> str:
        at = self.now() if at is None else at
        if d.cancelled_at is not None and at >= d.cancelled_at:
            return "cancelled-by-user"
        if at < d.start:
            return "queued"
        if at < d.end:
            return "in_progress"
        return {"finished": "finished", "failed": "failed", "cancelled": "cancelled-by-user"}[d.outcome]

    def _active(self, resource: SimResource) -> list[SimDeployment]:
        return [
            d for d in self.deployments if d.resource is resource and self.status_of(d) in ("queued", "in_progress")
        ]

    def _create(self, resource: SimResource, pr: int, docker_tag: str | None, force: bool) -> SimDeployment:
        now = self.now()
        busy_until = max([d.end for d in self._active(resource)], default=now)
        start = max(now + resource.queue_seconds, busy_until)
        d = SimDeployment(
            id=len(self.deployments) + 1,
            uuid=new_uuid(),
            resource=resource,
            created=now,
            start=start,
            end=start + resource.build_seconds,
            pull_request_id=pr,
            docker_tag=docker_tag,
            force=force,
            commit=resource.git_commit,
        )
        d.entries = build_log(d, self.wall)
        if not resource.vanishes:
            self.deployments.append(d)
        return d

    def row(self, d: SimDeployment, sensitive: bool) -> dict[str, Any]:
        now = self.now()
        status = self.status_of(d, now)
        r = d.resource
        ended = status not in ("queued", "in_progress")
        row: dict[str, Any] = {
            "id": d.id,
            "application_id": str(list(self.resources).index(r.uuid) + 1),
            "deployment_uuid": d.uuid,
            "pull_request_id": d.pull_request_id,
            "force_rebuild": d.force,
            "commit": d.commit,
            "status": status,
            "is_webhook": False,
            "is_api": True,
            "created_at": self.stamp(d.created),
            "updated_at": self.stamp(min(now, d.end)),
            "current_process_id": None,
            "restart_only": False,
            "git_type": None,
            "server_id": 0,
            "application_name": r.name,
            "server_name": "localhost",
            "deployment_url": f"/project/p1/environment/e1/application/{r.uuid}/deployment/{d.uuid}",
            "destination_id": "0",
            "only_this_server": False,
            "rollback": False,
            "commit_message": None,
            "finished_at": self.stamp(
                d.cancelled_at if d.cancelled_at is not None and d.cancelled_at < d.end else d.end
            )
            if ended
            else None,
        }
        if sensitive:
            limit = min(now, d.cancelled_at) if d.cancelled_at is not None else now
            visible = [entry for at, entry in d.entries if at <= limit]
            row["logs"] = json.dumps(visible)  # a JSON-encoded STRING, as Coolify stores it
        return row

    def _resource_status(self, r: SimResource) -> str:
        if r.kind == "application":
            return self._application_status(r)
        started = self._started.get(r.uuid)
        if started is None:
            return r.status
        if self.now() < started + r.build_seconds:
            return "starting:unknown"
        return "running:healthy" if r.outcome == "finished" else "exited"

    def _application_status(self, r: SimResource) -> str:
        """What the last finished deployment left running, as `state:health`; r.status before any."""
        now = self.now()
        ended = [d for d in self.deployments if d.resource is r and d.end <= now and d.cancelled_at is None]
        if not ended:
            return r.status
        last = ended[-1]
        if last.outcome != "finished":
            return "exited"
        if not r.health_check:
            return "running:unknown"
        if r.healthy_after is None or now < last.end + r.healthy_after:
            return "running:unhealthy"
        return "running:healthy"

    # -- HTTP ------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        if request.path in ("/api/health", "/api/v1/health"):
            return Reply(200, raw=b"OK", content_type="text/html; charset=UTF-8")
        if not request.path.startswith("/api/v1/"):
            return self._error(request, 404, "Not found.")
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if token not in self.tokens:
            return self._error(request, 401, "Unauthenticated.")
        hits = [t for t in self._hits.get(token, []) if t > time.monotonic() - 60]
        hits.append(time.monotonic())
        self._hits[token] = hits
        if len(hits) > self.rate_limit:
            return self._error(request, 429, "Too Many Attempts.", {"Retry-After": "60"})
        permissions = self.tokens[token]
        path = request.path[len("/api/v1") :]
        method = request.method
        for route_method, pattern, name in _ROUTES:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                reply: Reply = getattr(self, name)(request, permissions, *match.groups())
                return reply
        if path == "/deploy" and method == "GET":
            return self._error(request, 405, "This endpoint has changed to a POST request.")
        return self._error(request, 404, "Not found.")

    def _error(self, request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        """Laravel answers errors as HTML (or a login redirect) unless the client accepts JSON."""
        if "application/json" not in request.headers.get("accept", ""):
            if status == 401:
                return Reply(302, raw=b"", headers={"Location": "/login"}, content_type="text/html")
            page = f"<!DOCTYPE html><html><head><title>{message}</title></head><body>{status}</body></html>"
            return Reply(status, raw=page.encode(), content_type="text/html; charset=UTF-8", headers=headers or {})
        return Reply(status, {"message": message}, headers=headers or {})

    @staticmethod
    def _can(permissions: set[str] | frozenset[str], needed: str) -> bool:
        return "root" in permissions or needed in permissions

    def _needs(self, request: Request, permissions: Any, needed: str) -> Reply | None:
        if self._can(permissions, needed):
            return None
        return self._error(request, 403, f"Missing required permissions: {needed}")

    def deploy(self, request: Request, permissions: Any) -> Reply:
        denied = self._needs(request, permissions, "deploy")
        if denied:
            return denied
        params = {k: v[-1] for k, v in request.query.items()}
        if request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                body = {}
            if isinstance(body, dict):
                params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
        uuids, tags = params.get("uuid", ""), params.get("tag", "")
        force = params.get("force", "").lower() in ("true", "1")
        pr_text = params.get("pull_request_id") or params.get("pr") or "0"
        docker_tag = params.get("docker_tag") or None
        if uuids and tags:
            return self._error(request, 400, "You can only use uuid or tag, not both.")
        if not uuids and not tags:
            return self._error(request, 400, "You must provide uuid or tag.")
        if docker_tag and pr_text == "0":
            return self._error(request, 400, "docker_tag requires pull_request_id.")
        if not pr_text.isdigit():
            return self._error(request, 422, "The pull request id field must be an integer.")
        if self.queue_full > 0:
            self.queue_full -= 1
            return self._queue_full_reply(request)
        self.triggers += 1  # a deploy call the server acted on
        pr = int(pr_text)
        try:
            if tags:
                return self._deploy_by_tag(request, [t for t in tags.split(",") if t], force)
            return self._deploy_by_uuid(request, [u for u in uuids.split(",") if u], force, pr, docker_tag)
        except _QueueFull:
            return self._queue_full_reply(request)

    def _queue_full_reply(self, request: Request) -> Reply:
        return self._error(
            request,
            429,
            "Deployment queue is full. Please wait for existing deployments to complete.",
            {"Retry-After": str(self.retry_after)},
        )

    def _deploy_by_uuid(
        self, request: Request, uuids: list[str], force: bool, pr: int, docker_tag: str | None
    ) -> Reply:
        items = []
        for uuid in uuids:
            resource = self.resources.get(uuid)
            if resource is None:
                continue  # unknown uuids are skipped silently
            message, deployment_uuid = self._deploy_resource(resource, force, pr, docker_tag)
            item = {"message": message, "resource_uuid": uuid}
            if deployment_uuid:
                item["deployment_uuid"] = deployment_uuid
            items.append(item)
        if not items:
            return self._error(request, 404, "No resources found.")
        return Reply(200, {"deployments": items})

    def _deploy_by_tag(self, request: Request, tags: list[str], force: bool) -> Reply:
        messages: list[str] = []
        details: list[dict[str, str]] = []
        known = {t for r in self.resources.values() for t in r.tags}
        for tag in tags:
            if tag not in known:
                continue
            tagged = [r for r in self.resources.values() if tag in r.tags and r.kind in ("application", "service")]
            if not tagged:
                messages.append(f"No resources found for tag {tag}.")
                continue
            for resource in sorted(tagged, key=lambda r: r.kind != "application"):
                message, deployment_uuid = self._deploy_resource(resource, force, 0, None)
                if deployment_uuid:
                    details.append({"resource_uuid": resource.uuid, "deployment_uuid": deployment_uuid})
                messages.append(message)
        if not messages:
            return self._error(request, 404, "No resources found with this tag.")
        body: dict[str, Any] = {"message": messages}
        if details:
            body["details"] = details
        return Reply(200, body)

    def _deploy_resource(self, r: SimResource, force: bool, pr: int, docker_tag: str | None) -> tuple[str, str | None]:
        if r.refusal:
            return r.refusal, None
        if r.kind == "service":
            self._started[r.uuid] = self.now()
            return f"Service {r.name} started. It could take a while, be patient.", None
        if r.kind == "database":
            self._started[r.uuid] = self.now()
            return f"Database {r.name} started.", None
        if pr and pr not in r.pull_requests:
            return f"Pull request {pr} not found for this resource.", None
        if docker_tag and not r.docker_image:
            return "docker_tag can only be used with Docker Image applications.", None
        if self.queue_limit is not None:  # checked before "already queued", as the real one does
            active = [d for d in self.deployments if self.status_of(d) in ("queued", "in_progress")]
            if len(active) >= self.queue_limit:
                raise _QueueFull()
        if not force and any(
            d.pull_request_id == pr and d.docker_tag == docker_tag and d.commit == r.git_commit for d in self._active(r)
        ):
            return PHANTOM, new_uuid()  # never saved: polling it gives 404
        d = self._create(r, pr, docker_tag, force)
        return f"Application {r.name} deployment queued.", d.uuid

    def get_deployments(self, request: Request, permissions: Any) -> Reply:
        denied = self._needs(request, permissions, "read")
        if denied:
            return denied
        sensitive = self._can(permissions, "read:sensitive")
        active = [d for d in self.deployments if self.status_of(d) in ("queued", "in_progress")]
        # The real controller sorts the collection without resetting its keys: when that changes the
        # order (here: running ones first), the answer is a JSON object keyed by the old index.
        order = sorted(range(len(active)), key=lambda i: self.status_of(active[i]) != "in_progress")
        if order != sorted(order):
            return Reply(200, {str(i): self.row(active[i], sensitive) for i in order})
        return Reply(200, [self.row(d, sensitive) for d in active])

    def get_deployment(self, request: Request, permissions: Any, uuid: str) -> Reply:
        denied = self._needs(request, permissions, "read")
        if denied:
            return denied
        d = next((d for d in self.deployments if d.uuid == uuid), None)
        if d is None:
            return self._error(request, 404, "Deployment not found.")
        return Reply(200, self.row(d, self._can(permissions, "read:sensitive")))

    def cancel_deployment(self, request: Request, permissions: Any, uuid: str) -> Reply:
        denied = self._needs(request, permissions, "deploy")
        if denied:
            return denied
        d = next((d for d in self.deployments if d.uuid == uuid), None)
        if d is None:
            return self._error(request, 404, "Deployment not found.")
        status = self.status_of(d)
        if status not in ("queued", "in_progress"):
            return self._error(request, 400, f"Deployment cannot be cancelled. Current status: {status}")
        d.cancelled_at = self.now()
        return Reply(
            200,
            {"message": "Deployment cancelled successfully.", "deployment_uuid": uuid, "status": "cancelled-by-user"},
            delay=self.cancel_seconds,
        )

    def app_deployments(self, request: Request, permissions: Any, uuid: str) -> Reply:
        denied = self._needs(request, permissions, "read")
        if denied:
            return denied
        r = self.resources.get(uuid)
        if r is None or r.kind != "application":
            return self._error(request, 404, "Application not found.")
        skip = int((request.query.get("skip") or ["0"])[0] or 0)
        take = int((request.query.get("take") or ["10"])[0] or 10)
        rows = [
            self.row(d, self._can(permissions, "read:sensitive")) for d in reversed(self.deployments) if d.resource is r
        ]
        return Reply(200, {"count": len(rows), "deployments": rows[skip : skip + take]})

    def get_resource(self, request: Request, permissions: Any, plural: str, uuid: str) -> Reply:
        denied = self._needs(request, permissions, "read")
        if denied:
            return denied
        kind = plural[:-1]
        r = self.resources.get(uuid)
        if r is None or r.kind != kind:
            return self._error(request, 404, f"{kind.capitalize()} not found.")
        body = self._resource_body(r)
        if kind == "service" and self._can(permissions, "read:sensitive"):
            body["docker_compose_raw"] = r.compose  # hidden without read:sensitive, as on the real one
        return Reply(200, body)

    def list_servers(self, request: Request, permissions: Any) -> Reply:
        denied = self._needs(request, permissions, "read")
        if denied:
            return denied
        return Reply(
            200,
            [
                {"uuid": f"srv{i}" + "0" * 20, "name": name, "ip": "10.0.0.1", "is_reachable": True}
                for i, name in enumerate(self.servers)
            ],
        )

    def create_service(self, request: Request, permissions: Any) -> Reply:
        """POST /services with a compose file: Coolify's checks, its re-dump of the YAML, domain conflicts."""
        denied = self._needs(request, permissions, "write")
        if denied:
            return denied
        body = _json_object(request)
        errors = {name: ["This field is not allowed."] for name in body if name not in _SERVICE_CREATE}
        if not isinstance(body.get("server_uuid"), str):
            errors["server_uuid"] = ["The server uuid field is required."]
        if errors:
            return Reply(422, {"message": "Validation failed.", "errors": errors})
        if not body.get("environment_name") and not body.get("environment_uuid"):
            return Reply(422, {"message": "You need to provide at least one of environment_name or environment_uuid."})
        project = next(
            (r.project for r in self.resources.values() if self._project_uuid(r.project) == body.get("project_uuid")),
            None,
        )
        if project is None:
            return self._error(request, 404, "Project not found.")
        environment = str(body.get("environment_name") or "")
        if (project, environment) not in self._environment_ids():
            return self._error(request, 404, "Environment not found.")
        if body["server_uuid"] not in [f"srv{i}" + "0" * 20 for i in range(len(self.servers))]:
            return self._error(request, 404, "Server not found.")
        stored = self._compose_from(body)
        if isinstance(stored, Reply):
            return stored
        service = SimResource(
            str(body.get("name") or "service-" + new_uuid()[:10]),
            kind="service",
            project=project,
            environment=environment,
            compose=stored,
            status="exited",
        )
        self.resources[service.uuid] = service
        self.changes.append((service.uuid, {"created": service.name}))
        return Reply(201, {"uuid": service.uuid, "domains": []})

    def update_service(self, request: Request, permissions: Any, uuid: str) -> Reply:
        r = self._writable(request, permissions, uuid, "service", "Service not found.")
        if isinstance(r, Reply):
            return r
        body = _json_object(request)
        errors = {name: ["This field is not allowed."] for name in body if name not in _SERVICE_UPDATE}
        if errors:
            return Reply(422, {"message": "Validation failed.", "errors": errors})
        if "docker_compose_raw" in body:
            stored = self._compose_from(body, uuid)
            if isinstance(stored, Reply):
                return stored
            r.compose = stored
            self.changes.append((uuid, {"docker_compose_raw": "(updated)"}))
        return Reply(200, {"uuid": uuid, "domains": []})

    def _compose_from(self, body: dict[str, Any], own: str | None = None) -> str | Reply:
        """The compose file as Coolify keeps it (base64 decoded, YAML parsed and dumped again), or
        the answer refusing it (not base64, not YAML, a domain another resource holds)."""
        import base64
        import binascii

        import yaml

        try:
            text = base64.b64decode(str(body.get("docker_compose_raw") or ""), validate=True).decode("utf-8")
            data = yaml.safe_load(text)
        except (binascii.Error, UnicodeDecodeError):
            return Reply(
                422,
                {
                    "message": "Validation failed.",
                    "errors": {"docker_compose_raw": "The docker_compose_raw should be base64 encoded."},
                },
            )
        except yaml.YAMLError as exc:
            return Reply(422, {"message": "Validation failed.", "errors": {"docker_compose_raw": str(exc)[:200]}})
        conflicts = [
            {
                "domain": domain,
                "resource_name": holder,
                "resource_uuid": "held" + "0" * 20,
                "resource_type": "application",
            }
            for domain, holder in self.taken_domains.items()
            if domain in text
        ]
        if conflicts and body.get("force_domain_override") is not True:
            return Reply(
                409,
                {
                    "message": "Domain conflicts detected. Use force_domain_override=true to proceed.",
                    "conflicts": conflicts,
                    "warning": "Using the same domain for multiple resources can cause routing conflicts "
                    "and unpredictable behavior.",
                },
            )
        return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False, indent=2))

    def list_resources(self, request: Request, permissions: Any, plural: str) -> Reply:
        denied = self._needs(request, permissions, "read")
        if denied:
            return denied
        tag = (request.query.get("tag") or [""])[-1]
        return Reply(
            200,
            [
                self._resource_body(r)
                for r in self.resources.values()
                if r.kind == plural[:-1] and (not tag or tag in r.tags)
            ],
        )

    def _resource_body(self, r: SimResource) -> dict[str, Any]:
        body: dict[str, Any] = {
            "uuid": r.uuid,
            "name": r.name,
            "status": self._resource_status(r),
            "fqdn": r.fqdn,
            "environment_id": self._environment_ids()[(r.project, r.environment)],
        }
        if r.kind == "application":
            body.update(
                {
                    "build_pack": "dockerimage" if r.docker_image else "nixpacks",
                    "docker_registry_image_name": r.image if r.docker_image else None,
                    "docker_registry_image_tag": r.image_tag if r.docker_image else None,
                    "git_repository": None if r.docker_image else "acme/app",
                    "git_branch": None if r.docker_image else "main",
                    "git_commit_sha": r.git_commit,
                }
            )
        return body

    def _writable(self, request: Request, permissions: Any, uuid: str, kind: str, missing: str) -> SimResource | Reply:
        """The resource a write asks for, or the answer instead: no `write` permission, or none of that kind (404)."""
        denied = self._needs(request, permissions, "write")
        if denied:
            return denied
        r = self.resources.get(uuid)
        if r is None or r.kind != kind:
            return self._error(request, 404, missing)
        return r

    def update_application(self, request: Request, permissions: Any, uuid: str) -> Reply:
        """PATCH /applications/{uuid}: Coolify's checks (fields it allows, tag and commit formats)."""
        r = self._writable(request, permissions, uuid, "application", "Application not found")
        if isinstance(r, Reply):
            return r
        body = _json_object(request)
        errors: dict[str, list[str]] = {}
        for name in body:
            if name not in _UPDATABLE or name in r.refused_fields:
                errors.setdefault(name, []).append("This field is not allowed.")
        tag, commit = body.get("docker_registry_image_tag"), body.get("git_commit_sha")
        if tag is not None and not (isinstance(tag, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag)):
            errors.setdefault("docker_registry_image_tag", []).append(
                "The docker registry image tag field format is invalid."
            )
        if commit is not None and not (
            isinstance(commit, str) and re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9._\-/]*", commit)
        ):
            errors.setdefault("git_commit_sha", []).append("The git commit sha field format is invalid.")
        if errors:
            return Reply(422, {"message": "Validation failed.", "errors": errors})
        if isinstance(tag, str):
            r.image_tag = tag
        if isinstance(commit, str):
            r.git_commit = commit
        self.changes.append((uuid, dict(body)))
        return Reply(200, {"uuid": uuid})

    def bulk_envs(self, request: Request, permissions: Any, uuid: str) -> Reply:
        """PATCH /applications/{uuid}/envs/bulk: set or add each variable; 201 with them."""
        r = self._writable(request, permissions, uuid, "application", "Application not found")
        if isinstance(r, Reply):
            return r
        data = _json_object(request).get("data")
        if not data:
            return self._error(request, 400, "Bulk data is required.")
        for item in data if isinstance(data, list) else []:
            key = str(item.get("key") or "").strip() if isinstance(item, dict) else ""
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", key):
                return Reply(
                    422, {"message": "Validation failed.", "errors": {"key": ["The key field format is invalid."]}}
                )
        saved = []
        for item in data:
            r.envs[str(item["key"]).strip()] = str(item.get("value") or "")
            saved.append({"uuid": new_uuid(), "key": item["key"], "value": item.get("value"), "is_preview": False})
        self.changes.append((uuid, {"envs": [item["key"] for item in data]}))
        return Reply(201, saved)

    def _environment_ids(self) -> dict[tuple[str, str], int]:
        scopes = sorted({(r.project, r.environment) for r in self.resources.values()})
        return {scope: index + 1 for index, scope in enumerate(scopes)}

    @staticmethod
    def _project_uuid(name: str) -> str:
        return "prj" + "".join(ch for ch in name.lower() if ch.isalnum()).ljust(21, "0")[:21]

    def list_projects(self, request: Request, permissions: Any) -> Reply:
        denied = self._needs(request, permissions, "read")
        if denied:
            return denied
        names = sorted({r.project for r in self.resources.values()})
        return Reply(
            200,
            [{"id": i + 1, "uuid": self._project_uuid(n), "name": n, "description": None} for i, n in enumerate(names)],
        )

    def _project(self, request: Request, permissions: Any, uuid: str) -> str | Reply:
        """The project's name, or the answer to give instead (no read permission, no such project)."""
        denied = self._needs(request, permissions, "read")
        if denied:
            return denied
        project = next((r.project for r in self.resources.values() if self._project_uuid(r.project) == uuid), None)
        return self._error(request, 404, "Project not found.") if project is None else project

    def project_environments(self, request: Request, permissions: Any, uuid: str) -> Reply:
        project = self._project(request, permissions, uuid)
        if isinstance(project, Reply):
            return project
        ids = self._environment_ids()
        return Reply(
            200,
            [
                {"id": env_id, "name": env, "project_id": 1, "description": None}
                for (p, env), env_id in ids.items()
                if p == project
            ],
        )

    def environment_details(self, request: Request, permissions: Any, uuid: str, environment: str) -> Reply:
        project = self._project(request, permissions, uuid)
        if isinstance(project, Reply):
            return project
        env_id = self._environment_ids().get((project, environment))
        if env_id is None:
            return self._error(request, 404, "Environment not found.")
        held = [r for r in self.resources.values() if (r.project, r.environment) == (project, environment)]
        body: dict[str, Any] = {
            "id": env_id,
            "uuid": f"env{env_id}" + "0" * 20,
            "name": environment,
            "project_id": 1,
            "description": None,
        }
        body["applications"] = [self._resource_body(r) for r in held if r.kind == "application"]
        body["services"] = [self._resource_body(r) for r in held if r.kind == "service"]
        body["postgresqls"] = [self._resource_body(r) for r in held if r.kind == "database"]
        for other in ("redis", "mongodbs", "mysqls", "mariadbs"):
            body[other] = []
        return Reply(200, body)

    def get_version(self, request: Request, permissions: Any) -> Reply:
        denied = self._needs(request, permissions, "read")
        return denied or Reply(200, raw=self.version.encode(), content_type="text/html; charset=UTF-8")


#: Fields POST /services and PATCH /services/{uuid} take (with a compose file).
_SERVICE_CREATE = frozenset(
    {
        "name",
        "description",
        "project_uuid",
        "environment_name",
        "environment_uuid",
        "server_uuid",
        "destination_uuid",
        "instant_deploy",
        "docker_compose_raw",
        "connect_to_docker_network",
        "urls",
        "force_domain_override",
        "is_container_label_escape_enabled",
        "tags",
    }
)
_SERVICE_UPDATE = frozenset(
    {
        "name",
        "description",
        "instant_deploy",
        "docker_compose_raw",
        "connect_to_docker_network",
        "urls",
        "force_domain_override",
        "is_container_label_escape_enabled",
    }
)
#: Fields PATCH /applications/{uuid} takes (a part of the real list: those a deploy tool would touch).
_UPDATABLE = frozenset(
    {
        "name",
        "description",
        "domains",
        "git_repository",
        "git_branch",
        "git_commit_sha",
        "docker_registry_image_name",
        "docker_registry_image_tag",
        "build_pack",
        "ports_exposes",
        "instant_deploy",
        "health_check_enabled",
        "health_check_path",
    }
)


def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class _QueueFull(Exception):
    """An application met the queue limit: the whole request answers 429."""


_ROUTES = [
    ("POST", r"/deploy", "deploy"),
    ("GET", r"/deployments", "get_deployments"),
    ("GET", r"/deployments/applications/([^/]+)", "app_deployments"),
    ("GET", r"/deployments/([^/]+)", "get_deployment"),
    ("POST", r"/deployments/([^/]+)/cancel", "cancel_deployment"),
    ("GET", r"/(applications|services|databases)/([^/]+)", "get_resource"),
    ("PATCH", r"/applications/([^/]+)", "update_application"),
    ("GET", r"/servers", "list_servers"),
    ("POST", r"/services", "create_service"),
    ("PATCH", r"/services/([^/]+)", "update_service"),
    ("PATCH", r"/applications/([^/]+)/envs/bulk", "bulk_envs"),
    ("GET", r"/(applications|services|databases)", "list_resources"),
    ("GET", r"/version", "get_version"),
    ("GET", r"/projects", "list_projects"),
    ("GET", r"/projects/([^/]+)/environments", "project_environments"),
    ("GET", r"/projects/([^/]+)/([^/]+)", "environment_details"),
]


def build_log(d: SimDeployment, wall: Callable[[float], datetime]) -> list[tuple[float, dict[str, Any]]]:
    """A plausible Coolify build log, each entry stamped with when it appears (sim seconds) and,
    as a real server writes it, with that moment's time. Its last line ("Rolling update
    completed.", or the failure's) comes just before the status changes, as Coolify sets it then."""
    r = d.resource
    steps: list[tuple[str | None, str, bool]] = [
        (None, f"Starting deployment of acme/{r.name}:main to localhost.", False),
        ("docker ps -a --filter name=helper", "a1b2c3 coolify-helper", True),
        (None, "Preparing container with helper image: ghcr.io/coollabsio/coolify-helper:1.0.8.", False),
        ("git ls-remote https://github.com/acme/app refs/heads/main", "4f2a9c1e\trefs/heads/main", True),
        (None, f"Importing acme/{r.name}:main (commit sha HEAD) to /artifacts/{d.uuid}.", False),
        (None, "Image not found. Building new image.", False),
        (None, "#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s", False),
        (None, "#5 [2/5] COPY package*.json ./", False),
    ]
    steps += [(None, line, False) for line in r.log_extra]
    filler = max(0, r.log_lines - 10)
    steps += [(None, f"#8 [3/5] RUN npm ci ... step {i + 1} of {filler}", False) for i in range(filler)]
    if r.docker_image:
        steps.insert(4, (None, f"Pulling image {r.image}:{d.version}.", False))
    if d.outcome == "failed":
        steps += [
            (None, "#9 [4/5] RUN npm run build", False),
            (None, '#9 ERROR: process "/bin/sh -c npm run build" did not complete successfully: exit code: 1', False),
            (None, "Deployment failed. Removing the new version of your application.", False),
        ]
    else:
        steps += [
            (None, "Building docker image completed.", False),
            (None, "Rolling update started.", False),
            (None, "New container started. Removing old containers.", False),
            (None, "Rolling update completed.", False),
        ]
    span = max(d.end - d.start, 0.001)
    span -= min(LAST_LINE_BEFORE_END, span / 50)
    entries = []
    for i, (command, output, hidden) in enumerate(steps):
        at = d.start + span * i / max(1, len(steps) - 1)
        entry: dict[str, Any] = {
            "command": command,
            "output": output,
            "type": "stdout",
            "timestamp": wall(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "hidden": hidden,
            "batch": 1,
        }
        if i:
            entry["order"] = i + 1  # the first entry comes without `order`, as on real servers
        entries.append((at, entry))
    return entries
