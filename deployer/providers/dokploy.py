"""Dokploy: trigger `application.deploy` / `compose.deploy` and find and follow the deployment it
started, per ../shared/API-NOTES.md.

Dokploy returns no deployment id, and its deployment row appears only when the queued job starts,
so each follower notes the rows that existed before the trigger, waits (the job is visible in
`deployment.queueList` meanwhile), recognises the new row by the marker deployer put in its
description, and then follows that row by `deploymentId`. `applicationStatus` is never read: it
shows the previous deploy's result until the job starts.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from deployer.errors import (
    AuthenticationFailed,
    DeployerError,
    HTTPStatusError,
    InputError,
    NotFound,
    PermissionDenied,
    ServerError,
    UnexpectedAnswer,
    lost_trigger,
)
from deployer.http import TimeLeft
from deployer.log_socket import LogSocket
from deployer.model import (
    Change,
    Deployment,
    ResourceName,
    StackChange,
    Status,
    epoch,
    iso_utc,
    seconds_from_to,
)
from deployer.providers.base import ErrorRule, Follower, Provider, compose_diff
from deployer.providers.names import Candidate, pick
from deployer.retry import TriggerRetry

if TYPE_CHECKING:
    import httpx

    from deployer.config.compose_file import ComposeFile
    from deployer.config.settings import Settings

_STATUS = {
    "running": Status.IN_PROGRESS,
    "done": Status.FINISHED,
    "error": Status.FAILED,
    "cancelled": Status.CANCELLED,
}
_KINDS = {
    # kind: (id field, deploy procedure, rows query, the resource's own query)
    "application": ("applicationId", "application.deploy", "deployment.all", "application.one"),
    "compose": ("composeId", "compose.deploy", "deployment.allByCompose", "compose.one"),
}
LOG_TAIL_MAX = 10000
FAILURE_TAIL = 50
#: Checks in a row that see neither our queued job nor our row before the job counts as lost.
LOST_AFTER_CHECKS = 6
#: A row started with our job when its startedAt is this close to the job's processedOn (a real
#: server: a fraction of a second; the row's time has millisecond precision).
START_MATCH_MS = 1500
_MARKER = re.compile(r"\[deployer [0-9a-f]{8}\]")
#: The live log's last line on any failure; the status says `error` a moment later.
FAILED_LINE = "Error occurred ❌, check the logs for details."
#: The last line a successful build writes: a compose stack is up (the status says `done` a moment
#: later); an application's image is built or pulled, and its container starts next.
STACK_UP = "Docker Compose Deployed: ✅"
IMAGE_READY = re.compile(r"✅ ((Docker|Nixpacks|Heroku|Paketo|Railpack) build|Pulling image) completed\.$")
#: When a last line arrives: the end is checked this soon (a container start takes about a second
#: more), then densely until END_WINDOW seconds after the line.
END_CHECK_AFTER = 0.1
CONTAINER_START = 1.0
END_WINDOW = 2.5
#: A deployment forecast to end within this many poll intervals is followed without a socket.
SHORT_FORECAST = 2.0
#: Live logs open at once, at most; more deployments are followed by their status alone.
SOCKETS_MAX = 20
#: The first check, this long after the trigger: an idle server starts the job (and writes its row)
#: within a fraction of a second, so one request then usually finds the row at once.
FIRST_CHECK_AFTER = 1.0


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _started_ms(row: dict[str, Any]) -> int | None:
    return _ms(row.get("startedAt") or row.get("createdAt"))


def _ms(stamp: Any) -> int | None:
    """A row's time as epoch milliseconds (the unit of the queue's job times); None when it is none."""
    seconds = epoch(stamp)
    return None if seconds is None else int(seconds * 1000)


#: Dokploy's errors in the user's words (providers.base.translate): first match wins.
ERRORS = (
    ErrorRule(
        401,
        AuthenticationFailed,
        "Dokploy refused the API key while {doing} (401 Unauthorized)",
        said="^Unauthorized$",
        hint="check DOKPLOY_API_KEY; a key created through the API without rateLimitEnabled:false "
        "allows only a few checks a day, so a 401 after earlier successes can mean that",
    ),
    ErrorRule(
        401,
        PermissionDenied,
        "Dokploy denied this while {doing}: {said}",
        hint="give the API key's user access to this resource",
    ),
    ErrorRule(
        403,
        PermissionDenied,
        "Dokploy denied this while {doing}: {said}",
        hint="give the API key's user access to this resource",
    ),
    ErrorRule(400, InputError, "Dokploy rejected the request while {doing}: {said}"),
    ErrorRule(
        415,
        UnexpectedAnswer,
        "Dokploy answered 415 while {doing}",
        hint="a proxy may be rewriting the request's Content-Type",
    ),
    ErrorRule(
        404,
        NotFound,
        "{message}: the API is not at this address",
        silent=True,
        hint="check --url: it should be the dashboard's base URL",
    ),
)


class DokployProvider(Provider):
    """Deploys Dokploy applications and compose stacks."""

    name = "dokploy"
    api_path = "/api"
    errors = ERRORS

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(settings, transport=transport)
        self.marker = f"[deployer {secrets.token_hex(4)}]"
        self.readlogs_supported = True
        self.queue_supported = True
        #: Why the live-log socket could not be used (then no other one is tried), or None.
        self.sockets_refused: str | None = None
        self.sockets: list[LogSocket] = []
        self._candidates: list[Candidate] | None = None
        self._environment_ids: dict[str, str] = {}  # "project/environment" -> its id (project.all)
        self._pages: dict[tuple[str, str], str] = {}
        self._apps: dict[
            str, dict[str, Any]
        ] = {}  # application.one, read before a change  # (kind, id) -> its dashboard page's path

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"x-api-key": token}

    def description(self) -> str:
        """The user's description with our marker, so our row can be told from another deploy's."""
        given = self.settings.description
        return f"{given} {self.marker}" if given else self.marker

    def call(
        self,
        method: str,
        procedure: str,
        doing: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        return self.request(method, "/" + procedure, doing, params=params, json_body=body, timeout=timeout)

    # -- one deployment, for `deployer status` and `deployer cancel` -------------------------------

    def deployment(self, deployment_id: str) -> Deployment:
        """A deployment as Dokploy shows it now. Dokploy has no query for one deployment: it is
        looked for among the given applications and compose stacks, else among every one the key sees."""
        places = [("application", i) for i in self.settings.application_ids] + [
            ("compose", i) for i in self.settings.compose_ids
        ]
        if not places:
            places = [(c.kind, c.id) for c in self.candidates()]
        for kind, resource in places:
            for row in self.rows(kind, resource):
                if str(row.get("deploymentId")) == deployment_id:
                    d = Deployment(self.name, resource=resource, kind=kind, deployment_id=deployment_id)
                    follower = DokployFollower(self, d, before=set())
                    follower.read_status(row)
                    d.name = self._name_of(kind, resource)  # the application's name, never the row's title
                    d.duration = seconds_from_to(d.started_at, d.finished_at)
                    return d
        raise NotFound(
            f"Dokploy has no deployment {deployment_id} among {len(places)} application(s) and compose stack(s) "
            "visible to this key",
            hint="Dokploy keeps only the last ~10 deployments of each; "
            "pass --application-id or --compose-id to look in one place",
        )

    def _name_of(self, kind: str, resource: str) -> str | None:
        """An application's or stack's name (from the names already listed, else `.one`)."""
        known = next((c.name for c in self._candidates or [] if c.id == resource), None)
        if known:
            return known
        id_field, _, _, one = _KINDS[kind]
        try:
            found = self.call("GET", one, f"reading {kind} {resource}", params={id_field: resource})
        except DeployerError:
            return None
        return str(found.get("name") or "") or None if isinstance(found, dict) else None

    def cancel_deployment(self, deployment_id: str) -> str:
        """Self-hosted Dokploy cannot cancel one deployment: say so rather than kill every build."""
        raise ServerError(
            f"self-hosted Dokploy cannot cancel deployment {deployment_id}: cancelling is a Dokploy Cloud feature "
            "(application.killBuild would stop every build on the server, so deployer never calls it)"
        )

    def target_field(self, found: Candidate) -> str:
        return "compose_ids" if found.kind == "compose" else "application_ids"

    def find(self, wanted: ResourceName) -> Candidate:
        """The application or compose stack a name means, among what the key's user can see."""
        return pick(wanted, self.candidates(), tuple(_KINDS))

    def candidates(self) -> list[Candidate]:
        """Every application and compose stack, scoped "project/environment" (one `project.all`)."""
        if self._candidates is None:
            projects = self.call("GET", "project.all", "listing projects to look names up")
            found: list[Candidate] = []
            for project in projects if isinstance(projects, list) else []:
                if not isinstance(project, dict):
                    continue
                # Servers before environments existed hold the resources on the project itself.
                for environment in project.get("environments") or [dict(project, name="")]:
                    if not isinstance(environment, dict):
                        continue
                    scope = f"{project.get('name')}/{environment.get('name')}".rstrip("/")
                    if environment.get("environmentId"):
                        self._environment_ids[scope] = str(environment["environmentId"])
                    for field_name, kind, id_field in (
                        ("applications", "application", "applicationId"),
                        ("compose", "compose", "composeId"),
                    ):
                        for item in environment.get(field_name) or []:
                            if isinstance(item, dict) and item.get(id_field):
                                found.append(Candidate(kind, str(item.get("name") or ""), str(item[id_field]), scope))
                                self._note_page(kind, str(item[id_field]), project.get("projectId"), environment)
            self._candidates = found
        return self._candidates

    def _note_page(self, kind: str, resource: str, project_id: Any, environment: dict[str, Any]) -> None:
        """A resource's dashboard page, from its project's and environment's ids (`project.all`
        lists them; `application.one` and `compose.one` join them in)."""
        environment_id = environment.get("environmentId")
        if project_id and environment_id:
            self._pages[(kind, resource)] = (
                f"/dashboard/project/{project_id}/environment/{environment_id}/services/{kind}/{resource}"
            )

    def dashboard_url(self, kind: str, resource: str) -> str | None:
        """The application's or stack's dashboard page (Dokploy has none per deployment), from what
        `application.one` said, else `project.all`; None where it cannot be read."""
        path = self._pages.get((kind, resource))
        if path:
            return self.settings.url + path
        try:
            self.candidates()
        except DeployerError:
            return None
        path = self._pages.get((kind, resource))
        return self.settings.url + path if path else None

    def rows(self, kind: str, resource: str, timeout: float | None = None) -> list[dict[str, Any]]:
        id_field, _, query, _ = _KINDS[kind]
        answer = self.call(
            "GET", query, f"reading the {kind}'s deployments", params={id_field: resource}, timeout=timeout
        )
        if not isinstance(answer, list):
            raise UnexpectedAnswer(f"GET {self.api.url('/' + query)} answered something that is not a list")
        return [row for row in answer if isinstance(row, dict)]

    def queued_jobs(self, kind: str, resource: str, timeout: float | None = None) -> list[dict[str, Any]] | None:
        """Our resource's jobs in Dokploy's queue; None where the server is too old to list it."""
        if not self.queue_supported:
            return None
        try:
            answer = self.api.request("GET", "/deployment.queueList", timeout=timeout)
        except HTTPStatusError as exc:
            if exc.status == 404:
                self.queue_supported = False
                return None
            raise self.translated(exc, "reading the deployment queue") from None
        id_field = _KINDS[kind][0]
        jobs = answer if isinstance(answer, list) else []
        return [
            j
            for j in jobs
            if isinstance(j, dict) and isinstance(j.get("data"), dict) and j["data"].get(id_field) == resource
        ]

    def live_log(self, row: dict[str, Any], follower: DokployFollower) -> None:
        """Stream the row's log to `follower` over Dokploy's socket, where one can be used."""
        log_path = row.get("logPath")
        open_now = sum(1 for s in self.sockets if not s.ended.is_set())
        if not isinstance(log_path, str) or not log_path or self.sockets_refused or open_now >= SOCKETS_MAX:
            return
        query = {"logPath": log_path}
        if isinstance(row.get("serverId"), str) and row["serverId"]:
            query["serverId"] = row["serverId"]
        base = self.settings.url.rstrip("/")
        url = "ws" + base[len("http") :] + "/listen-deployment?" + urlencode(query)
        socket = LogSocket(
            url,
            self.auth_headers(self.settings.token),
            verify=self.settings.verify,
            on_lines=follower.pushed_lines,
            on_end=follower.socket_ended,
            open_timeout=min(10.0, self.settings.request_timeout),
        )
        follower.socket, follower.live = socket, True
        self.sockets.append(socket)
        socket.start()

    def read_log(self, deployment_id: str, tail: int, timeout: float | None = None) -> list[str] | None:
        """The last `tail` lines of a deployment's log; None where the server has no readLogs."""
        if not self.readlogs_supported:
            return None
        try:
            answer = self.api.request(
                "GET", "/deployment.readLogs", params={"deploymentId": deployment_id, "tail": tail}, timeout=timeout
            )
        except HTTPStatusError as exc:
            if exc.status == 404 and not exc.server_message.endswith("not found"):
                self.readlogs_supported = False
                return None
            raise self.translated(exc, "reading the build log") from None
        return str(answer or "").splitlines()

    def trigger(self, retry: TriggerRetry) -> list[Follower]:
        """One deploy call per resource. Once one has gone out, a failure of a later one is that
        resource's (reported in its entry) and never costs the report of those already started."""
        targets = [("application", i) for i in self.settings.application_ids] + [
            ("compose", i) for i in self.settings.compose_ids
        ]
        followers: list[Follower] = []
        for kind, resource in targets:
            try:
                followers.append(self._trigger_one(kind, resource, retry))
            except ServerError as exc:
                if not followers:
                    raise
                record = Deployment(
                    provider=self.name,
                    resource=resource,
                    kind=kind,
                    status=Status.FAILED,
                    server_problem=True,
                    message=str(lost_trigger(exc)),
                )
                followers.append(DokployFollower(self, record, before=set()))
        return followers

    def _trigger_one(self, kind: str, resource: str, retry: TriggerRetry) -> DokployFollower:
        record = Deployment(provider=self.name, resource=resource, kind=kind)
        id_field, procedure, _, one = _KINDS[kind]
        try:
            # Its name for the log (never its status: that is the previous deploy's until the job starts).
            found = self.call("GET", one, f"reading {kind} {resource}", params={id_field: resource})
            record.name = str(found.get("name") or "") or None if isinstance(found, dict) else None
            where = found.get("environment") if isinstance(found, dict) else None
            if isinstance(where, dict):
                self._note_page(kind, resource, where.get("projectId"), where)
            earlier = self.rows(kind, resource)
            before = {str(r.get("deploymentId")) for r in earlier}
            body = {id_field: resource, "title": self.settings.title or "deployer", "description": self.description()}
            answer = retry.run(lambda: self.call("POST", procedure, f"deploying {kind} {resource}", body=body))
        except HTTPStatusError as exc:
            if exc.status != 404:
                raise
            record.status, record.server_problem = Status.FAILED, True
            record.message = f"Dokploy has no {kind} {resource}: {exc.server_message}"
            return DokployFollower(self, record, before=set())
        record.message = (
            str(answer.get("message")) if isinstance(answer, dict) and answer.get("message") else "Deployment queued"
        )
        follower = DokployFollower(self, record, before=before)
        follower.forecast(earlier)
        return follower

    # -- changes before the deploy (--image-tag, --env) ------------------------------------------

    def plan_changes(self) -> list[Change]:
        """Read each application (`application.one`): --image-tag needs a Docker-image one (saving a
        Docker provider on a git application would turn it into one)."""
        s = self.settings
        if s.compose_ids:
            raise InputError("--image-tag and --env apply to Dokploy applications, not compose stacks")
        changes: list[Change] = []
        for app_id in s.application_ids:
            app = self.call(
                "GET", "application.one", "reading the application to change", params={"applicationId": app_id}
            )
            if not isinstance(app, dict):
                raise UnexpectedAnswer("application.one answered something that is not an object")
            self._apps[app_id] = app
            label = str(app.get("name") or app_id)
            if s.image_tag:
                image = str(app.get("dockerImage") or "")
                if app.get("sourceType") != "docker" or not image:
                    raise InputError(
                        f"--image-tag: {label} is not a Docker-image application (its source is "
                        f"{app.get('sourceType') or 'unknown'}); deploy it without --image-tag"
                    )
                changes.append(
                    Change(
                        app_id,
                        label,
                        "image",
                        image,
                        with_tag(image, s.image_tag),
                        version=True,
                        old_version=tag_of(image),
                        new_version=s.image_tag,
                    )
                )
            present = _env_keys(str(app.get("env") or ""))
            changes += [
                Change(app_id, label, f"variable {key}", "set" if key in present else None, value, secret=True)
                for key, value in s.env_vars
            ]
        return changes

    def apply_changes(self, changes: list[Change]) -> None:
        """Per application: `saveDockerProvider` with the new image (its registry login unchanged),
        `saveEnvironment` with the variables replaced or added (every other line kept)."""
        done: list[Change] = []
        for app_id in dict.fromkeys(c.resource for c in changes):
            mine = [c for c in changes if c.resource == app_id]
            app = self._apps[app_id]
            try:
                for change in mine:
                    if change.version:
                        self._save_image(app_id, change.new)
                        done.append(change)
                variables = [(c.setting.removeprefix("variable "), c.new) for c in mine if c.secret]
                if variables:
                    self.api.request(
                        "POST",
                        "/application.saveEnvironment",
                        json_body={
                            "applicationId": app_id,
                            "env": with_variables(str(app.get("env") or ""), variables),
                            "buildArgs": app.get("buildArgs"),
                            "buildSecrets": app.get("buildSecrets"),
                            "createEnvFile": bool(app.get("createEnvFile", True)),
                        },
                    )
                    done += [c for c in mine if c.secret]
            except HTTPStatusError as exc:
                raise self.refused(exc, mine[0].label, done) from None

    def _save_image(self, app_id: str, image: str) -> None:
        app = self._apps[app_id]
        self.api.request(
            "POST",
            "/application.saveDockerProvider",
            json_body={
                "applicationId": app_id,
                "dockerImage": image,
                "username": app.get("username"),
                "password": app.get("password"),
                "registryUrl": app.get("registryUrl"),
            },
        )

    def restore(self, changes: list[Change]) -> None:
        for change in changes:
            if change.version and change.old:
                try:
                    self._save_image(change.resource, change.old)
                except HTTPStatusError as exc:
                    raise self.refused(exc, change.label, []) from None

    # -- a stack from a compose file (--compose-file) ---------------------------------------------

    def ensure_stack(self, compose: ComposeFile, *, apply: bool) -> StackChange:
        """The compose stack by --compose-id, or by name in its project and environment (created
        there from the file when missing); its compose file updated when it differs."""
        if self.settings.compose_ids:
            compose_id, name = self.settings.compose_ids[0], self.settings.compose_ids[0]
        else:
            wanted = self.settings.names[0]
            name = wanted.name
            scope = f"{wanted.project}/{wanted.environment}"
            found = [c for c in self.candidates() if c.kind == "compose" and c.name == name and c.scope == scope]
            if not found:
                return self._create_stack(compose, wanted, apply=apply)
            compose_id = found[0].id
        one = self.call("GET", "compose.one", "reading the stack's compose file", params={"composeId": compose_id})
        held = one.get("composeFile") if isinstance(one, dict) else None
        name = str(one.get("name") or name) if isinstance(one, dict) else name
        if isinstance(held, str) and held.strip() == compose.text.strip() and one.get("sourceType") == "raw":
            return StackChange(name, "unchanged", compose_id)
        change = StackChange(name, "update", compose_id, compose_diff(str(held or ""), compose.text, name))
        if apply:
            body = {"composeId": compose_id, "composeFile": compose.text, "sourceType": "raw"}
            self._stack_call("compose.update", body, name)
        return change

    def _create_stack(self, compose: ComposeFile, wanted: ResourceName, *, apply: bool) -> StackChange:
        scope = f"{wanted.project}/{wanted.environment}"
        environment_id = self._environment_ids.get(scope)
        if environment_id is None:
            known = ", ".join(sorted(self._environment_ids)) or "none visible to this key"
            raise InputError(f"{wanted.where}: Dokploy has no environment {scope!r} to create the stack in ({known})")
        if not apply:
            return StackChange(wanted.name, "create", None, compose.text, scope)
        body = {
            "name": wanted.name,
            "environmentId": environment_id,
            "composeFile": compose.text,
            "sourceType": "raw",
            "composeType": "docker-compose",
        }
        created = self._stack_call("compose.create", body, wanted.name)
        compose_id = created.get("composeId") if isinstance(created, dict) else None
        if not compose_id:
            raise UnexpectedAnswer("compose.create answered without the new stack's composeId")
        return StackChange(wanted.name, "create", str(compose_id), compose.text, scope)

    def _stack_call(self, procedure: str, body: dict[str, Any], name: str) -> Any:
        try:
            return self.api.request("POST", "/" + procedure, json_body=body)
        except HTTPStatusError as exc:
            raise self.refused(exc, f"the stack {name}", []) from None

    def retarget(self, resources: list[str]) -> None:
        applications = [i for i in self.settings.application_ids if i in resources]
        self.settings = replace(
            self.settings,
            application_ids=applications,
            compose_ids=[i for i in resources if i not in applications],  # a stack just created among them
            names=[],
        )


def tag_of(image: str) -> str | None:
    """The tag of an image reference (`registry.local:5000/web:v1` -> `v1`); None when it has none."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None


def with_tag(image: str, tag: str) -> str:
    """The same image with another tag: the registry (and its port) and the name stay, a digest goes."""
    name = image.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    bare = last.split(":", 1)[0]
    return f"{head}/{bare}:{tag}" if head else f"{bare}:{tag}"


def _env_keys(text: str) -> set[str]:
    return {
        line.split("=", 1)[0].strip() for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#")
    }


def with_variables(text: str, variables: list[tuple[str, str]]) -> str:
    """An env file with these keys replaced (at their first line; later duplicates dropped) or
    added at the end; every other line, comments and blank ones included, kept as it was."""
    wanted = dict(variables)
    seen: set[str] = set()
    lines: list[str] = []
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
        if key in wanted:
            if key not in seen:
                lines.append(f"{key}={wanted[key]}")
                seen.add(key)
            continue
        lines.append(line)
    lines += [f"{key}={value}" for key, value in variables if key not in seen]
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


class DokployFollower(Follower):
    """Finds the row our trigger created, then follows it by `deploymentId`.

    Dokploy gives no id, and another deployment of the same application (a webhook, a click, a
    second pipeline) may be queued just before ours: its row then appears first. A row is ours when
    it carries our marker; for git applications, whose title and description Dokploy overwrites
    when the job ends, when it started as our queued job was taken up (its `processedOn`), or by
    the queue's order once our job has left it. An unmarked row is never ours while our job waits,
    and where the rows still cannot be told apart the deployment is `unknown`, not guessed.
    """

    #: Requests one check makes, against the request budget: the rows, then the queue or the log
    #: (or the live log's socket, the first time).
    cost = 2

    def __init__(self, provider: DokployProvider, deployment: Deployment, *, before: set[str]) -> None:
        super().__init__(deployment)
        self.provider = provider
        #: The live log, once our row is known (None: never opened, or it could not be).
        self.socket: LogSocket | None = None
        self.socket_tried = False
        self.seen_status: Status | None = None
        #: Lines the socket pushed and the loop has not taken yet; the socket's remarks likewise.
        self._pushed: list[str] = []
        self._socket_notices: list[str] = []
        self._lock = threading.Lock()
        self.last_line_seen = threading.Event()
        self.first_check_after = FIRST_CHECK_AFTER
        #: Its history says it ends within two poll intervals: followed by its status alone.
        self.short = False
        self.before = before
        self.unseen_checks = 0
        self.printed = 0
        self.last_lines: list[str] = []
        #: Our job as last seen in the queue: when it was queued and taken up (server ms), or None.
        self.queued_ms: int | None = None
        self.processed_ms: int | None = None
        #: Jobs of this resource queued ahead of ours and still waiting when ours was last seen.
        self.ahead_waiting = 0
        #: When the jobs ahead of ours that were already running then were taken up (server ms).
        self.ahead_started: list[int] = []
        #: Rows that are not ours: they existed while our job was still waiting.
        self.others: set[str] = set()

    def forecast(self, earlier: list[dict[str, Any]]) -> None:
        """When this deployment should end, from how long the last successful ones took. A short one
        is not worth a socket: its first check comes where it should end, then closely."""
        took = [
            (end - start) / 1000
            for r in earlier
            if r.get("status") == "done" and (start := _ms(r.get("startedAt"))) and (end := _ms(r.get("finishedAt")))
        ]
        if not took:
            return
        now, longest = time.monotonic(), max(took)
        self.expected_end = (now + longest + END_CHECK_AFTER, now + longest + END_WINDOW)
        self.short = longest + END_WINDOW <= SHORT_FORECAST * self.provider.settings.poll_interval
        if self.short:
            self.first_check_after = longest + END_CHECK_AFTER

    def check(self, *, want_logs: bool, timeout: float) -> list[str]:
        d = self.deployment
        left = TimeLeft(timeout)
        rows = self.provider.rows(d.kind, d.resource, timeout=left())
        if d.deployment_id is None:
            row = self._find_ours(rows, left())
            if row is None:
                return []
            d.deployment_id = str(row["deploymentId"])
        else:
            row = next((r for r in rows if str(r.get("deploymentId")) == d.deployment_id), None)
            if row is None:
                d.status, d.server_problem = Status.FAILED, True
                d.message = (
                    f"deployment {d.deployment_id} is no longer listed: Dokploy keeps only the last ~10 "
                    "deployments, so its outcome is unknown; see the dashboard"
                )
                return []
        self.read_status(row)
        if not self.socket_tried and not d.ended and not self.short:
            self.socket_tried = True
            self.provider.live_log(row, self)
        lines = self._read_log(want_logs, left())
        with self._lock:
            self.notices += self._socket_notices
            self._socket_notices.clear()
        if d.ended:
            self.close()
            if not d.url:  # neither the queued job nor application.one gave a link: the project list does
                d.url = self.provider.dashboard_url(d.kind, d.resource)
        # From now on: the rows alone, unless the log is read at the next change of status.
        self.cost = 1 if self._socket_serves() or not want_logs else 2
        return lines

    # -- the live log ----------------------------------------------------------------------------

    def pushed_lines(self, lines: list[str]) -> None:
        """The socket's thread hands over lines; a last line brings the check that confirms the end."""
        with self._lock:
            self._pushed += lines
            if len(self._pushed) > LOG_TAIL_MAX:  # a flood between two turns of the loop: keep the newest
                del self._pushed[: len(self._pushed) - LOG_TAIL_MAX]
            self.printed += len(lines)
            self.last_lines = (self.last_lines + lines)[-3:]
        last = lines[-3:]
        if any(line in (FAILED_LINE, STACK_UP) or IMAGE_READY.search(line) for line in last):
            now = time.monotonic()
            after = CONTAINER_START if any(IMAGE_READY.search(line) for line in last) else END_CHECK_AFTER
            self.live = False  # the log has nothing more to say: the status is checked as usual
            self.expected_end = (now + after, now + END_WINDOW)
            self.check_by = now + after
            self.last_line_seen.set()
            self.wake()

    def socket_ended(self) -> None:
        """The socket ended: by our close (nothing to do), or the server's (check now, read by status)."""
        socket = self.socket
        if socket is None or socket.closed_by_us:
            return
        self.live = False
        with self._lock:
            if socket.refused is not None:
                if self.provider.sockets_refused is None:
                    self.provider.sockets_refused = socket.refused
                    self._socket_notices.append(
                        f"Dokploy's live log could not be used ({socket.refused}): "
                        "the log is read when the status changes instead"
                    )
            elif socket.dropped:
                self._socket_notices.append(
                    f"{self.deployment.label}: the live log closed before the end: "
                    "the log is read when the status changes instead"
                )
        self.check_by = time.monotonic()
        self.wake()

    def _socket_serves(self) -> bool:
        """The live log gives this deployment's lines (opened, or opening, and neither refused nor dropped)."""
        socket = self.socket
        return socket is not None and socket.refused is None and not socket.dropped

    def pushed(self) -> list[str]:
        with self._lock:
            lines, self._pushed = self._pushed, []
        return lines

    def close(self) -> None:
        if self.socket is not None:
            self.live = False
            self.socket.close()

    def _find_ours(self, rows: list[dict[str, Any]], timeout: float) -> dict[str, Any] | None:
        """Our row among `rows` (newest first), or None while it does not exist yet."""
        marker = self.provider.marker
        new = [r for r in rows if str(r.get("deploymentId")) not in self.before | self.others]
        marked = [r for r in new if marker in str(r.get("description") or "")]
        if marked:
            return marked[-1]
        # A row marked by another deployer run is that run's, whatever else is true.
        new = [r for r in new if not _MARKER.search(str(r.get("description") or ""))]
        job = self._our_job(timeout)
        if job is not None:
            self.unseen_checks = 0
            if self.processed_ms is None:  # still waiting: every row there is now is someone else's
                self.others.update(str(r.get("deploymentId")) for r in new)
                return None
            return self._started_with_our_job(new)
        found = self._after_our_job_left(new)
        if found is not None or self.deployment.ended or not self.provider.queue_supported:
            return found  # a server too old to list its queue: wait for the row until the timeout
        self.unseen_checks += 1
        if self.unseen_checks >= LOST_AFTER_CHECKS:
            d = self.deployment
            d.status = Status.FAILED
            d.message = (
                "the deploy job is neither queued nor running on Dokploy, and no deployment of it was "
                "recorded: it was lost (a server restart drops queued jobs); deploy again"
            )
        return None

    def _our_job(self, timeout: float) -> dict[str, Any] | None:
        """Our job in the queue (the one carrying our marker), noting what it tells; None when absent."""
        d = self.deployment
        jobs = self.provider.queued_jobs(d.kind, d.resource, timeout=timeout)
        if not jobs:
            return None
        marker = self.provider.marker
        ours = next((j for j in jobs if marker in str(j["data"].get("descriptionLog") or "")), None)
        if ours is None:
            return None
        self.queued_ms = _int(ours.get("timestamp"))
        self.processed_ms = _int(ours.get("processedOn"))
        page = ours.get("servicePath")
        href = page.get("href") if isinstance(page, dict) else None
        if isinstance(href, str) and href.startswith("/") and not d.url:
            d.url = self.provider.settings.url + href
        if self.queued_ms is not None:
            ahead = [j for j in jobs if j is not ours and (_int(j.get("timestamp")) or 0) < self.queued_ms]
            self.ahead_waiting = sum(1 for j in ahead if _int(j.get("processedOn")) is None)
            self.ahead_started = [ms for j in ahead if (ms := _int(j.get("processedOn"))) is not None]
        return ours

    def _started_with_our_job(self, new: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The row that started when our job was taken up (within a second; a fraction on a real server)."""
        if self.processed_ms is None:
            return None
        close = [
            (abs(started - self.processed_ms), r)
            for r in new
            if (started := _started_ms(r)) is not None and abs(started - self.processed_ms) <= START_MATCH_MS
        ]
        return min(close, key=lambda pair: pair[0])[1] if close else None

    def _after_our_job_left(self, new: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Our job is no longer queued: its row is the one that started with it, else the one the
        queue's order gives it, else (never seen queued) the only new row. Several: `unknown`."""
        by_start = self._started_with_our_job(new)
        if by_start is not None:
            return by_start
        if self.queued_ms is not None:
            since = [
                r
                for r in new
                if (started := _started_ms(r)) is not None
                and started >= self.queued_ms - START_MATCH_MS
                and not any(abs(started - ahead) <= START_MATCH_MS for ahead in self.ahead_started)
            ]
            ordered = sorted(since, key=lambda r: _started_ms(r) or 0)
            # One application's jobs run one at a time, first in first out: those still waiting ahead
            # of ours when we last saw it ran first; those queued after it run after.
            if len(ordered) > self.ahead_waiting:
                return ordered[self.ahead_waiting]
            return None
        if len(new) == 1:
            return new[0]
        if len(new) > 1:
            d = self.deployment
            ids = ", ".join(f"{r.get('deploymentId')} ({r.get('status')}, started {r.get('startedAt')})" for r in new)
            d.status = Status.UNKNOWN
            d.message = (
                f"{len(new)} deployments of this {d.kind} started since the trigger and none carries our marker, "
                f"so which one is ours cannot be told: {ids}; see the dashboard"
            )
        return None

    def read_status(self, row: dict[str, Any]) -> None:
        """Take in what the row says: status, times, and the message that goes with the status."""
        d = self.deployment
        d.started_at = iso_utc(row.get("startedAt") or row.get("createdAt")) or d.started_at
        d.finished_at = iso_utc(row.get("finishedAt")) or d.finished_at
        raw = str(row.get("status") or "")
        if raw in _STATUS:
            d.status = _STATUS[raw]
        elif raw:
            self.notices.append(f"{d.label}: Dokploy reports an unknown status {raw!r}; still waiting")
        if d.status == Status.CANCELLED:
            d.message = "Dokploy marked the deployment cancelled (a server restart cancels running deployments)"
        elif d.status == Status.FAILED:
            d.message = str(row.get("errorMessage") or "the build failed; its log says why")
        elif d.status == Status.FINISHED:
            d.message = "deployed"

    def _read_log(self, want_logs: bool, timeout: float) -> list[str]:
        """The log by request, only where the socket does not give it: at each change of status (the
        whole log with --logs stream; the last lines of a failure otherwise), or at the end when the
        socket missed the last line."""
        d = self.deployment
        changed, self.seen_status = d.status != self.seen_status, d.status
        stream = self.provider.settings.logs == "stream"
        if not want_logs or not (stream or d.status in (Status.FAILED, Status.CANCELLED)):
            return []
        if self._socket_serves():
            # The socket gives the log; at the end it has almost always given the last line already.
            if not d.ended or self.last_line_seen.wait(min(1.0, timeout)):
                return []
        elif not changed:
            return []
        try:
            lines = self.provider.read_log(
                d.deployment_id or "", LOG_TAIL_MAX if stream else FAILURE_TAIL, timeout=timeout
            )
        except DeployerError as exc:  # the status is what matters; a missing log line is not
            self.notices.append(f"{d.label}: could not read the build log: {exc}")
            return []
        if lines is None:
            self.notices.append(
                "this Dokploy has no deployment.readLogs (v0.29.5 and newer have it): build logs are not shown"
            )
            return []
        return self._new_lines(lines, whole=stream and len(lines) < LOG_TAIL_MAX)

    def _new_lines(self, lines: list[str], *, whole: bool) -> list[str]:
        """Only what was not printed yet (by a read or the socket, whose thread may still be handing
        lines over). A tail shorter than the cap is the whole log; a capped tail is aligned on the
        last lines printed."""
        with self._lock:
            if whole:
                fresh = lines[self.printed :]
            else:
                anchor = self.last_lines
                at = 0
                if anchor:
                    at = next(
                        (
                            i + len(anchor)
                            for i in range(len(lines) - len(anchor), -1, -1)
                            if lines[i : i + len(anchor)] == anchor
                        ),
                        0,
                    )
                fresh = lines[at:]
            self.printed += len(fresh)
            self.last_lines = (self.last_lines + fresh)[-3:]
        return fresh

    def confirm_started(self, timeout: float) -> None:
        pass  # no id until the row exists: none is claimed

    def cancel(self, timeout: float) -> str:
        return (
            "Dokploy cannot cancel a deployment on a self-hosted server (cancelDeployment is cloud-only, "
            "and killBuild would kill every build on the server): it keeps running"
        )
