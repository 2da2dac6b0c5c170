"""Dokploy: trigger `application.deploy` / `compose.deploy` and find and follow the deployment it
started, per ../shared/API-NOTES.md.

Dokploy returns no deployment id, and its deployment row appears only when the queued job starts,
so each follower notes the rows that existed before the trigger, waits (the job is visible in
`deployment.queueList` meanwhile), recognises the new row by the marker deployer put in its
description, and then follows that row by `deploymentId`. `applicationStatus` is never read: it
shows the previous deploy's result until the job starts.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from deployer.errors import (
    AuthenticationFailed,
    DeployerError,
    HTTPStatusError,
    InputError,
    NotFound,
    PermissionDenied,
    ServerError,
    UnexpectedAnswer,
)
from deployer.http import ApiClient
from deployer.models import (
    CANCELLED,
    FAILED,
    FINISHED,
    IN_PROGRESS,
    Deployment,
    ResourceName,
    TimeLeft,
)
from deployer.names import Candidate, pick
from deployer.retry import TriggerRetry
from deployer.settings import Settings

_STATUS = {"running": IN_PROGRESS, "done": FINISHED, "error": FAILED, "cancelled": CANCELLED}
_KINDS = {
    # kind: (id field, deploy procedure, rows query, the resource's own query)
    "application": ("applicationId", "application.deploy", "deployment.all", "application.one"),
    "compose": ("composeId", "compose.deploy", "deployment.allByCompose", "compose.one"),
}
LOG_TAIL_MAX = 10000
FAILURE_TAIL = 50
#: Checks in a row that see neither our queued job nor our row before the job counts as lost.
LOST_AFTER_CHECKS = 6


def _error(exc: HTTPStatusError, doing: str) -> DeployerError:
    said = exc.server_message or f"HTTP {exc.status}"
    if exc.status == 401 and said == "Unauthorized":
        return AuthenticationFailed(
            f"Dokploy refused the API key while {doing} (401 Unauthorized)",
            hint="check DOKPLOY_API_KEY; a key created through the API without rateLimitEnabled:false "
                 "allows only a few checks a day, so a 401 after earlier successes can mean that",
        )
    if exc.status in (401, 403):
        return PermissionDenied(f"Dokploy denied this while {doing}: {said}", hint="give the API key's user access to this resource")
    if exc.status == 400:
        return InputError(f"Dokploy rejected the request while {doing}: {said}")
    if exc.status == 415:
        return UnexpectedAnswer(f"Dokploy answered 415 while {doing}", hint="a proxy may be rewriting the request's Content-Type")
    if exc.status == 404 and not exc.server_message:
        return NotFound(f"{exc.message}: the API is not at this address", hint="check --url: it should be the dashboard's base URL")
    return exc


class DokployProvider:
    """Deploys Dokploy applications and compose stacks."""

    name = "dokploy"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.api = ApiClient(
            settings.url + "/api",
            {"x-api-key": settings.token},
            verify=settings.verify,
            timeout=settings.request_timeout,
        )
        self.marker = f"[deployer {secrets.token_hex(4)}]"
        self.readlogs_supported = True
        self.queue_supported = True
        self._candidates: list[Candidate] | None = None

    def close(self) -> None:
        self.api.close()

    def description(self) -> str:
        """The user's description with our marker, so our row can be told from another deploy's."""
        given = self.settings.description
        return f"{given} {self.marker}" if given else self.marker

    def call(self, method: str, procedure: str, doing: str, *, params: dict[str, Any] | None = None,
             body: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        try:
            return self.api.request(method, "/" + procedure, params=params, json_body=body, timeout=timeout)
        except HTTPStatusError as exc:
            raise _error(exc, doing) from None

    # -- one deployment, for `deployer status` and `deployer cancel` -------------------------------

    def deployment(self, deployment_id: str) -> Deployment:
        """A deployment as Dokploy shows it now. Dokploy has no query for one deployment: it is
        looked for among the given applications and compose stacks, else among every one the key sees."""
        places = [("application", i) for i in self.settings.application_ids] + [("compose", i) for i in self.settings.compose_ids]
        if not places:
            places = [(c.kind, c.id) for c in self.candidates()]
        for kind, resource in places:
            for row in self.rows(kind, resource):
                if str(row.get("deploymentId")) == deployment_id:
                    d = Deployment(self.name, resource=resource, kind=kind, deployment_id=deployment_id)
                    follower = DokployFollower(self, d, before=set())
                    follower._read_row(row, want_logs=False, timeout=self.settings.request_timeout)
                    d.name = d.name or str(row.get("title") or "") or None
                    d.started_at, d.finished_at = row.get("startedAt") or row.get("createdAt"), row.get("finishedAt")
                    return d
        raise NotFound(f"Dokploy has no deployment {deployment_id} among {len(places)} application(s) and compose stack(s) "
                       "visible to this key", hint="Dokploy keeps only the last ~10 deployments of each; pass --application-id or --compose-id to look in one place")

    def cancel_deployment(self, deployment_id: str) -> str:
        """Self-hosted Dokploy cannot cancel one deployment: say so rather than kill every build."""
        raise ServerError(f"self-hosted Dokploy cannot cancel deployment {deployment_id}: cancelling is a Dokploy Cloud feature "
                          "(application.killBuild would stop every build on the server, so deployer never calls it)")

    def resolve_names(self) -> None:
        """Look each name up among applications and compose stacks (`project.all`), and deploy it by id."""
        ids = {"application": list(self.settings.application_ids), "compose": list(self.settings.compose_ids)}
        for wanted in self.settings.names:
            found = self.find(wanted)
            if found.id not in ids[found.kind]:
                ids[found.kind].append(found.id)
        self.settings = replace(self.settings, application_ids=ids["application"], compose_ids=ids["compose"], names=[])

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
                    for field_name, kind, id_field in (("applications", "application", "applicationId"), ("compose", "compose", "composeId")):
                        for item in environment.get(field_name) or []:
                            if isinstance(item, dict) and item.get(id_field):
                                found.append(Candidate(kind, str(item.get("name") or ""), str(item[id_field]), scope))
            self._candidates = found
        return self._candidates

    def rows(self, kind: str, resource: str, timeout: float | None = None) -> list[dict[str, Any]]:
        id_field, _, query, _ = _KINDS[kind]
        answer = self.call("GET", query, f"reading the {kind}'s deployments", params={id_field: resource}, timeout=timeout)
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
            raise _error(exc, "reading the deployment queue") from None
        id_field = _KINDS[kind][0]
        jobs = answer if isinstance(answer, list) else []
        return [j for j in jobs if isinstance(j, dict) and isinstance(j.get("data"), dict) and j["data"].get(id_field) == resource]

    def read_log(self, deployment_id: str, tail: int, timeout: float | None = None) -> list[str] | None:
        """The last `tail` lines of a deployment's log; None where the server has no readLogs."""
        if not self.readlogs_supported:
            return None
        try:
            answer = self.api.request("GET", "/deployment.readLogs", params={"deploymentId": deployment_id, "tail": tail}, timeout=timeout)
        except HTTPStatusError as exc:
            if exc.status == 404 and not exc.server_message.endswith("not found"):
                self.readlogs_supported = False
                return None
            raise _error(exc, "reading the build log") from None
        return str(answer or "").splitlines()

    def trigger(self, retry: TriggerRetry) -> list["DokployFollower"]:
        targets = [("application", i) for i in self.settings.application_ids] + [("compose", i) for i in self.settings.compose_ids]
        return [self._trigger_one(kind, resource, retry) for kind, resource in targets]

    def _trigger_one(self, kind: str, resource: str, retry: TriggerRetry) -> "DokployFollower":
        record = Deployment(provider=self.name, resource=resource, kind=kind)
        id_field, procedure, _, one = _KINDS[kind]
        try:
            # Its name for the log (never its status: that is the previous deploy's until the job starts).
            found = self.call("GET", one, f"reading {kind} {resource}", params={id_field: resource})
            record.name = str(found.get("name") or "") or None if isinstance(found, dict) else None
            before = {str(r.get("deploymentId")) for r in self.rows(kind, resource)}
            body = {id_field: resource, "title": self.settings.title or "deployer", "description": self.description()}
            answer = retry.run(lambda: self.call("POST", procedure, f"deploying {kind} {resource}", body=body))
        except HTTPStatusError as exc:
            if exc.status != 404:
                raise
            record.status, record.server_problem = FAILED, True
            record.message = f"Dokploy has no {kind} {resource}: {exc.server_message}"
            return DokployFollower(self, record, before=set())
        record.message = str(answer.get("message")) if isinstance(answer, dict) and answer.get("message") else "Deployment queued"
        return DokployFollower(self, record, before=before)


class DokployFollower:
    """Finds the row our trigger created, then follows it by `deploymentId`."""

    #: Requests one check makes, against the request budget: the rows, then the queue or the log.
    cost = 2

    def __init__(self, provider: DokployProvider, deployment: Deployment, *, before: set[str]) -> None:
        self.provider = provider
        self.deployment = deployment
        self.before = before
        self.notices: list[str] = []
        self.unseen_checks = 0
        self.printed = 0
        self.last_lines: list[str] = []
        self.seen_in_queue = False

    def check(self, *, want_logs: bool, timeout: float) -> list[str]:
        d = self.deployment
        left = TimeLeft(timeout)
        rows = self.provider.rows(d.kind, d.resource, timeout=left())
        if d.deployment_id is None:
            row = self._find_ours(rows)
            if row is None:
                self._wait_in_queue(left())
                return []
            d.deployment_id = str(row["deploymentId"])
        else:
            row = next((r for r in rows if str(r.get("deploymentId")) == d.deployment_id), None)
            if row is None:
                d.status, d.server_problem = FAILED, True
                d.message = (f"deployment {d.deployment_id} is no longer listed: Dokploy keeps only the last ~10 "
                             "deployments, so its outcome is unknown; see the dashboard")
                return []
        return self._read_row(row, want_logs, left())

    def _find_ours(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        new = [r for r in rows if str(r.get("deploymentId")) not in self.before]
        if not new:
            return None
        marked = [r for r in new if self.provider.marker in str(r.get("description") or "")]
        if marked:
            return marked[-1]
        if self.seen_in_queue or len(new) == 1:
            # Our description can be overwritten once a git deploy ends: the oldest new row is ours.
            return new[-1]
        return None

    def _wait_in_queue(self, timeout: float) -> None:
        d = self.deployment
        jobs = self.provider.queued_jobs(d.kind, d.resource, timeout=timeout)
        if jobs is None:
            return  # too old to list the queue: keep waiting for the row until the timeout
        mine = [j for j in jobs if self.provider.marker in str(j["data"].get("descriptionLog") or "")] or jobs
        if mine:
            self.seen_in_queue = True
            self.unseen_checks = 0
            return
        self.unseen_checks += 1
        if self.unseen_checks >= LOST_AFTER_CHECKS:
            d.status, d.server_problem = FAILED, True
            d.message = ("the deploy job is neither queued nor running on Dokploy: it was lost "
                         "(a server restart drops queued jobs); deploy again")

    def _read_row(self, row: dict[str, Any], want_logs: bool, timeout: float) -> list[str]:
        d = self.deployment
        raw = str(row.get("status") or "")
        if raw in _STATUS:
            d.status = _STATUS[raw]
        elif raw:
            self.notices.append(f"{d.label}: Dokploy reports an unknown status {raw!r}; still waiting")
        if d.status == CANCELLED:
            d.message = "Dokploy marked the deployment cancelled (a server restart cancels running deployments)"
        elif d.status == FAILED:
            d.message = str(row.get("errorMessage") or "the build failed; its log says why")
        elif d.status == FINISHED:
            d.message = "deployed"
        stream = self.provider.settings.logs == "stream"
        if not want_logs or not (stream or d.status in (FAILED, CANCELLED)):
            return []
        try:
            lines = self.provider.read_log(d.deployment_id or "", LOG_TAIL_MAX if stream else FAILURE_TAIL, timeout=timeout)
        except DeployerError as exc:  # the status is what matters; a missing log line is not
            self.notices.append(f"{d.label}: could not read the build log: {exc}")
            return []
        if lines is None:
            self.notices.append("this Dokploy has no deployment.readLogs (v0.29.5 and newer have it): build logs are not shown")
            return []
        return self._new_lines(lines, whole=stream and len(lines) < LOG_TAIL_MAX)

    def _new_lines(self, lines: list[str], *, whole: bool) -> list[str]:
        """Only what was not printed yet. A tail shorter than the cap is the whole log; a capped
        tail is aligned on the last lines printed."""
        if whole:
            fresh = lines[self.printed:]
        else:
            anchor = self.last_lines
            at = 0
            if anchor:
                at = next((i + len(anchor) for i in range(len(lines) - len(anchor), -1, -1)
                           if lines[i:i + len(anchor)] == anchor), 0)
            fresh = lines[at:]
        self.printed += len(fresh)
        self.last_lines = (self.last_lines + fresh)[-3:]
        return fresh

    def cancel(self) -> str:
        return ("Dokploy cannot cancel a deployment on a self-hosted server (cancelDeployment is cloud-only, "
                "and killBuild would kill every build on the server): it keeps running")

