"""A simulated Dokploy v0.30 REST API that behaves like ../shared/API-NOTES.md says, traps included.

One build queue (concurrency 1): a deploy answers an EMPTY 200 (application) and no id; the
deployment row is created only when the job starts; `application.one` keeps the previous deploy's
`done` until then; git deploys overwrite the row's title and description when done; only the last
10 rows are kept; `restart()` loses queued jobs and marks running rows `cancelled`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from deployer.simulator.server import Faults, Peer, Reply, Request, Session, SimulatedServer

RETAINED = 10
#: A row is written this long after its job is taken up (processedOn): a fraction of a second.
ROW_LAG = 0.012
#: From an application build's last log line to its `done` status: the container starting.
START_SECONDS = 0.8
#: The real server's answers to a live-log socket it cannot serve (listen-deployment.ts).
LOG_SOCKET_MODES = ("tail", "refused", "drop")
LOGS_DIR = "/etc/dokploy/logs"
NOT_FOUND_PAGE = b"<!DOCTYPE html><html><body>404: This page could not be found.</body></html>"


def new_id() -> str:
    return secrets.token_urlsafe(15)[:21]


@dataclass
class SimTarget:
    """A Dokploy application or compose stack, and how its deploys go."""

    name: str
    kind: str = "application"  # application | compose
    id: str = field(default_factory=new_id)
    outcome: str = "done"  # done | error
    build_seconds: float = 1.0
    log_lines: int = 10
    git: bool = True  # git deploys overwrite title/description when done
    previous: int = 0  # finished deployments that exist before the test starts
    project: str = "acme"
    environment: str = "production"
    error_message: str | None = None  # the row's errorMessage when a deploy fails (null on a build failure)
    #: A Docker-image application's image (its source is then "docker", not git), and its registry login.
    docker_image: str | None = None
    username: str | None = None
    password: str | None = None
    registry_url: str | None = None
    #: The application's environment settings, as `application.one` gives them.
    env: str | None = None
    build_args: str | None = None
    build_secrets: str | None = None
    create_env_file: bool = True
    #: Images whose deployment fails, whatever `outcome` says.
    failing_images: tuple[str, ...] = ()
    #: Its settings cannot be saved: the mutations answer a validation error.
    refuse_changes: bool = False
    #: A compose stack's file as the server holds it, and where it comes from ("raw": the file itself).
    compose_file: str | None = None
    source_type: str = "github"


@dataclass
class SimJob:
    id: int
    target: SimTarget
    title: str
    description: str
    enqueued: float
    start: float
    end: float
    deployment_id: str = field(default_factory=new_id)
    lost: bool = False
    cancelled_at: float | None = None
    outcome: str | None = None  # this deploy's own outcome; None: the target's
    image: str | None = None  # the image a Docker-image application's deploy ran

    @property
    def result(self) -> str:
        if self.outcome:
            return self.outcome
        return "error" if self.image and self.image in self.target.failing_images else self.target.outcome


class DokploySimulator(SimulatedServer):
    """Serve with `with DokploySimulator([...], keys={...}) as sim:`; `sim.url` is the instance URL."""

    version = "v0.30.2"

    def __init__(
        self,
        targets: list[SimTarget],
        keys: dict[str, set[str] | None] | None = None,
        *,
        queue_delay: float = 0.3,
        speed: float = 1.0,
        old_version: bool = False,
        key_budget: int | None = None,
        empty_environments: list[tuple[str, str]] | None = None,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log_socket: str = "tail",
    ) -> None:
        super().__init__(host, port, speed=speed, faults=faults)
        #: The live-log WebSocket: "tail" (as a real server), "refused" (a proxy that does not pass
        #: upgrades answers its 404 page), "drop" (it closes after the first chunk, like an idle cut).
        self.log_socket = log_socket
        self.targets = {t.id: t for t in targets}
        #: api key -> ids it may touch (None: all)
        self.keys = dict(keys or {"dokploy-key": None})
        self.queue_delay = queue_delay
        self.old_version = old_version
        #: A key created through the API keeps a rate limit of its own: past this many requests,
        #: every call is 401 Unauthorized, like a wrong key.
        self.key_budget = key_budget
        self.jobs: list[SimJob] = []
        #: Every change a mutation made, in order: (application id, what it set; never a password).
        self.changes: list[tuple[str, dict[str, Any]]] = []
        #: Environments that exist without holding anything yet: (project, environment).
        self.empty_environments: list[tuple[str, str]] = list(empty_environments or [])
        for target in targets:
            for i in range(target.previous):  # each took as long as this target's deploys take
                at = -1000.0 + i * (target.build_seconds + 1)
                self.jobs.append(
                    SimJob(
                        len(self.jobs) + 1,
                        target,
                        f"Earlier deploy {i + 1}",
                        "Commit: 0ld",
                        at,
                        at,
                        at + target.build_seconds,
                    )
                )
        self.deploy_calls = 0
        self.killed_every_build = False
        self.restarted_at_job = 0  # job ids start again at job-1 after a restart
        #: Called with the target after each deploy call is queued (e.g. someone else deploys just after).
        self.after_deploy: list[Any] = []

    def stamp(self, at: float) -> str:
        """A row's time as Dokploy writes it: ISO 8601 with milliseconds, UTC."""
        return self.wall(at).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def epoch_ms(self, at: float) -> int:
        """A queue job's time: epoch milliseconds."""
        return int(self.wall(at).timestamp() * 1000)

    # -- state -----------------------------------------------------------------------------------

    def enqueue(
        self,
        target: SimTarget,
        title: str = "NEW CHANGES",
        description: str = "",
        *,
        outcome: str | None = None,
        build_seconds: float | None = None,
    ) -> SimJob:
        """Queue a deploy (one build at a time, first in first out): deployer's, or anyone else's
        (a webhook deploy's row is titled "NEW CHANGES")."""
        now = self.now()
        busy = max([j.end for j in self.jobs if not j.lost and j.end > now and j.cancelled_at is None], default=now)
        start = max(now + self.queue_delay, busy)
        took = target.build_seconds if build_seconds is None else build_seconds
        job = SimJob(
            len(self.jobs) + 1,
            target,
            title,
            description,
            now,
            start,
            start + took,
            outcome=outcome,
            image=target.docker_image,
        )
        self.jobs.append(job)
        return job

    def restart(self) -> None:
        """A server restart: queued jobs are lost, running rows become `cancelled`."""
        now = self.now()
        for job in self.jobs:
            if job.lost or job.cancelled_at is not None:
                continue
            if now < job.start:
                job.lost = True
            elif now < job.end:
                job.cancelled_at = now
        self.restarted_at_job = len(self.jobs)

    def rotate_out(self, target: SimTarget, count: int = RETAINED) -> None:
        """Add `count` instant deployments, pushing older rows out of the last RETAINED."""
        now = self.now()
        for i in range(count):
            self.jobs.append(
                SimJob(len(self.jobs) + 1, target, f"Other deploy {i}", "", now, now + i * 1e-6, now + i * 1e-6)
            )

    def row_status(self, job: SimJob, now: float) -> str:
        if job.cancelled_at is not None:
            return "cancelled"
        if now < job.end:
            return "running"
        return job.result

    def rows_of(self, target: SimTarget) -> list[SimJob]:
        """Rows that exist now (their job started), newest first, only the last RETAINED."""
        now = self.now()
        started = [j for j in self.jobs if j.target is target and not j.lost and j.start <= now]
        return sorted(started, key=lambda j: j.start, reverse=True)[:RETAINED]

    def row(self, job: SimJob) -> dict[str, Any]:
        now = self.now()
        status = self.row_status(job, now)
        title, description = job.title, job.description
        if status != "running" and job.target.git:
            title, description = "feat: the commit message", "Commit: 4f2a9c1e8b7d"
        id_field = "applicationId" if job.target.kind == "application" else "composeId"
        ended_at = job.cancelled_at if job.cancelled_at is not None else job.end
        return {
            "deploymentId": job.deployment_id,
            "title": title,
            "description": description,
            "status": status,
            "logPath": self.log_path(job),
            "pid": None,
            id_field: job.target.id,
            "createdAt": self.stamp(job.start + ROW_LAG),
            "startedAt": self.stamp(job.start + ROW_LAG),
            "finishedAt": self.stamp(ended_at) if status != "running" else None,
            # Stays null on a normal build failure (the reason is in the log); some failures set it.
            "errorMessage": job.target.error_message if status == "error" else None,
            "isPreviewDeployment": False,
            "serverId": None,
        }

    def timed_log(self, job: SimJob) -> list[tuple[float, str]]:
        """Each line of a deployment's log and when it is written, as a real build writes them: the
        build's lines through the build, its last line (`✅ ... completed.`) before the container
        starts (the status says `done` a moment later), or the error line just before `error`."""
        t = job.target
        if job.image:
            lines = ["Initializing deployment", f"Pulling {job.image}"]
        else:
            lines = ["Initializing deployment", f"Cloning acme/{t.name} main", "Cloning done ✅"]
        lines += [f"Step {i + 1}/{t.log_lines}: building" for i in range(t.log_lines)]
        took = max(job.end - job.start, 0.001)
        if job.result == "error":
            lines += [
                'ERROR: failed to solve: process "/bin/sh -c npm run build" did not complete successfully: '
                "exit code: 1",
                "",
                "Error occurred ❌, check the logs for details.",
            ]
            last = job.end - min(0.02, took / 10)
        elif t.kind == "compose":
            lines.append("Docker Compose Deployed: ✅")
            last = job.end - min(0.05, took / 10)
        else:
            lines.append("✅ Pulling image completed." if job.image else "✅ Nixpacks build completed.")
            last = job.end - min(START_SECONDS, took / 5)  # then the container starts
        step = (last - job.start) / len(lines)
        return [(job.start + step * (i + 1), line) for i, line in enumerate(lines)]

    def log_of(self, job: SimJob) -> list[str]:
        """The log as written so far (a restart stops it where the deployment was cancelled)."""
        now = self.now()
        until = min(now, job.cancelled_at) if job.cancelled_at is not None else now
        return [line for at, line in self.timed_log(job) if at <= until]

    # -- HTTP ------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        if request.path == "/api/health":
            return Reply(200, {"ok": True}, content_type="application/json; charset=utf-8")
        if not request.path.startswith("/api/"):
            return Reply(404, raw=NOT_FOUND_PAGE, content_type="text/html; charset=utf-8")
        key = request.headers.get("x-api-key", "")
        if self.key_budget is not None and key in self.keys:
            self.key_budget -= 1
            if self.key_budget < 0:
                return Reply(401, {"message": "Unauthorized"}, content_type="application/json; charset=utf-8")
        if key not in self.keys:
            return Reply(401, {"message": "Unauthorized"}, content_type="application/json; charset=utf-8")
        procedure = request.path[len("/api/") :]
        handler = _PROCEDURES.get(procedure)
        old = self.old_version and procedure in ("deployment.readLogs", "deployment.queueList")
        # An unknown procedure, or one asked with the other method, is a JSON 404 (there is no 405).
        if handler is None or old or request.method != handler[0]:
            return Reply(404, _procedure_error("NOT_FOUND", 404, procedure, "Not found"))
        method, name = handler
        if method == "POST":
            if "application/json" not in request.headers.get("content-type", ""):
                return Reply(
                    415, _procedure_error("UNSUPPORTED_MEDIA_TYPE", 415, procedure, "Unsupported content-type")
                )
            try:
                params = json.loads(request.body or b"{}")
            except ValueError:
                return Reply(400, _procedure_error("PARSE_ERROR", 400, procedure, "Invalid JSON"))
        else:
            params = {k: v[-1] for k, v in request.query.items()}
        reply: Reply = getattr(self, name)(procedure, key, params if isinstance(params, dict) else {})
        return reply

    def _target(self, procedure: str, key: str, params: dict[str, Any], kind: str) -> SimTarget | Reply:
        id_field = "applicationId" if kind == "application" else "composeId"
        target_id = params.get(id_field)
        if not isinstance(target_id, str) or not target_id:
            return Reply(
                400,
                _procedure_error(
                    "BAD_REQUEST",
                    400,
                    procedure,
                    "Input validation failed",
                    zod=[{"code": "invalid_type", "path": [id_field], "message": "Required"}],
                ),
            )
        target = self.targets.get(target_id)
        if target is None or target.kind != kind:
            what = "Application" if kind == "application" else "Compose"
            return Reply(404, _procedure_error("NOT_FOUND", 404, procedure, f"{what} not found"))
        allowed = self.keys[key]
        if allowed is not None and target_id not in allowed:
            return Reply(401, _procedure_error("UNAUTHORIZED", 401, procedure, "You don't have access to this service"))
        return target

    def deploy(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        kind = procedure.split(".")[0]
        target = self._target(procedure, key, params, kind)
        if isinstance(target, Reply):
            return target
        self.deploy_calls += 1
        self.enqueue(target, str(params.get("title") or "Manual deployment"), str(params.get("description") or ""))
        for hook in self.after_deploy:
            hook(target)
        if kind == "application":
            return Reply(200, raw=b"")  # an EMPTY body with a JSON content type
        return Reply(200, {"success": True, "message": "Deployment queued", "composeId": target.id})

    def deployments(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        kind = "application" if procedure == "deployment.all" else "compose"
        target = self._target(procedure, key, params, kind)
        if isinstance(target, Reply):
            return target
        return Reply(200, [self.row(j) for j in self.rows_of(target)])

    def queue_list(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        """Jobs waiting or running, NEWEST FIRST; a waiting job has no `processedOn` key at all.
        Not filtered by the key's permissions, as on a real server."""
        now = self.now()
        jobs = []
        for job in sorted(self.jobs, key=lambda j: j.enqueued, reverse=True):
            if job.lost or job.cancelled_at is not None or now >= job.end or now < job.enqueued:
                continue
            t = job.target
            id_field = "applicationId" if t.kind == "application" else "composeId"
            kind = "application" if t.kind == "application" else "compose"
            entry: dict[str, Any] = {
                "id": f"job-{job.id - self.restarted_at_job}",
                "name": "deployments",
                "data": {
                    id_field: t.id,
                    "titleLog": job.title,
                    "descriptionLog": job.description,
                    "type": "deploy",
                    "applicationType": kind,
                    "server": False,
                },
                "timestamp": self.epoch_ms(job.enqueued),
            }
            if now >= job.start:
                entry["processedOn"] = self.epoch_ms(job.start)
            entry["state"] = "active" if now >= job.start else "waiting"
            entry["servicePath"] = {
                "href": f"/dashboard/project/prj-{t.project}/environment/env-{t.project}-{t.environment}"
                f"/services/{kind}/{t.id}",
                "label": kind.capitalize(),
            }
            jobs.append(entry)
        return Reply(200, jobs)

    def log_path(self, job: SimJob) -> str:
        return f"{LOGS_DIR}/{job.target.name}/{job.target.name}-{job.id}.log"

    def socket(self, request: Request) -> Reply | Session:
        """`/listen-deployment?logPath=`: `tail -n +1 -f` of the log over a WebSocket, as the real
        server runs it (apps/dokploy/server/wss/listen-deployment.ts): every check fails by closing
        the socket, and a served one never closes by itself."""
        if request.path != "/listen-deployment" or self.log_socket == "refused":
            return Reply(404, raw=NOT_FOUND_PAGE, content_type="text/html; charset=utf-8")
        log_path = (request.query.get("logPath") or [""])[-1]
        key = request.headers.get("x-api-key", "")

        def session(peer: Peer) -> None:
            if not log_path:
                peer.close(4000, "logPath no provided")
                return
            if not log_path.startswith(LOGS_DIR + "/") or ".." in log_path:
                peer.close(4000, "Invalid log path")
                return
            if key not in self.keys:
                peer.close()  # no user, no session: closed at once, without a reason
                return
            with self._lock:
                job = next((j for j in self.jobs if self.log_path(j) == log_path and not j.lost), None)
                started = job is not None and self.now() >= job.start
            if job is None or not started:
                peer.send(f"tail error: tail: cannot open '{log_path}' for reading: No such file or directory\n")
                peer.close()
                return
            sent = 0
            while True:
                with self._lock:
                    lines = self.log_of(job)
                if len(lines) > sent:
                    peer.send("".join(line + "\n" for line in lines[sent:]))
                    sent = len(lines)
                    if self.log_socket == "drop":
                        peer.close(1001, "going away")  # as a proxy's idle cut looks
                        return
                if not peer.wait(0.05):
                    return

        return session

    def read_logs(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        deployment_id = params.get("deploymentId")
        tail_text = str(params.get("tail") or "100")
        if not deployment_id or not tail_text.isdigit() or not 1 <= int(tail_text) <= 10000:
            return Reply(400, _procedure_error("BAD_REQUEST", 400, procedure, "Input validation failed"))
        job = next((j for j in self.jobs if j.deployment_id == deployment_id and not j.lost), None)
        if job is None:
            return Reply(404, _procedure_error("NOT_FOUND", 404, procedure, "Deployment not found"))
        lines = self.log_of(job)[-int(tail_text) :]
        return Reply(200, "".join(line + "\n" for line in lines))

    def application_one(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        kind = procedure.split(".")[0]
        target = self._target(procedure, key, params, kind)
        if isinstance(target, Reply):
            return target
        now = self.now()
        mine = [j for j in self.jobs if j.target is target and not j.lost and j.start <= now]
        # The stale-status trap: the previous deploy's `done` until the queued job starts.
        status = "idle" if not mine else self.row_status(mine[-1], now)
        id_field = "applicationId" if kind == "application" else "composeId"
        status_field = "applicationStatus" if kind == "application" else "composeStatus"
        body: dict[str, Any] = {
            id_field: target.id,
            "name": target.name,
            status_field: status,
            **self.environment_of(target),
        }
        if kind == "application":
            body.update(
                {
                    "appName": f"{target.name}-x1y2z3",
                    "sourceType": "docker" if target.docker_image else "github",
                    "dockerImage": target.docker_image,
                    "username": target.username,
                    "password": target.password,
                    "registryUrl": target.registry_url,
                    "env": target.env,
                    "buildArgs": target.build_args,
                    "buildSecrets": target.build_secrets,
                    "createEnvFile": target.create_env_file,
                }
            )
        return Reply(200, body)

    def _required(self, procedure: str, params: dict[str, Any], fields: dict[str, tuple[type, ...]]) -> Reply | None:
        """zod's check of a mutation's input: every field present, of its type (None where nullable)."""
        issues = []
        for name, types in fields.items():
            if name not in params:
                issues.append({"code": "invalid_type", "path": [name], "message": "Required"})
            elif not isinstance(params[name], types) or (bool not in types and isinstance(params[name], bool)):
                issues.append({"code": "invalid_type", "path": [name], "message": f"Expected {types[0].__name__}"})
        if not issues:
            return None
        return Reply(400, _procedure_error("BAD_REQUEST", 400, procedure, "Input validation failed", zod=issues))

    def save_docker_provider(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        """Sets the image and registry login, and makes the application a Docker-image one."""
        text = (str, type(None))
        bad = self._required(
            procedure,
            params,
            {"applicationId": (str,), "dockerImage": text, "username": text, "password": text, "registryUrl": text},
        )
        if bad:
            return bad
        target = self._target(procedure, key, params, "application")
        if isinstance(target, Reply):
            return target
        if target.refuse_changes:
            issue = {"code": "custom", "path": ["dockerImage"], "message": "Image reference not accepted"}
            return Reply(400, _procedure_error("BAD_REQUEST", 400, procedure, "Input validation failed", zod=[issue]))
        target.docker_image = params["dockerImage"]
        target.username, target.password = params["username"], params["password"]
        target.registry_url = params["registryUrl"]
        self.changes.append((target.id, {k: v for k, v in params.items() if k != "password"}))
        return Reply(200, True)

    def save_environment(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        text = (str, type(None))
        bad = self._required(
            procedure,
            params,
            {"applicationId": (str,), "env": text, "buildArgs": text, "buildSecrets": text, "createEnvFile": (bool,)},
        )
        if bad:
            return bad
        target = self._target(procedure, key, params, "application")
        if isinstance(target, Reply):
            return target
        target.env, target.build_args = params["env"], params["buildArgs"]
        target.build_secrets, target.create_env_file = params["buildSecrets"], params["createEnvFile"]
        self.changes.append((target.id, {"env": "(saved)"}))
        return Reply(200, True)

    def project_all(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        """Projects, their environments and what each holds; a key limited to some services sees only those."""
        allowed = self.keys[key]
        projects: dict[str, dict[str, Any]] = {}
        places: list[tuple[str, str, SimTarget | None]] = [
            (t.project, t.environment, t) for t in self.targets.values() if allowed is None or t.id in allowed
        ]
        places += [(p, e, None) for p, e in self.empty_environments]
        for project_name, environment_name, target in places:
            project = projects.setdefault(
                project_name,
                {"projectId": f"prj-{project_name}", "name": project_name, "description": None, "environments": {}},
            )
            environment = project["environments"].setdefault(
                environment_name,
                {
                    "environmentId": f"env-{project_name}-{environment_name}",
                    "name": environment_name,
                    "isDefault": environment_name == "production",
                    "applications": [],
                    "compose": [],
                    "mariadb": [],
                    "mongo": [],
                    "mysql": [],
                    "postgres": [],
                    "redis": [],
                },
            )
            if target is None:
                continue
            if target.kind == "application":
                environment["applications"].append(
                    {"applicationId": target.id, "name": target.name, "applicationStatus": "done"}
                )
            else:
                environment["compose"].append({"composeId": target.id, "name": target.name, "composeStatus": "done"})
        return Reply(200, [dict(p, environments=list(p["environments"].values())) for p in projects.values()])

    def compose_one(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        target = self._target(procedure, key, params, "compose")
        if isinstance(target, Reply):
            return target
        return Reply(200, self._compose_body(target))

    def _compose_body(self, target: SimTarget) -> dict[str, Any]:
        now = self.now()
        mine = [j for j in self.jobs if j.target is target and not j.lost and j.start <= now]
        return {
            "composeId": target.id,
            "name": target.name,
            "appName": f"{target.name}-a1b2c3",
            "composeFile": target.compose_file or "",
            "sourceType": target.source_type,
            "composeType": "docker-compose",
            "composeStatus": "idle" if not mine else self.row_status(mine[-1], now),
            **self.environment_of(target),
        }

    def environment_of(self, target: SimTarget) -> dict[str, Any]:
        """What `application.one` and `compose.one` say of where a resource lives (the environment,
        with its project, as the real queries join them)."""
        project_id, environment_id = f"prj-{target.project}", f"env-{target.project}-{target.environment}"
        return {
            "environmentId": environment_id,
            "environment": {
                "environmentId": environment_id,
                "name": target.environment,
                "projectId": project_id,
                "project": {"projectId": project_id, "name": target.project},
            },
        }

    def compose_create(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        """A new compose stack in an environment; the file is stored as given."""
        issues = []
        if not isinstance(params.get("name"), str) or not params["name"]:
            issues.append(
                {"code": "too_small", "path": ["name"], "message": "String must contain at least 1 character(s)"}
            )
        if not isinstance(params.get("environmentId"), str):
            issues.append({"code": "invalid_type", "path": ["environmentId"], "message": "Required"})
        if params.get("sourceType") not in (None, "git", "github", "gitlab", "bitbucket", "gitea", "raw"):
            issues.append({"code": "invalid_enum_value", "path": ["sourceType"], "message": "Invalid enum value"})
        if issues:
            return Reply(400, _procedure_error("BAD_REQUEST", 400, procedure, "Input validation failed", zod=issues))
        places = {f"env-{t.project}-{t.environment}": (t.project, t.environment) for t in self.targets.values()}
        places.update({f"env-{p}-{e}": (p, e) for p, e in self.empty_environments})
        if params["environmentId"] not in places:
            return Reply(404, _procedure_error("NOT_FOUND", 404, procedure, "Environment not found"))
        project, environment = places[params["environmentId"]]
        target = SimTarget(
            str(params["name"]),
            kind="compose",
            project=project,
            environment=environment,
            git=False,
            compose_file=str(params.get("composeFile") or ""),
            source_type=str(params.get("sourceType") or "github"),
        )
        self.targets[target.id] = target
        self.changes.append((target.id, {"created": target.name}))
        return Reply(200, self._compose_body(target))

    def compose_update(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        target = self._target(procedure, key, params, "compose")
        if isinstance(target, Reply):
            return target
        if "composeFile" in params:
            target.compose_file = str(params["composeFile"])
        if "sourceType" in params:
            target.source_type = str(params["sourceType"])
        self.changes.append((target.id, {k: v for k, v in params.items() if k != "composeId"}))
        return Reply(200, self._compose_body(target))

    def cancel(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        return Reply(
            400,
            _procedure_error("BAD_REQUEST", 400, procedure, "Deployment cancellation only available in cloud version"),
        )

    def kill_build(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        self.killed_every_build = True  # what the real one does; tests assert deployer never gets here
        return Reply(200, True)

    def get_version(self, procedure: str, key: str, params: dict[str, Any]) -> Reply:
        return Reply(200, self.version)


def _procedure_error(code: str, status: int, path: str, message: str, zod: Any = None) -> dict[str, Any]:
    return {
        "message": message,
        "code": code,
        "data": {"code": code, "httpStatus": status, "path": path, "zodError": zod},
    }


_PROCEDURES = {
    "application.deploy": ("POST", "deploy"),
    "application.redeploy": ("POST", "deploy"),
    "compose.deploy": ("POST", "deploy"),
    "compose.redeploy": ("POST", "deploy"),
    "deployment.all": ("GET", "deployments"),
    "deployment.allByCompose": ("GET", "deployments"),
    "deployment.queueList": ("GET", "queue_list"),
    "deployment.readLogs": ("GET", "read_logs"),
    "application.one": ("GET", "application_one"),
    "application.saveDockerProvider": ("POST", "save_docker_provider"),
    "application.saveEnvironment": ("POST", "save_environment"),
    "project.all": ("GET", "project_all"),
    "compose.one": ("GET", "compose_one"),
    "compose.create": ("POST", "compose_create"),
    "compose.update": ("POST", "compose_update"),
    "application.cancelDeployment": ("POST", "cancel"),
    "compose.cancelDeployment": ("POST", "cancel"),
    "application.killBuild": ("POST", "kill_build"),
    "settings.getDokployVersion": ("GET", "get_version"),
}
