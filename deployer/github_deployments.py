"""GitHub Deployments (opt-in with `github-token`): the deploy shows on the pull request and on the
repository's Environments page.

A deployment is created for the environment before the trigger and set `in_progress`; when the run
ends its status becomes `success`, `failure` (a deployment failed or was cancelled) or `error`
(timeout, server unusable, job cancelled), with the run's log URL and the app's URL. GitHub being
unreachable never fails the deploy: it is a warning.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from deployer.errors import DeployerError, HTTPStatusError
from deployer.http import ApiClient

API_VERSION = "2022-11-28"
REQUEST_SECONDS = 10.0
DESCRIPTION_MAX = 140  # GitHub refuses longer status descriptions


class GitHubDeployment:
    """This run's deployment record on GitHub."""

    def __init__(
        self, token: str, env: Mapping[str, str], environment: str, *, transient: bool, warn: Callable[[str], None]
    ) -> None:
        self.env = env
        self.environment = environment
        self.transient = transient
        self.warn = warn
        self.repository = env.get("GITHUB_REPOSITORY", "").strip()
        self.id: int | None = None
        api = env.get("GITHUB_API_URL", "").strip() or "https://api.github.com"
        self.api = ApiClient(
            api,
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
            },
            timeout=REQUEST_SECONDS,
        )

    @property
    def log_url(self) -> str:
        server = self.env.get("GITHUB_SERVER_URL", "").strip() or "https://github.com"
        run = self.env.get("GITHUB_RUN_ID", "").strip()
        return f"{server}/{self.repository}/actions/runs/{run}" if run else f"{server}/{self.repository}/actions"

    def ref(self) -> str:
        """The pull request's head commit on a pull_request event (so the deploy shows on the PR),
        else the run's commit."""
        path = self.env.get("GITHUB_EVENT_PATH", "").strip()
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    event = json.load(handle)
                head = (event.get("pull_request") or {}).get("head") or {}
                if isinstance(head.get("sha"), str) and head["sha"]:
                    return str(head["sha"])
            except (OSError, ValueError, AttributeError):
                pass
        return self.env.get("GITHUB_SHA", "").strip() or self.env.get("GITHUB_REF_NAME", "").strip()

    def start(self, description: str) -> None:
        """Create the deployment and mark it in progress."""
        ref = self.ref()
        if not self.repository or not ref:
            self.warn(
                "github-token is set, but this is not a GitHub Actions run (GITHUB_REPOSITORY or GITHUB_SHA "
                "is not set): no GitHub deployment is recorded"
            )
            return
        body = {
            "ref": ref,
            "environment": self.environment,
            "description": description[:DESCRIPTION_MAX],
            "auto_merge": False,  # never merge the default branch into the ref
            "required_contexts": [],  # deploying is this job's decision, not the commit statuses'
            "transient_environment": self.transient,
            "production_environment": self.environment.lower() == "production",
        }
        answer = self._post(f"/repos/{self.repository}/deployments", body, "creating the GitHub deployment")
        if isinstance(answer, dict) and isinstance(answer.get("id"), int):
            self.id = answer["id"]
            self.status("in_progress", "deploying")
        elif answer is not None:
            self.warn(
                "GitHub did not create a deployment: "
                f"{str(answer.get('message') if isinstance(answer, dict) else answer)[:200]}"
            )

    def status(self, state: str, description: str, environment_url: str | None = None) -> None:
        """Set the deployment's status (nothing when it was not created)."""
        if self.id is None:
            return
        body: dict[str, Any] = {
            "state": state,
            "log_url": self.log_url,
            "description": description[:DESCRIPTION_MAX],
            "environment": self.environment,
        }
        if environment_url:
            body["environment_url"] = environment_url
        self._post(
            f"/repos/{self.repository}/deployments/{self.id}/statuses", body, f"setting the GitHub deployment {state}"
        )

    def close(self) -> None:
        self.api.close()

    def _post(self, path: str, body: dict[str, Any], doing: str) -> Any:
        safe_path = quote(path, safe="/")
        try:
            return self.api.request("POST", safe_path, json_body=body)
        except HTTPStatusError as exc:
            hint = ""
            if exc.status in (401, 403, 404):
                hint = "; the token needs 'deployments: write' (in the workflow: permissions: deployments: write)"
            self.warn(f"GitHub answered {exc.status} while {doing}: {exc.server_message or 'no message'}{hint}")
        except DeployerError as exc:
            self.warn(f"could not reach GitHub while {doing}: {exc}")
        return None


def final_state(status: str, exit_code: int) -> str:
    """success, failure (a deployment failed or was cancelled), or error (anything that kept us from knowing)."""
    if exit_code == 0:
        return "success"
    if exit_code == 1:
        return "failure"
    return "error"


def environment_url(health_urls: list[str]) -> str | None:
    """The app's address for the Environments page: the first health URL's origin."""
    if not health_urls:
        return None
    parts = urlsplit(health_urls[0])
    return f"{parts.scheme}://{parts.netloc}/"
