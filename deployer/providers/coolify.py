"""Coolify: trigger `POST /api/v1/deploy` and follow what it started, per ../shared/API-NOTES.md.

Applications are followed by their deployment (`/deployments/{uuid}`); services and databases have
no deployment record, so they are followed through their resource `status`.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from deployer.config.compose_file import parsed
from deployer.errors import (
    AnswerTooLarge,
    AuthenticationFailed,
    DeployerError,
    DomainConflict,
    HTTPStatusError,
    InputError,
    NotFound,
    PermissionDenied,
    ServerError,
    UnexpectedAnswer,
)
from deployer.http import TimeLeft
from deployer.model import (
    Change,
    Deployment,
    ResourceName,
    StackChange,
    Status,
    epoch,
    iso_utc,
    seconds_between,
    seconds_from_to,
)
from deployer.providers.base import (
    CheckResult,
    EndedFollower,
    ErrorRule,
    Follower,
    Probe,
    Prober,
    Provider,
    compose_diff,
)
from deployer.providers.names import Candidate, pick
from deployer.retry import TriggerRetry

if TYPE_CHECKING:
    import httpx

    from deployer.config.compose_file import ComposeFile
    from deployer.config.settings import Settings

PHANTOM = "Deployment already queued for this commit."
_STATUS = {
    "queued": Status.QUEUED,
    "in_progress": Status.IN_PROGRESS,
    "finished": Status.FINISHED,
    "failed": Status.FAILED,
    "cancelled-by-user": Status.CANCELLED,
}
_SERVICE_STARTED = re.compile(r"^Service (?P<name>.+?) started\b")
_DATABASE_STARTED = re.compile(r"^Database (?P<name>.+?) started\b")
_APP_QUEUED = re.compile(r"^Application (?P<name>.+?) deployment queued\.")

#: The closing stages of a deployment, in the order Coolify's log writes them; the status says
#: `finished` right after the last one.
CLOSING_STAGES = (
    "Building docker image completed.",
    "Rolling update started.",
    "New container started.",
    "Rolling update completed.",
)
_STAGE_LINE = re.compile(
    r'"output":\s*"(?P<stage>'
    + "|".join(re.escape(s) for s in CLOSING_STAGES)
    + r')"[^{}]*?"timestamp":\s*"(?P<at>[^"]+)"'
)
NEAR_END_CHARS = 4000
#: The latest first check of a deployment whose history gives a forecast (with a long --poll-interval).
FORECAST_AFTER = 5.0
#: How long around the end the closing stages foretell it is watched closely.
NEAR_END_SECONDS = 1.5
#: The status says `finished` a moment after the last closing stage is written.
STATUS_AFTER_LAST_STAGE = 0.5
#: A forecast further than this from the local clock says the server's clock is off: not used.
CLOCK_TRUST = 600.0
CONFIRM_SECONDS = 5.0  # a status read that confirms a cancel whose answer did not come
LIST_MAX_BYTES = 2_000_000  # past this, the list of active deployments is not worth its weight
FORECAST_UP_TO = 5  # read each application's history (one request each) for this many deployments at most
KIND_LISTS = {"application": "applications", "service": "services", "database": "databases"}
# What an environment's details hold, by kind (GET /projects/{uuid}/{environment}).
_ENVIRONMENT_LISTS = {
    "applications": "application",
    "services": "service",
    "postgresqls": "database",
    "redis": "database",
    "mongodbs": "database",
    "mysqls": "database",
    "mariadbs": "database",
    "keydbs": "database",
    "dragonflies": "database",
    "clickhouses": "database",
}
READ_HINT = (
    "give the token the 'read' permission to follow deployments ('read:sensitive' for build logs), or use --no-wait"
)


#: Coolify's errors in the user's words (providers.base.translate): first match wins.
ERRORS = (
    ErrorRule(
        401,
        AuthenticationFailed,
        "Coolify refused the token while {doing}: {said}",
        hint="check the token (COOLIFY_TOKEN)",
    ),
    ErrorRule(
        403,
        PermissionDenied,
        "the token can deploy but not read: Coolify answered '{said}' while {doing}",
        hint=READ_HINT,
        said=r"permissions.*read|read.*permissions",
    ),
    ErrorRule(
        403,
        PermissionDenied,
        "the token lacks a permission: Coolify answered '{said}' while {doing}",
        hint="give the token the 'deploy' permission",
        said="permissions",
    ),
    ErrorRule(
        403,
        PermissionDenied,
        "Coolify refused API access while {doing}: {said}",
        hint="enable the API and check its IP allow-list in Coolify's settings",
    ),
    ErrorRule(
        404,
        NotFound,
        "{message}: the API is not at this address",
        hint="check --url: it should be the dashboard's base URL",
        said="^Not found",
    ),
)


class CoolifyProvider(Provider):
    """Deploys Coolify resources by uuid or tag."""

    name = "coolify"
    api_path = "/api/v1"
    errors = ERRORS

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(settings, transport=transport)
        self.dashboard = settings.url

        self.watch_by_list = True
        self.listing = False
        self._lists: dict[str, list[Candidate]] = {}
        self._projects: dict[str, str] | None = None  # name -> uuid
        self._environments: dict[tuple[str, str], list[Candidate]] = {}
        self._environment_uuids: dict[tuple[str, str], str] = {}

    def auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def check_batch(
        self, due: list[Follower], active: list[Follower], *, want_logs: bool, timeout: float
    ) -> tuple[dict[Follower, CheckResult], list[Follower]]:
        """Watch every active application deployment with one `GET /deployments` (it lists the
        queued and in-progress ones); a deployment that left the list is checked on its own."""
        watched = [f for f in active if isinstance(f, DeploymentFollower) and f.watchable]
        if len(watched) > 1:
            self.listing = True  # from now on, until all have ended: even the last one is cheapest this way
        if not self.watch_by_list or not self.listing or not any(f in due for f in watched):
            return {}, []
        try:
            rows = self.api.request("GET", "/deployments", timeout=timeout, max_bytes=LIST_MAX_BYTES)
        except AnswerTooLarge:
            self.watch_by_list = False
            watched[0].notices.append(
                "the list of active deployments is over 2 MB (large build logs): following each deployment on its own"
            )
            return {}, []
        except HTTPStatusError as exc:
            error = self.translated(exc, "listing the active deployments")
            if not isinstance(error, ServerError):
                raise error from None
            return {f: ([], error) for f in watched if f in due}, []
        except ServerError as exc:
            return {f: ([], exc) for f in watched if f in due}, []
        by_id = {str(r.get("deployment_uuid")): r for r in listed(rows)}
        answered: dict[Follower, CheckResult] = {}
        left: list[Follower] = []
        for f in watched:
            row = by_id.get(str(f.deployment.deployment_id))
            if row is None:
                left.append(f)  # ended (or never saved): read its end on its own
            else:
                answered[f] = (f.apply(row, want_logs), None)
        return answered, left

    # -- one deployment, for `deployer status` and `deployer cancel` -------------------------------

    def deployment(self, deployment_id: str) -> Deployment:
        """A deployment as Coolify shows it now."""
        d = Deployment(self.name, resource="", kind="application", deployment_id=deployment_id)
        try:
            row = self.get(f"/deployments/{quote(deployment_id, safe='')}", "reading the deployment")
        except HTTPStatusError as exc:
            if exc.status == 404:
                raise NotFound(
                    f"Coolify has no deployment {deployment_id}",
                    hint="check the id (the deployment-id output of deployer deploy)",
                ) from None
            raise
        if not isinstance(row, dict):
            raise UnexpectedAnswer(f"GET /deployments/{deployment_id} answered something that is not an object")
        DeploymentFollower(self, d, phantom=False).apply(row, want_logs=False)
        d.resource = str(row.get("application_name") or row.get("application_id") or "")
        d.duration = seconds_from_to(d.started_at, d.finished_at)
        return d

    def cancel_deployment(self, deployment_id: str) -> str:
        """Cancel a queued or running deployment; DeployerError (exit 1) when it already ended."""
        path = f"/deployments/{quote(deployment_id, safe='')}/cancel"
        try:
            answer = self.api.request("POST", path)
        except HTTPStatusError as exc:
            said = exc.server_message or f"HTTP {exc.status}"
            if exc.status == 400:
                raise DeployerError(f"Coolify did not cancel deployment {deployment_id}: {said}") from None
            if exc.status == 404:
                raise NotFound(f"Coolify has no deployment {deployment_id}: {said}") from None
            raise self.translated(exc, "cancelling the deployment") from None
        told = answer.get("message") if isinstance(answer, dict) else None
        return str(told or "Deployment cancelled.")

    # -- health, for --wait-healthy ----------------------------------------------------------------

    def health_probe(self, deployment: Deployment, prober: Prober) -> Probe | None:
        """A probe of Coolify's view of a deployed application: `running:healthy`; with no health
        check configured (`running:unknown`), its first domain (asked through `prober`) answering 2xx."""
        uuid = deployment.resource

        def look(timeout: float) -> tuple[bool, str]:
            try:
                app = self.get(
                    f"/applications/{quote(uuid, safe='')}", "reading the application's health", timeout=timeout
                )
            except ServerError as exc:
                return False, str(exc)
            status = str(app.get("status") or "") if isinstance(app, dict) else ""
            state, _, health = status.partition(":")
            if state == "running" and health == "healthy":
                return True, f"Coolify reports {status}"
            if state == "running" and health == "unknown":
                domain = next((u.strip() for u in str(app.get("fqdn") or "").split(",") if u.strip()), "")
                if not domain:
                    return (
                        True,
                        f"Coolify reports {status}: no health check and no domain, so running is all it can tell",
                    )
                ok, seen = prober.probe(domain)(timeout)
                return ok, f"Coolify reports {status} (no health check); {domain} answered {seen}"
            return False, f"Coolify reports {status or 'no status'}"

        return look

    # -- names -----------------------------------------------------------------------------------

    def target_field(self, found: Candidate) -> str:
        return "uuids"  # applications, services and databases alike are deployed by uuid

    def find(self, wanted: ResourceName) -> Candidate:
        """The resource a name means. Names alone are matched in the team-wide lists; with a
        project and environment, in that environment's own list."""
        kinds = tuple(KIND_LISTS)
        if wanted.project and wanted.environment:
            return pick(wanted, self._environment(wanted.project, wanted.environment, wanted), kinds)
        candidates = [c for kind in KIND_LISTS if wanted.kind in (None, kind) for c in self._list(kind)]
        if wanted.project is None:
            try:
                return pick(wanted, candidates, kinds)
            except InputError:
                pass  # say it again with each candidate's project and environment
        scopes = self._scopes()
        return pick(wanted, [replace(c, scope=scopes.get(c.scope, "")) for c in candidates], kinds)

    def _list(self, kind: str) -> list[Candidate]:
        """Every resource of a kind, with its environment id (for now) as its scope."""
        if kind not in self._lists:
            rows = self.get("/" + KIND_LISTS[kind], f"listing {KIND_LISTS[kind]} to look names up")
            self._lists[kind] = (
                [
                    Candidate(kind, str(r.get("name") or ""), str(r["uuid"]), str(r.get("environment_id") or ""))
                    for r in rows
                    if isinstance(r, dict) and r.get("uuid")
                ]
                if isinstance(rows, list)
                else []
            )
        return self._lists[kind]

    def _project_uuids(self) -> dict[str, str]:
        if self._projects is None:
            rows = self.get("/projects", "listing projects to look names up")
            self._projects = (
                {str(r.get("name")): str(r["uuid"]) for r in rows if isinstance(r, dict) and r.get("uuid")}
                if isinstance(rows, list)
                else {}
            )
        return self._projects

    def _scopes(self) -> dict[str, str]:
        """Environment id -> "project/environment", for naming candidates (best effort)."""
        scopes: dict[str, str] = {}
        for project, uuid in self._project_uuids().items():
            rows = self.get(
                f"/projects/{quote(uuid, safe='')}/environments", f"listing the environments of project {project!r}"
            )
            for row in rows if isinstance(rows, list) else []:
                if isinstance(row, dict) and row.get("id") is not None:
                    scopes[str(row["id"])] = f"{project}/{row.get('name')}"
        return scopes

    def _environment(self, project: str, environment: str, wanted: ResourceName) -> list[Candidate]:
        key = (project, environment)
        if key in self._environments:
            return self._environments[key]
        projects = self._project_uuids()
        if project not in projects:
            known = ", ".join(sorted(projects)) or "none visible to this token"
            raise InputError(f"{wanted.where}: Coolify has no project {project!r} (projects: {known})")
        path = f"/projects/{quote(projects[project], safe='')}"
        try:
            details = self.get(
                f"{path}/{quote(environment, safe='')}", f"reading environment {environment!r} of project {project!r}"
            )
        except HTTPStatusError as exc:
            if exc.status != 404:
                raise self.translated(exc, "looking names up") from None
            rows = self.get(f"{path}/environments", f"listing the environments of project {project!r}")
            known = ", ".join(str(r.get("name")) for r in rows if isinstance(r, dict)) if isinstance(rows, list) else ""
            raise InputError(
                f"{wanted.where}: project {project!r} has no environment {environment!r} "
                f"(environments: {known or 'none'})"
            ) from None
        if isinstance(details, dict) and details.get("uuid"):
            self._environment_uuids[key] = str(details["uuid"])
        found = []
        for field_name, kind in _ENVIRONMENT_LISTS.items():
            rows = details.get(field_name) if isinstance(details, dict) else None
            for r in rows if isinstance(rows, list) else []:
                if isinstance(r, dict) and r.get("uuid"):
                    found.append(Candidate(kind, str(r.get("name") or ""), str(r["uuid"]), f"{project}/{environment}"))
        self._environments[key] = found
        return found

    # -- trigger ---------------------------------------------------------------------------------

    def trigger_params(self, uuids: list[str] | None = None, tags: list[str] | None = None) -> dict[str, str]:
        """The query of `POST /deploy`: one comma-separated string per list; `force` only when true."""
        s = self.settings
        uuids = s.uuids if uuids is None else uuids
        tags = s.tags if tags is None else tags
        params: dict[str, str] = {}
        if uuids:
            params["uuid"] = ",".join(uuids)
        if tags:
            params["tag"] = ",".join(tags)
        if s.force:
            params["force"] = "true"  # before 4.2 the string "false" counted as true: never send it
        if s.pr is not None:
            params["pull_request_id"] = str(s.pr)
        if s.docker_tag:
            params["docker_tag"] = s.docker_tag
        return params

    def trigger(self, retry: TriggerRetry) -> list[Follower]:
        """Send the deploy; when a full queue stopped it part-way, follow what it did start and send
        it again only for the resources that got nothing."""
        pending = _Pending(list(self.settings.uuids), list(self.settings.tags))
        started: list[Follower] = []

        def send() -> Any:
            asked, sent_at = time.time(), time.monotonic()
            try:
                return self.api.request("POST", "/deploy", params=self.trigger_params(pending.uuids, pending.tags))
            except HTTPStatusError as exc:
                if exc.status != 429 or pending.single():
                    raise
                server_now = exc.server_time - (time.monotonic() - sent_at) if exc.server_time else asked
                found = self._started_before_the_limit(pending, since=server_now - CLOCK_SLACK)
                if found:
                    started.extend(found)
                    retry.on_retry(
                        f"Coolify's deployment queue filled up part-way through the request: {len(found)} "
                        f"resource(s) were started and are followed; {len(pending.uuids)} got nothing "
                        "and will be sent again"
                    )
                if not pending.uuids and not pending.tags:
                    return _ALL_STARTED
                raise

        try:
            answer = retry.run(send)
        except HTTPStatusError as exc:
            if exc.status != 429 or not started:
                raise self._trigger_error(exc) from None
            return started + [self._not_deployed(uuid, exc) for uuid in pending.uuids]
        if answer is _ALL_STARTED:
            return started
        if not isinstance(answer, dict):
            raise UnexpectedAnswer(f"POST {self.api.url('/deploy')} answered {type(answer).__name__}, not an object")
        if "deployments" in answer:
            return started + self._by_uuid(answer["deployments"], pending.uuids)
        if "message" in answer:
            return started + self._by_tag(answer)
        raise UnexpectedAnswer(f"POST {self.api.url('/deploy')} answered without 'deployments' or 'message'")

    def _not_deployed(self, uuid: str, exc: HTTPStatusError) -> Follower:
        record = self._record(
            uuid,
            "application",
            f"not deployed: {exc.server_message or 'the deployment queue is full'}; "
            "deploy it again once the queue has room",
        )
        record.status, record.server_problem = Status.FAILED, True
        return EndedFollower(record)

    def _started_before_the_limit(self, pending: _Pending, since: float) -> list[Follower]:
        """After a 429 for several resources: which did the request start before one met the full queue?

        Coolify deploys the resources one by one, in the order given (a tag's applications first),
        and the first application that meets the limit turns the whole answer into the 429. So each
        application's history is read in that order: those with a deployment created since the
        trigger were started (and so were the services and databases before the first that was
        not); from the first one without, nothing was. `pending` keeps only what got nothing.
        """
        order = self._tagged_applications(pending.tags) if pending.tags else pending.uuids
        found: list[Follower] = []
        others: list[str] = []  # not applications: started if they stood before the one that met the limit
        stop = len(order)
        for index, uuid in enumerate(order):
            try:
                row = self._deployment_since(uuid, since)
            except HTTPStatusError as exc:
                if exc.status != 404:
                    raise
                others.append(uuid)
                continue
            if row is None:
                stop = index
                break
            record = self._record(
                uuid, "application", "queued before Coolify's queue filled up", str(row.get("deployment_uuid"))
            )
            record.name = str(row.get("application_name") or "") or None
            found.append(DeploymentFollower(self, record, phantom=False))
        found += [self._started_resource(uuid) for uuid in others if order.index(uuid) < stop]
        started = {f.deployment.resource for f in found}
        pending.uuids = [u for u in order if u not in started]
        pending.tags = []  # what is left is sent by uuid: a tag would start the others again
        return found

    def _tagged_applications(self, tags: list[str]) -> list[str]:
        """The uuids of the applications with these tags, in the order Coolify deploys them."""
        order: list[str] = []
        for tag in tags:
            rows = self.get("/applications", f"listing the applications of tag {tag!r}", params={"tag": tag})
            if isinstance(rows, list):
                order += [str(r["uuid"]) for r in rows if isinstance(r, dict) and r.get("uuid")]
        return order

    def _deployment_since(self, uuid: str, since: float) -> dict[str, Any] | None:
        """The application's earliest deployment created since `since` (for this run's pull request),
        or None; HTTPStatusError 404 when `uuid` is not an application."""
        pr = self.settings.pr or 0
        rows = self.history(uuid, "reading what the deploy started")
        mine = [
            r for r in rows if int(r.get("pull_request_id") or 0) == pr and (epoch(r.get("created_at")) or 0) >= since
        ]
        return mine[-1] if mine else None  # newest first: the earliest since the trigger

    def _started_resource(self, uuid: str) -> Follower:
        """A service or database the request started: followed through its status."""
        for kind in ("service", "database"):
            try:
                self.get(f"/{kind}s/{quote(uuid, safe='')}", f"reading the {kind}")
            except HTTPStatusError:
                continue
            return ResourceStatusFollower(self, self._record(uuid, kind, f"{kind} started"))
        record = self._record(uuid, "unknown", "Coolify found no resource with this uuid and skipped it")
        record.status, record.server_problem = Status.FAILED, True
        return EndedFollower(record)

    def _trigger_error(self, exc: HTTPStatusError) -> DeployerError:
        said = exc.server_message
        if exc.status in (400, 422):
            return InputError(f"Coolify refused the deploy request: {said or f'HTTP {exc.status}'}")
        if exc.status == 404 and said.startswith("No resources found"):
            what = (
                "tag(s) " + ", ".join(self.settings.tags)
                if self.settings.tags
                else "uuid(s) " + ", ".join(self.settings.uuids)
            )
            return NotFound(
                f"Coolify found nothing to deploy for {what}: {said}",
                hint="check the ids in the dashboard and that the token's team owns them",
            )
        if exc.status == 405:
            return NotFound(f"{exc.message}", hint="check --url: Coolify 4.2+ takes POST /api/v1/deploy")
        if exc.status == 429:
            return exc
        return self.translated(exc, "triggering the deploy")

    def _record(self, resource: str, kind: str, message: str = "", deployment_id: str | None = None) -> Deployment:
        return Deployment(
            provider=self.name, resource=resource, kind=kind, deployment_id=deployment_id, message=message
        )

    def _by_uuid(self, items: Any, asked: list[str]) -> list[Follower]:
        if not isinstance(items, list):
            raise UnexpectedAnswer("Coolify's deploy answer has 'deployments' that is not a list")
        followers: list[Follower] = []
        seen: set[str] = set()
        for item in items:
            if not isinstance(item, dict):
                continue
            resource = str(item.get("resource_uuid") or "")
            message = str(item.get("message") or "")
            seen.add(resource)
            followers.append(self._follower_for(resource, message, item.get("deployment_uuid")))
        for uuid in asked:
            if uuid not in seen:  # Coolify skips unknown uuids silently when others exist
                record = self._record(uuid, "unknown", "Coolify found no resource with this uuid and skipped it")
                record.status, record.server_problem = Status.FAILED, True
                followers.append(EndedFollower(record))
        return followers

    def _follower_for(self, resource: str, message: str, deployment_uuid: Any) -> Follower:
        if deployment_uuid:
            record = self._record(resource, "application", message, str(deployment_uuid))
            match = _APP_QUEUED.match(message)
            if match:
                record.name = match.group("name")
            return DeploymentFollower(self, record, phantom=message == PHANTOM)
        for pattern, kind in ((_SERVICE_STARTED, "service"), (_DATABASE_STARTED, "database")):
            match = pattern.match(message)
            if match:
                record = self._record(resource, kind, message)
                record.name = match.group("name")
                return ResourceStatusFollower(self, record)
        # No deployment and not a start: Coolify refused this resource ("Unauthorized to deploy...").
        record = self._record(resource, "application", message or "Coolify did not deploy this resource")
        record.status = Status.FAILED
        return EndedFollower(record)

    def _by_tag(self, answer: dict[str, Any]) -> list[Follower]:
        messages = answer.get("message")
        messages = [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]
        details = answer.get("details") or []
        followers: list[Follower] = []
        for item in details if isinstance(details, list) else []:
            if isinstance(item, dict) and item.get("deployment_uuid"):
                record = self._record(
                    str(item.get("resource_uuid") or ""), "application", "", str(item["deployment_uuid"])
                )
                # A phantom uuid cannot be told apart here: the 404 fallback to the history covers it.
                followers.append(DeploymentFollower(self, record, phantom=False))
        tag_label = ",".join(self.settings.tags)
        for message in messages:
            if _APP_QUEUED.match(message) or message == PHANTOM:
                continue
            started = _SERVICE_STARTED.match(message) or _DATABASE_STARTED.match(message)
            if started:
                kind = "service" if message.startswith("Service") else "database"
                followers.append(self._started_by_name(kind, started.group("name"), message))
                continue
            record = self._record(tag_label, "application", message)
            record.status = Status.FAILED  # a refusal or "No resources found for tag X."
            followers.append(EndedFollower(record))
        return followers

    def _started_by_name(self, kind: str, name: str, message: str) -> Follower:
        """A service started by tag comes back with its name only: find its uuid to follow it."""
        record = self._record(name, kind, message)
        record.name = name
        try:
            listing = self.api.request("GET", f"/{kind}s")
        except ServerError:
            listing = None
        matches = [r for r in listing or [] if isinstance(r, dict) and r.get("name") == name and r.get("uuid")]
        if len(matches) == 1:
            record.resource = str(matches[0]["uuid"])
            return ResourceStatusFollower(self, record)
        record.message = (
            f"{message} Not followed: Coolify gives no id for a {kind} deployed by tag, and its name is not unique."
        )
        return EndedFollower(record)

    # -- following helpers -----------------------------------------------------------------------

    def get(self, path: str, doing: str, *, timeout: float | None = None, params: dict[str, Any] | None = None) -> Any:
        try:
            return self.api.request("GET", path, params=params, timeout=timeout)
        except HTTPStatusError as exc:
            if exc.status == 404 and exc.server_message != "Not found.":
                raise
            raise self.translated(exc, doing) from None

    # -- changes before the deploy (--image-tag, --commit, --env) ---------------------------------

    def plan_changes(self) -> list[Change]:
        """Read each application to change (GET /applications/{uuid}): a Docker-image one for
        --image-tag, a git one for --commit; services and databases take none of them."""
        s = self.settings
        changes: list[Change] = []
        for uuid in self._applications_to_change():
            app = self._application_to_change(uuid)
            label = str(app.get("name") or uuid)
            build_pack = str(app.get("build_pack") or "")
            if s.image_tag:
                if build_pack != "dockerimage":
                    raise InputError(
                        f"--image-tag: {label} is not a Docker-image application (it builds with "
                        f"{build_pack or 'an unknown build pack'}); deploy it without --image-tag, or use --commit"
                    )
                changes.append(
                    _version_change(uuid, label, "image tag", app.get("docker_registry_image_tag"), s.image_tag)
                )
            if s.commit:
                if build_pack == "dockerimage" or not app.get("git_repository"):
                    raise InputError(f"--commit: {label} is not a git application; use --image-tag for a Docker image")
                changes.append(_version_change(uuid, label, "commit", app.get("git_commit_sha"), s.commit))
            changes += [Change(uuid, label, f"variable {key}", None, value, secret=True) for key, value in s.env_vars]
        return changes

    def _applications_to_change(self) -> list[str]:
        """The uuids given, or the applications of the tags (the API lists applications by tag)."""
        if not self.settings.tags:
            return list(self.settings.uuids)
        return list(dict.fromkeys(self._tagged_applications(self.settings.tags)))

    def _application_to_change(self, uuid: str) -> dict[str, Any]:
        try:
            app = self.get(f"/applications/{quote(uuid, safe='')}", "reading the application to change")
        except HTTPStatusError as exc:
            if exc.status == 404:
                raise InputError(
                    f"{uuid} is not an application (a service, a database, or no resource): --image-tag, --commit "
                    "and --env change applications only"
                ) from None
            raise
        if not isinstance(app, dict):
            raise UnexpectedAnswer(f"GET /applications/{uuid} answered something that is not an object")
        return app

    def apply_changes(self, changes: list[Change]) -> None:
        """Per application: one PATCH for the version, one PATCH of its variables in bulk."""
        done: list[Change] = []
        for uuid in dict.fromkeys(c.resource for c in changes):
            mine = [c for c in changes if c.resource == uuid]
            versions = {_FIELDS[c.setting]: c.new for c in mine if c.version}
            variables = [{"key": c.setting.removeprefix("variable "), "value": c.new} for c in mine if c.secret]
            path = f"/applications/{quote(uuid, safe='')}"
            try:
                if versions:
                    self.api.request("PATCH", path, json_body=versions)
                    done += [c for c in mine if c.version]
                if variables:
                    self.api.request("PATCH", path + "/envs/bulk", json_body={"data": variables})
                    done += [c for c in mine if c.secret]
            except HTTPStatusError as exc:
                raise self.refused(exc, mine[0].label, done) from None

    def restore(self, changes: list[Change]) -> None:
        for uuid in dict.fromkeys(c.resource for c in changes):
            back = {_FIELDS[c.setting]: c.old or "" for c in changes if c.resource == uuid and c.version}
            try:
                self.api.request("PATCH", f"/applications/{quote(uuid, safe='')}", json_body=back)
            except HTTPStatusError as exc:
                raise self.refused(exc, uuid, []) from None

    def retarget(self, resources: list[str]) -> None:
        self.settings = replace(self.settings, uuids=list(resources), tags=[], names=[])

    # -- a stack from a compose file (--compose-file) ---------------------------------------------

    def ensure_stack(self, compose: ComposeFile, *, apply: bool) -> StackChange:
        """Find the service by name in its project and environment; create it from the file (on
        the only server, or --server), or update its compose file when it differs."""
        wanted = self.settings.names[0]
        project, environment = str(wanted.project), str(wanted.environment)
        found = [
            c for c in self._environment(project, environment, wanted) if c.kind == "service" and c.name == wanted.name
        ]
        if len(found) > 1:
            raise InputError(
                f"{wanted.where}: {len(found)} services are named {wanted}; rename one or deploy by --uuid"
            )
        if not found:
            return self._create_stack(compose, wanted, apply=apply)
        uuid = found[0].id
        service = self.get(f"/services/{quote(uuid, safe='')}", "reading the stack's compose file")
        held = service.get("docker_compose_raw") if isinstance(service, dict) else None
        if isinstance(held, str) and parsed(held) == compose.data:
            return StackChange(wanted.name, "unchanged", uuid)
        if held is None:
            self.notices.append(
                "the token cannot read the stack's compose file (it needs 'read:sensitive'): it is sent again"
            )
        # Coolify keeps the file re-dumped from its YAML: compare and show the two in that one form.
        shown_held = _yaml_text(parsed(held)) if isinstance(held, str) else ""
        diff = compose_diff(shown_held, _yaml_text(compose.data), wanted.name)
        change = StackChange(wanted.name, "update", uuid, diff)
        if apply:
            body = {"docker_compose_raw": _base64(compose.text), **self._override()}
            self._stack_request("PATCH", f"/services/{quote(uuid, safe='')}", body, wanted.name)
        return change

    def _create_stack(self, compose: ComposeFile, wanted: ResourceName, *, apply: bool) -> StackChange:
        project, environment = str(wanted.project), str(wanted.environment)
        server = self._server()
        where = f"{project}/{environment} on server {server['name']}"
        if not apply:
            return StackChange(wanted.name, "create", None, compose.text, where)
        body: dict[str, Any] = {
            "name": wanted.name,
            "project_uuid": self._project_uuids()[project],
            "environment_name": environment,
            "environment_uuid": self._environment_uuids.get((project, environment), ""),
            "server_uuid": server["uuid"],
            "docker_compose_raw": _base64(compose.text),
            "instant_deploy": False,
            **self._override(),
        }
        if not body["environment_uuid"]:
            del body["environment_uuid"]
        answer = self._stack_request("POST", "/services", body, wanted.name)
        uuid = answer.get("uuid") if isinstance(answer, dict) else None
        if not uuid:
            raise UnexpectedAnswer("POST /services answered without the new service's uuid")
        return StackChange(wanted.name, "create", str(uuid), compose.text, where)

    def _server(self) -> dict[str, str]:
        """The server to create a stack on: --server by name, else the only one."""
        rows = self.get("/servers", "listing the servers")
        servers = [
            {"uuid": str(r["uuid"]), "name": str(r.get("name") or r["uuid"])}
            for r in (rows if isinstance(rows, list) else [])
            if isinstance(r, dict) and r.get("uuid")
        ]
        names = ", ".join(s["name"] for s in servers) or "none visible to this token"
        if self.settings.server:
            chosen = [s for s in servers if self.settings.server in (s["name"], s["uuid"])]
            if not chosen:
                raise InputError(f"--server: Coolify has no server {self.settings.server!r} (servers: {names})")
            return chosen[0]
        if len(servers) != 1:
            raise InputError(
                f"the stack does not exist yet and Coolify has {len(servers)} servers: pass --server ({names})"
            )
        return servers[0]

    def _override(self) -> dict[str, bool]:
        return {"force_domain_override": True} if self.settings.force_domain_override else {}

    def _stack_request(self, method: str, path: str, body: dict[str, Any], name: str) -> Any:
        """A create or update of the stack; a domain conflict is each domain and who holds it."""
        try:
            return self.api.request(method, path, json_body=body)
        except HTTPStatusError as exc:
            if exc.status == 409:
                raise DomainConflict(name, exc.conflicts) from None
            raise self.refused(exc, f"the stack {name}", []) from None

    def history(self, app_uuid: str, doing: str, timeout: float | None = None) -> list[dict[str, Any]]:
        """An application's last 10 deployments, newest first (an object with `deployments`, not the
        array the OpenAPI document says)."""
        answer = self.get(
            f"/deployments/applications/{quote(app_uuid, safe='')}",
            doing,
            params={"skip": 0, "take": 10},
            timeout=timeout,
        )
        rows = answer.get("deployments") if isinstance(answer, dict) else answer
        return [r for r in rows or [] if isinstance(r, dict)]

    def forecast_wanted(self) -> bool:
        return len(self.settings.uuids) <= FORECAST_UP_TO

    def deployment_url(self, path: Any) -> str | None:
        if not path or not isinstance(path, str):
            return None
        return path if path.startswith("http") else self.dashboard + "/" + path.lstrip("/")


class DeploymentFollower(Follower):
    """An application deployment, followed by its uuid; build log entries are printed once each."""

    def __init__(self, provider: CoolifyProvider, deployment: Deployment, *, phantom: bool) -> None:
        super().__init__(deployment)
        self.provider = provider
        self.phantom = phantom
        #: The forecast came from the history (the log's closing stages then change nothing), and
        #: the furthest closing stage the log has shown (-1: none yet).
        self.from_history = False
        self.stage_seen = -1
        self.logs_seen = 0
        self.logs_hidden_noted = False
        self.triggered_at = time.monotonic()
        # Watched through the list of active deployments at once, unless this deployment first needs
        # a check of its own: a phantom uuid to replace, or (for a few deployments) a forecast to read.
        self.watchable = not phantom and not (provider.settings.uuids and provider.forecast_wanted())
        if not self.watchable and not phantom:
            # Its first check reads the history for a forecast: one poll interval in (where a fixed
            # poller's would be; a deploy rarely ends sooner), and at most FORECAST_AFTER seconds.
            self.first_check_after = min(provider.settings.poll_interval, FORECAST_AFTER)
        if not self.watchable:
            self.cost = 2  # the history (or the phantom's search), then possibly the row itself

    def check(self, *, want_logs: bool, timeout: float) -> list[str]:
        left = TimeLeft(timeout)
        self.cost = 1  # from the next check on: the row alone
        if self.phantom:
            self._adopt_from_history(reason=f"Coolify answered '{PHANTOM}'", timeout=left())
            self.phantom = False
        elif not self.watchable and self.provider.settings.uuids and self.provider.forecast_wanted():
            self.watchable = True
            try:  # a forecast only spares requests: without one, checks just back off as usual
                rows = self._history(left())
            except ServerError:
                rows = []
            self._forecast(rows)
            # The history holds this deployment's own row too (newest first): it is this check.
            own = next((r for r in rows if str(r.get("deployment_uuid")) == self.deployment.deployment_id), None)
            if own is not None:
                return self.apply(own, want_logs)
        self.watchable = True
        d = self.deployment
        try:
            row = self.provider.get(f"/deployments/{d.deployment_id}", "following a deployment", timeout=left())
        except HTTPStatusError as exc:
            if exc.status != 404:
                raise
            self._adopt_from_history(reason=f"deployment {d.deployment_id} does not exist (404)", timeout=left())
            row = self.provider.get(f"/deployments/{d.deployment_id}", "following a deployment", timeout=left())
        if not isinstance(row, dict):
            raise UnexpectedAnswer(f"GET /deployments/{d.deployment_id} answered something that is not an object")
        return self.apply(row, want_logs)

    def confirm_started(self, timeout: float) -> None:
        """The "already queued" uuid was never saved: name the queued or running deployment instead."""
        if not self.phantom:
            return
        try:
            self._adopt_from_history(reason=f"Coolify answered '{PHANTOM}'", timeout=timeout)
            self.phantom = False
        except ServerError as exc:
            d = self.deployment
            d.deployment_id = None
            d.message = (
                f"Coolify answered '{PHANTOM}' with an id it never saved, and the queued deployment "
                f"could not be read: {exc}"
            )

    def apply(self, row: dict[str, Any], want_logs: bool) -> list[str]:
        """Take in a deployment row (from its own GET or the list of active ones)."""
        self._read_row(row)
        self._near_the_end(row)
        return self._new_log_lines(row) if want_logs else []

    def _near_the_end(self, row: dict[str, Any]) -> None:
        """Without a forecast from the history, the build log's closing stages foretell the end:
        each is stamped with when it was written, so the ones still to come are due at the pace of
        the last two, and the end right after the last. One stage alone gives no pace: nothing."""
        if self.from_history:
            return
        raw = row.get("logs")
        tail = raw[-NEAR_END_CHARS:] if isinstance(raw, str) else ""
        stages: dict[int, float] = {}
        for match in _STAGE_LINE.finditer(tail):
            at = epoch(match.group("at"))
            if at is not None:
                stages[CLOSING_STAGES.index(match.group("stage"))] = at
        if not stages or max(stages) == self.stage_seen:
            return
        last = len(CLOSING_STAGES) - 1
        reached = sorted(stages.items())
        self.stage_seen, (k, at) = reached[-1][0], reached[-1]
        if k == last:
            ends_at = at
        elif len(reached) >= 2:
            j, before = reached[-2]
            ends_at = at + (at - before) / (k - j) * (last - k) + STATUS_AFTER_LAST_STAGE
        else:
            return
        ahead = ends_at - time.time()
        if abs(ahead) > CLOCK_TRUST:
            return
        opens = time.monotonic() + max(0.0, ahead)
        self.expected_end = (opens, opens + NEAR_END_SECONDS)

    def _history(self, timeout: float | None = None) -> list[dict[str, Any]]:
        return self.provider.history(self.deployment.resource, "reading the application's deployments", timeout)

    def _forecast(self, rows: list[dict[str, Any]]) -> None:
        """When this deployment should end, from how long the last finished ones took."""
        took = sorted(
            t
            for t in (
                seconds_between(r.get("created_at"), r.get("finished_at"))
                for r in rows
                if r.get("status") == "finished"
            )
            if t is not None
        )
        if took:
            # Coolify's times are whole seconds: aim one check just past the longest recent run (it
            # sees most ends within a second), then look every half second.
            self.expected_end = (self.triggered_at + took[-1] + 0.3, self.triggered_at + took[-1] + 2.0)
            self.from_history = True

    def _read_row(self, row: dict[str, Any]) -> None:
        d = self.deployment
        d.started_at = iso_utc(row.get("created_at")) or d.started_at
        d.finished_at = iso_utc(row.get("finished_at")) or d.finished_at
        raw = str(row.get("status") or "")
        if raw in _STATUS:
            d.status = _STATUS[raw]
            if d.status == Status.FAILED:
                d.message = "the deployment failed; its build log says why"
            elif d.status == Status.CANCELLED:
                d.message = "the deployment was cancelled in Coolify"
        else:
            self.notices.append(f"{d.label}: Coolify reports an unknown status {raw!r}; still waiting")
        d.name = row.get("application_name") or d.name
        d.url = self.provider.deployment_url(row.get("deployment_url")) or d.url

    def _new_log_lines(self, row: dict[str, Any]) -> list[str]:
        if "logs" not in row:
            if not self.logs_hidden_noted:
                self.logs_hidden_noted = True
                self.notices.append(
                    "build logs are hidden: the token needs the 'read:sensitive' permission "
                    "(and an admin or owner user) to read them"
                )
            return []
        lines: list[str] = []
        count = self.logs_seen
        for entry in iter_log_entries(row.get("logs"), skip=self.logs_seen):
            count += 1
            if not isinstance(entry, dict) or entry.get("hidden"):
                continue
            output = str(entry.get("output") or "")
            lines.extend(output.splitlines() or ([] if not output else [output]))
        self.logs_seen = count
        return lines

    def _adopt_from_history(self, reason: str, timeout: float | None = None) -> None:
        """Follow the application's queued or in-progress deployment instead of a uuid that is not saved."""
        d = self.deployment
        rows = self._history(timeout)
        pr = self.provider.settings.pr or 0
        mine = [r for r in rows if int(r.get("pull_request_id") or 0) == pr]
        active = [r for r in mine if r.get("status") in ("queued", "in_progress")]
        pick = next((r for r in active if r.get("commit") == "HEAD"), active[0] if active else None)
        if pick is None and mine and d.deployment_id and self.phantom:
            pick = mine[0]  # it ended between the trigger and now: the newest one is it
        if pick is None:
            d.server_problem = True
            raise NotFound(
                f"{d.label}: {reason}, and the application has no queued or running deployment to follow",
                hint="look at the application's deployments in the Coolify dashboard",
            )
        old, d.deployment_id = d.deployment_id, str(pick.get("deployment_uuid"))
        self.logs_seen = 0
        self.notices.append(
            f"{d.label}: {reason}; following deployment {d.deployment_id} from its history instead of {old}"
        )

    def cancel(self, timeout: float) -> str:
        """Coolify first tries to stop the build container, so a cancel can take 6-7 s to answer and
        still succeed: where no answer came in time (or a refusal), its status says what happened."""
        d = self.deployment
        try:
            answer = self.provider.api.request("POST", f"/deployments/{d.deployment_id}/cancel", timeout=timeout)
        except ServerError as exc:
            said = (exc.server_message or f"HTTP {exc.status}") if isinstance(exc, HTTPStatusError) else exc.message
            now = self._status_now()
            if now == "cancelled-by-user":
                return "cancelled (its status confirms it)"
            if now in ("finished", "failed"):
                return f"not cancelled: it had already {now}"
            verb = "refused" if isinstance(exc, HTTPStatusError) else "failed"
            return f"cancel {verb}: {said}" + (f"; it is still {now}" if now else "")
        told = answer.get("message") if isinstance(answer, dict) else None
        return str(told or "cancelled")

    def _status_now(self) -> str | None:
        """The deployment's status as Coolify shows it now, or None when it cannot be read."""
        try:
            row = self.provider.get(
                f"/deployments/{self.deployment.deployment_id}", "confirming the cancel", timeout=CONFIRM_SECONDS
            )
        except ServerError:
            return None
        return str(row.get("status")) if isinstance(row, dict) and row.get("status") else None


class ResourceStatusFollower(Follower):
    """A service or database: no deployment record, so its resource status tells when it runs."""

    def __init__(self, provider: CoolifyProvider, deployment: Deployment) -> None:
        self.provider = provider
        super().__init__(deployment)
        self.last_status = ""

    def check(self, *, want_logs: bool, timeout: float) -> list[str]:
        d = self.deployment
        try:
            row = self.provider.get(f"/{d.kind}s/{d.resource}", f"reading the {d.kind}'s status", timeout=timeout)
        except HTTPStatusError as exc:
            if exc.status == 404:
                d.server_problem, d.status = True, Status.FAILED
                d.message = f"Coolify has no {d.kind} {d.resource} (404)"
                return []
            raise
        if not isinstance(row, dict):
            raise UnexpectedAnswer(f"GET /{d.kind}s/{d.resource} answered something that is not an object")
        d.name = row.get("name") or d.name
        raw = str(row.get("status") or "")
        state, _, health = raw.partition(":")
        if state == "running" and health in ("healthy", "unknown", ""):
            d.status = Status.FINISHED
            d.message = f"{d.kind} is {raw}"
        else:
            d.status = Status.IN_PROGRESS
        if raw != self.last_status:
            self.last_status = raw
            return [f"{d.kind} status: {raw or 'unknown'}"] if want_logs else []
        return []

    def cancel(self, timeout: float) -> str:
        return "Coolify cannot cancel this resource"


def _yaml_text(data: Any) -> str:
    import yaml

    return "" if data is None else str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def _base64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode("utf-8")).decode("ascii")


#: The application's field for each version setting.
_FIELDS = {"image tag": "docker_registry_image_tag", "commit": "git_commit_sha"}


def _text_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _version_change(uuid: str, label: str, setting: str, old: Any, new: str) -> Change:
    """A tag or commit set on an application: its value is also the version the outputs name."""
    before = _text_or_none(old)
    return Change(uuid, label, setting, before, new, version=True, old_version=before, new_version=new)


@dataclass
class _Pending:
    """What a deploy request still has to start."""

    uuids: list[str]
    tags: list[str]

    def single(self) -> bool:
        """One resource: a 429 then means that nothing was queued."""
        return not self.tags and len(self.uuids) == 1


#: What a re-sent trigger stands for when the first request had already started everything.
_ALL_STARTED = object()
#: Coolify's times are whole seconds: a row created by our request is at most this much older
#: than the moment the request was sent (by the server's Date header, else this machine's clock).
CLOCK_SLACK = 2.0


def listed(answer: Any) -> list[dict[str, Any]]:
    """The rows of a list answer. Coolify's `GET /deployments` sorts a collection without resetting
    its keys, so it is sometimes a JSON object `{"0": {...}, "3": {...}}` instead of an array."""
    if isinstance(answer, dict):
        answer = list(answer.values())
    return [row for row in answer if isinstance(row, dict)] if isinstance(answer, list) else []


_DECODER = json.JSONDecoder()


def iter_log_entries(raw: Any, skip: int = 0) -> Any:
    """The entries of `logs` after the first `skip`, one at a time: a 10,000-entry log is never held
    as a list (it is walked with raw_decode, and entries already printed are dropped at once)."""
    if isinstance(raw, list):
        yield from raw[skip:]
        return
    if not isinstance(raw, str):
        return
    text, at, seen = raw, 0, 0
    at = _skip_space(text, at)
    if not text.startswith("[", at):
        return
    at = _skip_space(text, at + 1)
    while at < len(text) and text[at] != "]":
        try:
            entry, at = _DECODER.raw_decode(text, at)
        except ValueError:
            return  # a truncated log: what came before it was already given
        if seen >= skip:
            yield entry
        seen += 1
        at = _skip_space(text, at)
        if text.startswith(",", at):
            at = _skip_space(text, at + 1)


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at
