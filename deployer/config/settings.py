"""Turn options, action inputs (`INPUT_*`) and environment variables into one checked Settings.

Precedence (CONTRACT.md): command-line option > action input > config file (the chosen
environment's values) > environment variable > default.
Every bad value is an InputError (exit 2) naming the option and what it accepts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from deployer.errors import InputError
from deployer.http import MAX_REQUEST_SECONDS
from deployer.model import ResourceName

if TYPE_CHECKING:
    import ssl

PROVIDERS = ("coolify", "dokploy")
LOG_MODES = ("stream", "on-failure", "none")
OUTPUT_MODES = ("text", "json")

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)?")
_SEPARATORS = re.compile(r"[,\s]+")
_NAME_SEPARATORS = re.compile(r"[,\n]+")
_ID = re.compile(r"^[A-Za-z0-9_.:-]+$")
MAX_TIMEOUT = 24 * 3600.0
MAX_ID = 200


@dataclass
class Settings:
    """Everything one `deployer deploy` run needs, already checked."""

    provider: str
    url: str
    token: str
    uuids: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    force: bool = False
    pr: int | None = None
    docker_tag: str | None = None
    application_ids: list[str] = field(default_factory=list)
    compose_ids: list[str] = field(default_factory=list)
    title: str | None = None
    description: str | None = None
    wait: bool = True
    timeout: float = 15 * 60.0
    poll_interval: float = 5.0
    cancel_on_timeout: bool = False
    logs: str = "stream"
    ca_cert: str | None = None
    insecure: bool = False
    output: str = "text"
    dotenv: str | None = None
    request_budget: float = 120.0
    names: list[ResourceName] = field(default_factory=list)
    environment: str | None = None
    health_urls: list[str] = field(default_factory=list)
    wait_healthy: bool = False
    github_token: str | None = None
    github_environment: str | None = None
    dry_run: bool = False
    config: str | None = None
    #: Where each setting that was given came from: "--uuid", "input 'uuid'", "COOLIFY_URL", "deployer.yml:4".
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def verify(self) -> bool | ssl.SSLContext:
        """What httpx verifies TLS with: the system's CAs, a private CA bundle, or nothing."""
        if self.insecure:
            return False
        if self.ca_cert:
            import ssl

            return ssl.create_default_context(cafile=self.ca_cert)
        return True

    @property
    def request_timeout(self) -> float:
        """A request's own time limit: never past the run's timeout."""
        return min(MAX_REQUEST_SECONDS, self.timeout)

    @property
    def token_in_clear(self) -> bool:
        """A plain http:// URL to a host other than this machine: the token crosses the network unencrypted."""
        parts = urlsplit(self.url)
        return (
            parts.scheme == "http"
            and (parts.hostname or "") not in ("localhost", "127.0.0.1", "::1")
            and not (parts.hostname or "").startswith("127.")
        )


def parse_bool(value: str, option: str) -> bool:
    """`true/false/yes/no/1/0` in any case, as CONTRACT.md allows for boolean inputs."""
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise InputError(f"{option}: {value!r} is not a boolean; use true or false")


def parse_duration(value: str, option: str, *, minimum: float = 0.0, maximum: float = MAX_TIMEOUT) -> float:
    """`90`, `90s`, `1.5s`, `15m`, `1h`, `1m30s` -> seconds."""
    text = value.strip().lower()
    parts = list(_DURATION_PART.finditer(text))
    if not text or "".join(p.group(0) for p in parts) != text:
        raise InputError(f"{option}: {value!r} is not a duration; use e.g. 90, 90s, 15m or 1h")
    scale = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "h": 3600.0}
    seconds = sum(float(p.group(1)) * scale[p.group(2)] for p in parts)
    if seconds <= minimum:
        raise InputError(f"{option}: {value!r} is too short; it must be more than {minimum:g}s")
    if seconds > maximum:
        raise InputError(f"{option}: {value!r} is too long; at most {maximum / 3600:g}h")
    return seconds


def split_ids(values: list[str], option: str) -> list[str]:
    """Ids repeated, or comma-, space- or newline-separated; duplicates dropped, order kept."""
    ids: list[str] = []
    for value in values:
        for item in _SEPARATORS.split(value.strip()):
            if not item:
                continue
            if len(item) > MAX_ID:
                raise InputError(f"{option}: an id of {len(item)} characters is not an id (at most {MAX_ID})")
            if not _ID.match(item):
                raise InputError(f"{option}: {item!r} is not a valid id; ids are letters, digits, '-', '_', '.' or ':'")
            if item not in ids:
                ids.append(item)
    return ids


def normalize_url(value: str, option: str = "--url") -> str:
    """The instance's base URL; a trailing `/`, `/api` or `/api/v1` is tolerated and dropped.
    A `user:password@` part is refused, never echoed: deployer sends the token, never a password."""
    text = value.strip()
    try:
        parts = urlsplit(text)
        userinfo = "@" in parts.netloc
        _ = parts.hostname  # raises on a malformed host ([::1)
    except ValueError:
        if "@" in text:
            raise InputError(
                f"{option}: the URL is malformed and has a user:password@ part; give the instance's base URL, "
                "without credentials"
            ) from None
        raise InputError(
            f"{option}: {value!r} is not a URL (malformed host); use e.g. https://coolify.example.com"
        ) from None
    if userinfo:
        raise InputError(
            f"{option}: remove the user:password@ part of the URL ({parts.scheme}://***@{parts.hostname}); "
            "deployer authenticates with the token and never sends a password"
        )
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in text):
        raise InputError(f"{option}: the URL has a space or control character in it; give the instance's base URL")
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in text:
        raise InputError(f"{option}: {value!r} is not a URL; use e.g. https://coolify.example.com")
    if parts.query or parts.fragment:
        raise InputError(f"{option}: {value!r} must not have a query or fragment; give the instance's base URL")
    try:
        _ = parts.port  # raises on a port out of range
    except ValueError:
        raise InputError(f"{option}: {value!r} has an invalid port") from None
    path = parts.path.rstrip("/")
    for suffix in ("/api/v1", "/api"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return f"{parts.scheme}://{parts.netloc}{path}"


class _Sources:
    """Looks one option up in the command line, the action input, the environment, then the config file."""

    def __init__(self, cli: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self.cli = cli
        self.env = env
        self.config: Mapping[str, tuple[Any, str]] = {}
        self.expand: Callable[[Any, str, Mapping[str, str]], Any] = lambda value, where, env: value

    def get(self, key: str, *, input_name: str | None = None, env_names: tuple[str, ...] = ()) -> Any:
        """Return (value, where) for the first source that gives one; (None, None) for none.
        What was written for this target (the config file) beats what is set around it (the
        environment): a file's `token: ${COOLIFY_TOKEN_PRODUCTION}` is not overridden by COOLIFY_TOKEN."""
        value = self.cli.get(key)
        if value not in (None, (), []):
            return value, "--" + key.replace("_", "-")
        if input_name:
            # GitHub keeps the hyphens (INPUT_POLL-INTERVAL); GitLab's variables cannot have them
            # (the CI/CD component in templates/ sets INPUT_POLL_INTERVAL).
            name = "INPUT_" + input_name.upper().replace(" ", "_")
            raw = self.env.get(name, "") or self.env.get(name.replace("-", "_"), "")
            if raw.strip():
                return raw, f"input {input_name!r}"
        if key in self.config:
            value, where = self.config[key]
            value = self.expand(value, where, self.env)
            return (value if isinstance(value, (bool, list)) else str(value)), where
        for name in env_names:
            raw = self.env.get(name, "")
            if raw.strip():
                return raw, name
        return None, None


def _text(value: Any, where: str) -> str:
    text = str(value).strip()
    if not text:
        raise InputError(f"{where}: must not be empty")
    return text


def secret_text(value: Any, where: str) -> str:
    """A token: surrounding white space (a trailing newline from a file) trimmed; one inside, or a
    character an HTTP header cannot carry, is refused. The value is never shown."""
    text = _text(value, where)
    if any(not 0x21 <= ord(ch) <= 0x7E for ch in text):
        raise InputError(
            f"{where}: the token has a line break, space, control or non-ASCII character inside "
            "(a token is one line of printable ASCII); check how the secret was stored (the value is not shown)"
        )
    return text


def resolve(cli: Mapping[str, Any], env: Mapping[str, str] | None = None, *, targets: bool = True) -> Settings:
    """Build Settings from the CLI's values (None = not given) and the environment; `targets=False`
    for commands about one deployment, which need a server but nothing to deploy."""
    env = os.environ if env is None else env
    src = _Sources(cli, env)
    sources: dict[str, str] = {}

    def opt(
        key: str,
        parse: Callable[[Any, str], Any],
        default: Any,
        *,
        input_name: str | None = "",
        env_names: tuple[str, ...] = (),
    ) -> Any:
        value, where = src.get(
            key, input_name=key.replace("_", "-") if input_name == "" else input_name, env_names=env_names
        )
        if value is None:
            return default
        sources[key] = where
        if isinstance(value, bool):
            return value
        return parse(value, where)

    def flag(value: Any, where: str) -> bool:
        return parse_bool(str(value), where)

    def choice(options: tuple[str, ...]) -> Callable[[Any, str], str]:
        def parse(value: Any, where: str) -> str:
            word = str(value).strip().lower()
            if word not in options:
                raise InputError(f"{where}: {value!r} is not one of {', '.join(options)}")
            return word

        return parse

    def ids(value: Any, where: str) -> list[str]:
        return split_ids([value] if isinstance(value, str) else list(value), where)

    def positive_int(value: Any, where: str) -> int:
        text = str(value).strip()
        if not text.isdigit() or int(text) <= 0 or int(text) > 2**31:
            raise InputError(f"{where}: {value!r} is not a pull request number; use a whole number like 42")
        return int(text)

    def single_word(value: Any, where: str) -> str:
        text = _text(value, where)
        if any(ch.isspace() for ch in text):
            raise InputError(f"{where}: {value!r} must not contain spaces")
        return text

    config_path, config_where = src.get("config", input_name="config", env_names=("DEPLOYER_CONFIG",))
    environment = opt("environment", _text, None, env_names=("DEPLOYER_ENVIRONMENT",))
    config_targets: dict[str, list[Any]] = {}
    if config_path is not None:
        from deployer.config import file as config_file

        path = _text(config_path, config_where)
        chosen = config_file.pick(config_file.load(path, config_where), environment, path, env)
        environment = chosen.name
        src.config = chosen.options
        src.expand = config_file.expand
        config_targets = _config_targets(chosen.resources)

    uuids = opt("uuid", ids, [])
    tags = opt("tag", ids, [])
    application_ids = opt("application_id", ids, [])
    compose_ids = opt("compose_id", ids, [])
    names = opt("name", resource_names, [])
    if not (uuids or tags or application_ids or compose_ids or names) and config_targets:
        uuids, tags = config_targets.get("uuid", []), config_targets.get("tag", [])
        application_ids, compose_ids = config_targets.get("application-id", []), config_targets.get("compose-id", [])
        names = config_targets.get("name", [])
        for key in ("uuid", "tag", "application-id", "compose-id", "name"):
            if config_targets.get(key):
                sources[key.replace("-", "_")] = f"{config_path} (resources)"

    provider = opt("provider", choice(PROVIDERS), None, env_names=("DEPLOYER_PROVIDER",))
    if provider is None:
        given_token, _ = src.get("token", input_name="token")
        given_url, url_where = src.get("url", input_name="url", env_names=("COOLIFY_URL", "DOKPLOY_URL"))
        if given_url is not None:
            given_url = normalize_url(str(given_url), url_where)
        provider, why = _infer_provider(
            env,
            bool(uuids or tags),
            bool(application_ids or compose_ids),
            None if given_token is None else str(given_token),
            given_url,
        )
        sources["provider"] = f"inferred: {why}"

    url_env = ("COOLIFY_URL",) if provider == "coolify" else ("DOKPLOY_URL",)
    token_env = ("COOLIFY_TOKEN",) if provider == "coolify" else ("DOKPLOY_API_KEY", "DOKPLOY_TOKEN")
    url = opt("url", lambda v, w: normalize_url(str(v), w), None, env_names=url_env)
    token = opt("token", secret_text, None, env_names=token_env)
    if url is None:
        raise InputError(f"no {provider} URL: pass --url or set {url_env[0]}")
    if token is None:
        raise InputError(f"no API token: pass --token or set {token_env[0]}")

    settings = Settings(
        provider=provider,
        url=url,
        token=token,
        uuids=uuids,
        tags=tags,
        force=opt("force", flag, False),
        pr=opt("pr", positive_int, None),
        docker_tag=opt("docker_tag", single_word, None),
        application_ids=application_ids,
        compose_ids=compose_ids,
        title=opt("title", _text, None) or (ci_run_title(env) if provider == "dokploy" else None),
        description=opt("description", _text, None),
        wait=opt("wait", flag, True),
        timeout=opt("timeout", parse_duration, 15 * 60.0),
        poll_interval=opt("poll_interval", lambda v, w: parse_duration(str(v), w, maximum=600), 5.0),
        cancel_on_timeout=opt("cancel_on_timeout", flag, False),
        logs=opt("logs", choice(LOG_MODES), "stream"),
        ca_cert=opt("ca_cert", _text, None, env_names=("DEPLOYER_CA_CERT",)),
        insecure=opt("insecure", flag, False),
        output=opt("output", choice(OUTPUT_MODES), "text", input_name=None),
        dotenv=opt("dotenv", _text, None, input_name=None, env_names=("DEPLOYER_DOTENV",)),
        request_budget=opt("request_budget", _budget, 120.0, env_names=("DEPLOYER_REQUEST_BUDGET",)),
        names=names,
        environment=environment,
        health_urls=opt("health_url", health_urls, []),
        wait_healthy=opt("wait_healthy", flag, False),
        github_token=opt("github_token", secret_text, None, env_names=("DEPLOYER_GITHUB_TOKEN",)),
        github_environment=opt("github_environment", _text, None),
        dry_run=opt("dry_run", flag, False),
        config=None if config_path is None else str(config_path).strip(),
        sources=sources,
    )
    if environment is not None and "environment" not in sources and config_path is not None:
        sources["environment"] = f"{config_path} (its only environment)"
    if "config" not in sources and config_path is not None:
        sources["config"] = config_where
    if targets:
        _check_targets(settings)
    if settings.ca_cert:
        if not os.path.isfile(settings.ca_cert):
            raise InputError(f"--ca-cert: no file at {settings.ca_cert!r}")
        try:
            _ = settings.verify  # loads the bundle now, so a bad file is bad input (exit 2)
        except Exception as exc:  # ssl.SSLError or a decoding error: not a PEM bundle
            raise InputError(f"--ca-cert: {settings.ca_cert!r} is not a PEM CA bundle ({type(exc).__name__})") from None
    return settings


def resource_names(value: Any, where: str) -> list[ResourceName]:
    """`--name api`, `--name shop/api` (project/name) or `--name shop/production/api`, comma- or
    newline-separated: names may hold spaces."""
    found: list[ResourceName] = []
    for raw in [value] if isinstance(value, str) else list(value):
        for item in _NAME_SEPARATORS.split(str(raw)):
            item = item.strip()
            if not item:
                continue
            parts = [p.strip() for p in item.split("/")]
            if len(parts) > 3 or not all(parts):
                raise InputError(f"{where}: {item!r} is not a name; use NAME, PROJECT/NAME or PROJECT/ENVIRONMENT/NAME")
            project = parts[0] if len(parts) > 1 else None
            environment = parts[1] if len(parts) == 3 else None
            name = ResourceName(parts[-1], project=project, environment=environment, where=where)
            if name not in found:
                found.append(name)
    return found


def health_urls(value: Any, where: str) -> list[str]:
    """One or more http(s) URLs, repeated or separated by spaces or newlines."""
    urls: list[str] = []
    for raw in [value] if isinstance(value, str) else list(value):
        for item in str(raw).split():
            try:
                parts = urlsplit(item)
                good = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
            except ValueError:  # a malformed host ([::1) or port
                good = False
            if not good:
                raise InputError(f"{where}: {item!r} is not an http(s) URL; use e.g. https://app.example.com/health")
            if item not in urls:
                urls.append(item)
    return urls


def _config_targets(resources: list[Any]) -> dict[str, list[Any]]:
    """The config file's resources, sorted into the option each would be given as."""
    targets: dict[str, list[Any]] = {}
    for ref in resources:
        if ref.key == "name":
            value: Any = ResourceName(
                ref.value, kind=ref.kind, project=ref.project, environment=ref.environment, where=ref.where
            )
        else:
            value = split_ids([ref.value], ref.where)[0] if ref.key != "tag" else ref.value
        if value not in targets.setdefault(ref.key, []):
            targets[ref.key].append(value)
    return targets


def _budget(value: Any, where: str) -> float:
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        raise InputError(f"{where}: {value!r} is not a number of requests per minute; use e.g. 60") from None
    if not 1 <= number <= 1000:
        raise InputError(f"{where}: {value!r} is out of range; use 1 to 1000 requests per minute")
    return number


def ci_run_title(env: Mapping[str, str]) -> str:
    """A default Dokploy title that names the CI run: repository, ref, short sha, run id."""
    repo = env.get("GITHUB_REPOSITORY") or env.get("CI_PROJECT_PATH") or ""
    ref = env.get("GITHUB_REF_NAME") or env.get("CI_COMMIT_REF_NAME") or ""
    sha = (env.get("GITHUB_SHA") or env.get("CI_COMMIT_SHA") or "")[:7]
    run = env.get("GITHUB_RUN_ID") or env.get("CI_PIPELINE_ID") or ""
    parts = [f"{repo}@{ref}" if repo and ref else repo or ref, sha, f"run {run}" if run else ""]
    named = " ".join(p for p in parts if p)
    return f"deployer: {named}" if named else "deployer"


_COOLIFY_TOKEN_SHAPE = re.compile(r"^\d+\|\S+$")


def _infer_provider(
    env: Mapping[str, str], coolify_targets: bool, dokploy_targets: bool, token: str | None, url: str | None
) -> tuple[str, str]:
    """The provider where only one fits, and why: the targets given, the one server whose URL or
    token variable is set, a token shaped `id|secret` (Coolify's), else one probe of the server."""
    if coolify_targets != dokploy_targets:
        return (
            ("coolify", "--uuid/--tag are Coolify's")
            if coolify_targets
            else ("dokploy", "--application-id/--compose-id are Dokploy's")
        )
    for names in (("COOLIFY_URL", "DOKPLOY_URL"), ("COOLIFY_TOKEN", "DOKPLOY_API_KEY", "DOKPLOY_TOKEN")):
        found = {("coolify" if n.startswith("COOLIFY") else "dokploy", n) for n in names if env.get(n, "").strip()}
        if len({p for p, _ in found}) == 1:
            provider, name = sorted(found)[0]
            return provider, f"only {name} is set"
    if token and _COOLIFY_TOKEN_SHAPE.match(token.strip()):
        return "coolify", "the token is shaped id|secret, as Coolify's are"
    if url:
        from deployer.http import probe_provider

        found_by_probe = probe_provider(url)
        if found_by_probe:
            return found_by_probe, f"{url}/api/health answered as {found_by_probe} does"
    raise InputError("which server? pass --provider coolify or --provider dokploy")


def _check_targets(s: Settings) -> None:
    if s.provider == "coolify":
        if s.application_ids or s.compose_ids:
            raise InputError("--application-id and --compose-id are for Dokploy; for Coolify use --uuid or --tag")
        if (s.uuids or s.names) and s.tags:
            raise InputError("use --uuid/--name or --tag, not both (Coolify deploys one or the other)")
        if not (s.uuids or s.tags or s.names):
            raise InputError("nothing to deploy: pass --uuid, --tag or --name")
        if any(n.kind == "compose" for n in s.names):
            raise InputError("kind 'compose' is Dokploy's; Coolify has application, service and database")
        if s.docker_tag and s.pr is None:
            raise InputError("--docker-tag needs --pr (Coolify uses it for pull request previews)")
        if s.pr is not None and s.tags:
            raise InputError("--pr works with --uuid only: Coolify deploys no previews by tag")
    else:
        if s.uuids or s.tags or s.force or s.pr is not None or s.docker_tag:
            raise InputError(
                "--uuid, --tag, --force, --pr and --docker-tag are for Coolify; "
                "for Dokploy use --application-id or --compose-id"
            )
        if not (s.application_ids or s.compose_ids or s.names):
            raise InputError("nothing to deploy: pass --application-id, --compose-id or --name")
        if any(n.kind in ("service", "database") for n in s.names):
            raise InputError("Dokploy deploys applications and compose stacks; kind service/database is Coolify's")
        if s.wait_healthy:
            raise InputError("--wait-healthy is for Coolify: Dokploy reports no application health; use --health-url")
