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
    #: Deploy exactly this image tag (Docker-image resources), or this commit (Coolify git applications).
    image_tag: str | None = None
    commit: str | None = None
    #: Variables set on the resource before the deploy, in order; their values are secrets.
    env_vars: list[tuple[str, str]] = field(default_factory=list)
    #: When the new version's deployment fails, set back and deploy the previous version.
    rollback_on_failure: bool = False
    #: A stack defined in the repo: created or updated from this compose file, then deployed.
    compose_file: str | None = None
    #: Coolify: the server of a stack to create; and whether to take over domains in use.
    server: str | None = None
    force_domain_override: bool = False
    #: Where each setting that was given came from: "--uuid", "input 'uuid'", "COOLIFY_URL", "deployer.yml:4".
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def changes_asked(self) -> bool:
        """Whether the resources are changed before the deploy (a version or variables)."""
        return bool(self.image_tag or self.commit or self.env_vars)

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


def _flag(value: Any, where: str) -> bool:
    return parse_bool(str(value), where)


def _choice(options: tuple[str, ...]) -> Callable[[Any, str], str]:
    def parse(value: Any, where: str) -> str:
        word = str(value).strip().lower()
        if word not in options:
            raise InputError(f"{where}: {value!r} is not one of {', '.join(options)}")
        return word

    return parse


def _ids(value: Any, where: str) -> list[str]:
    return split_ids([value] if isinstance(value, str) else list(value), where)


def _pull_request(value: Any, where: str) -> int:
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0 or int(text) > 2**31:
        raise InputError(f"{where}: {value!r} is not a pull request number; use a whole number like 42")
    return int(text)


def _single_word(value: Any, where: str) -> str:
    text = _text(value, where)
    if any(ch.isspace() for ch in text):
        raise InputError(f"{where}: {value!r} must not contain spaces")
    return text


#: Docker's tag grammar (and Coolify's check of it): a word character first, at most 128 in all.
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
#: Coolify's check of a commit: a SHA, or a ref name.
_COMMIT = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._/-]*")
#: An environment variable's name, as both servers accept it.
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def _image_tag(value: Any, where: str) -> str:
    text = _text(value, where)
    if not _IMAGE_TAG.fullmatch(text):
        raise InputError(
            f"{where}: {text[:140]!r} is not a Docker image tag (letters, digits, '_', '.', '-'; "
            "not starting with '.' or '-'; at most 128)"
        )
    return text


def _commit(value: Any, where: str) -> str:
    text = _text(value, where)
    if not _COMMIT.fullmatch(text) or len(text) > 255:
        raise InputError(f"{where}: {text[:80]!r} is not a commit SHA or ref")
    return text


def env_assignments(value: Any, where: str) -> list[tuple[str, str]]:
    """KEY=VALUE pairs: repeated options, or one a line (the action input); a later KEY wins."""
    lines = [value] if isinstance(value, str) else list(value)
    pairs: dict[str, str] = {}
    for line in (part for item in lines for part in str(item).splitlines()):
        if not line.strip():
            continue
        key, sep, val = line.partition("=")
        key = key.strip()
        if not sep or not _ENV_KEY.fullmatch(key):
            shown = key[:40] if sep else "a line without '='"
            raise InputError(
                f"{where}: expected KEY=VALUE with KEY a variable name (letters, digits, '_'), got {shown!r}"
            )
        pairs.pop(key, None)
        pairs[key] = val
    return list(pairs.items())


def _compose_file(value: Any, where: str) -> str:
    """A compose file's path, the file checked now (valid YAML with services) so that a bad one
    is bad input before anything is sent."""
    from deployer.config import compose_file

    path = _text(value, where)
    compose_file.load(path, where)
    return path


def _url(value: Any, where: str) -> str:
    return normalize_url(str(value), where)


def _poll_interval(value: Any, where: str) -> float:
    return parse_duration(str(value), where, maximum=600)


#: The targets, by option name and by the config file's key.
_TARGETS = (
    ("uuid", "uuid"),
    ("tag", "tag"),
    ("application_id", "application-id"),
    ("compose_id", "compose-id"),
    ("name", "name"),
)


class _Resolver:
    """Resolves one option at a time through the sources, noting where each value came from."""

    def __init__(self, cli: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self.env = env
        self.src = _Sources(cli, env)
        self.sources: dict[str, str] = {}
        self.config_path: Any = None

    def opt(
        self,
        key: str,
        parse: Callable[[Any, str], Any],
        default: Any,
        *,
        input_name: str | None = "",
        env_names: tuple[str, ...] = (),
    ) -> Any:
        """The option's value, parsed (InputError naming where it came from), or `default`."""
        named = key.replace("_", "-") if input_name == "" else input_name
        value, where = self.src.get(key, input_name=named, env_names=env_names)
        if value is None:
            return default
        self.sources[key] = where
        return value if isinstance(value, bool) else parse(value, where)

    def config_file(self) -> tuple[str | None, dict[str, list[Any]]]:
        """Read the config file, if one is given: the chosen environment's name and its targets;
        from here on its options are a source."""
        config_path, config_where = self.src.get("config", input_name="config", env_names=("DEPLOYER_CONFIG",))
        environment = self.opt("environment", _text, None, env_names=("DEPLOYER_ENVIRONMENT",))
        self.config_path = config_path
        if config_path is None:
            return environment, {}
        from deployer.config import file as config_file

        path = _text(config_path, config_where)
        chosen = config_file.pick(config_file.load(path, config_where), environment, path, self.env)
        self.src.config = chosen.options
        self.src.expand = config_file.expand
        if "environment" not in self.sources:
            self.sources["environment"] = f"{config_path} (its only environment)"
        self.sources["config"] = config_where
        return chosen.name, _config_targets(chosen.resources)

    def targets(self, from_config: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """What to deploy: the options' targets, else the config file's."""
        given = {key: self.opt(key, resource_names if key == "name" else _ids, []) for key, _ in _TARGETS}
        if any(given.values()) or not from_config:
            return given
        for key, file_key in _TARGETS:
            given[key] = from_config.get(file_key, [])
            if given[key]:
                self.sources[key] = f"{self.config_path} (resources)"
        return given

    def provider(self, targets: dict[str, list[Any]]) -> str:
        """The provider given, else inferred from the targets, the token, the URL or the server."""
        provider: str | None = self.opt("provider", _choice(PROVIDERS), None, env_names=("DEPLOYER_PROVIDER",))
        if provider is not None:
            return provider
        given_token, _ = self.src.get("token", input_name="token")
        given_url, url_where = self.src.get("url", input_name="url", env_names=("COOLIFY_URL", "DOKPLOY_URL"))
        if given_url is not None:
            given_url = normalize_url(str(given_url), url_where)
        provider, why = _infer_provider(
            self.env,
            bool(targets["uuid"] or targets["tag"]),
            bool(targets["application_id"] or targets["compose_id"]),
            None if given_token is None else str(given_token),
            given_url,
        )
        self.sources["provider"] = f"inferred: {why}"
        return provider

    def server(self, provider: str) -> tuple[str, str]:
        """The server's URL and token (InputError naming what to set when one is missing)."""
        url_env = ("COOLIFY_URL",) if provider == "coolify" else ("DOKPLOY_URL",)
        token_env = ("COOLIFY_TOKEN",) if provider == "coolify" else ("DOKPLOY_API_KEY", "DOKPLOY_TOKEN")
        url = self.opt("url", _url, None, env_names=url_env)
        token = self.opt("token", secret_text, None, env_names=token_env)
        if url is None:
            raise InputError(f"no {provider} URL: pass --url or set {url_env[0]}")
        if token is None:
            raise InputError(f"no API token: pass --token or set {token_env[0]}")
        return url, token


def resolve(cli: Mapping[str, Any], env: Mapping[str, str] | None = None, *, targets: bool = True) -> Settings:
    """Build Settings from the CLI's values (None = not given) and the environment; `targets=False`
    for commands about one deployment, which need a server but nothing to deploy."""
    env = os.environ if env is None else env
    r = _Resolver(cli, env)
    environment, from_config = r.config_file()
    chosen = r.targets(from_config)
    provider = r.provider(chosen)
    url, token = r.server(provider)
    opt = r.opt
    settings = Settings(
        provider=provider,
        url=url,
        token=token,
        uuids=chosen["uuid"],
        tags=chosen["tag"],
        force=opt("force", _flag, False),
        pr=opt("pr", _pull_request, None),
        docker_tag=opt("docker_tag", _single_word, None),
        application_ids=chosen["application_id"],
        compose_ids=chosen["compose_id"],
        title=opt("title", _text, None) or (ci_run_title(env) if provider == "dokploy" else None),
        description=opt("description", _text, None),
        wait=opt("wait", _flag, True),
        timeout=opt("timeout", parse_duration, 15 * 60.0),
        poll_interval=opt("poll_interval", _poll_interval, 5.0),
        cancel_on_timeout=opt("cancel_on_timeout", _flag, False),
        logs=opt("logs", _choice(LOG_MODES), "stream"),
        ca_cert=opt("ca_cert", _text, None, env_names=("DEPLOYER_CA_CERT",)),
        insecure=opt("insecure", _flag, False),
        output=opt("output", _choice(OUTPUT_MODES), "text", input_name=None),
        dotenv=opt("dotenv", _text, None, input_name=None, env_names=("DEPLOYER_DOTENV",)),
        request_budget=opt("request_budget", _budget, 120.0, env_names=("DEPLOYER_REQUEST_BUDGET",)),
        names=chosen["name"],
        environment=environment,
        health_urls=opt("health_url", health_urls, []),
        wait_healthy=opt("wait_healthy", _flag, False),
        github_token=opt("github_token", secret_text, None, env_names=("DEPLOYER_GITHUB_TOKEN",)),
        github_environment=opt("github_environment", _text, None),
        dry_run=opt("dry_run", _flag, False),
        image_tag=opt("image_tag", _image_tag, None),
        commit=opt("commit", _commit, None),
        env_vars=opt("env", env_assignments, []),
        rollback_on_failure=opt("rollback_on_failure", _flag, False),
        compose_file=opt("compose_file", _compose_file, None),
        server=opt("server", _text, None),
        force_domain_override=opt("force_domain_override", _flag, False),
        config=None if r.config_path is None else str(r.config_path).strip(),
        sources=r.sources,
    )
    if targets:
        _check_targets(settings)
    _check_ca_cert(settings)
    return settings


def _check_ca_cert(settings: Settings) -> None:
    """A CA bundle that is not a readable PEM file is bad input (exit 2), found before any request."""
    if not settings.ca_cert:
        return
    if not os.path.isfile(settings.ca_cert):
        raise InputError(f"--ca-cert: no file at {settings.ca_cert!r}")
    try:
        _ = settings.verify  # loads the bundle now
    except Exception as exc:  # ssl.SSLError or a decoding error: not a PEM bundle
        raise InputError(f"--ca-cert: {settings.ca_cert!r} is not a PEM CA bundle ({type(exc).__name__})") from None


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


#: What each provider cannot deploy, as (the settings are wrong when..., what to say): first match wins.
_TARGET_RULES: dict[str, list[tuple[Callable[[Settings], object], str]]] = {
    "coolify": [
        (
            lambda s: s.application_ids or s.compose_ids,
            "--application-id and --compose-id are for Dokploy; for Coolify use --uuid or --tag",
        ),
        (
            lambda s: (s.uuids or s.names) and s.tags,
            "use --uuid/--name or --tag, not both (Coolify deploys one or the other)",
        ),
        (lambda s: not (s.uuids or s.tags or s.names), "nothing to deploy: pass --uuid, --tag or --name"),
        (
            lambda s: any(n.kind == "compose" for n in s.names),
            "kind 'compose' is Dokploy's; Coolify has application, service and database",
        ),
        (
            lambda s: s.docker_tag and s.pr is None,
            "--docker-tag needs --pr (Coolify uses it for pull request previews)",
        ),
        (lambda s: s.pr is not None and s.tags, "--pr works with --uuid only: Coolify deploys no previews by tag"),
        (
            lambda s: s.pr is not None and s.changes_asked,
            "--image-tag, --commit and --env change the resource itself, not a pull request preview: "
            "for a preview's image use --docker-tag",
        ),
        (
            lambda s: s.image_tag and s.commit,
            "--image-tag is for Docker-image applications and --commit for git ones: give one",
        ),
        (
            lambda s: s.rollback_on_failure and not (s.image_tag or s.commit),
            "--rollback-on-failure needs the version to deploy: --image-tag or --commit",
        ),
    ],
    "dokploy": [
        (
            lambda s: s.uuids or s.tags or s.force or s.pr is not None or s.docker_tag,
            "--uuid, --tag, --force, --pr and --docker-tag are for Coolify; "
            "for Dokploy use --application-id or --compose-id",
        ),
        (
            lambda s: not (s.application_ids or s.compose_ids or s.names),
            "nothing to deploy: pass --application-id, --compose-id or --name",
        ),
        (
            lambda s: any(n.kind in ("service", "database") for n in s.names),
            "Dokploy deploys applications and compose stacks; kind service/database is Coolify's",
        ),
        (
            lambda s: s.wait_healthy,
            "--wait-healthy is for Coolify: Dokploy reports no application health; use --health-url",
        ),
        (
            lambda s: s.commit,
            "--commit is for Coolify: Dokploy has no API to deploy a given commit; "
            "deploy the branch, or use --image-tag",
        ),
        (
            lambda s: s.rollback_on_failure and not s.image_tag,
            "--rollback-on-failure needs the version to deploy: --image-tag",
        ),
        (
            lambda s: (s.image_tag or s.env_vars) and s.compose_ids,
            "--image-tag and --env apply to Dokploy applications, not compose stacks",
        ),
    ],
}


#: What --compose-file needs, by provider (checked before the rules above).
_STACK_RULES: dict[str, list[tuple[Callable[[Settings], object], str]]] = {
    "coolify": [
        (
            lambda s: s.uuids or s.tags,
            "--compose-file names its stack with --name PROJECT/ENVIRONMENT/NAME, not --uuid or --tag",
        ),
        (
            lambda s: len(s.names) != 1 or not (s.names[0].project and s.names[0].environment),
            "--compose-file needs the stack's place: one --name PROJECT/ENVIRONMENT/NAME (created there when missing)",
        ),
    ],
    "dokploy": [
        (
            lambda s: s.application_ids,
            "--compose-file makes a compose stack: use --compose-id or --name, not --application-id",
        ),
        (
            lambda s: len(s.compose_ids) + len(s.names) != 1,
            "--compose-file needs one stack: --compose-id ID, "
            "or --name PROJECT/ENVIRONMENT/NAME (created when missing)",
        ),
        (
            lambda s: s.names and not (s.names[0].project and s.names[0].environment),
            "--compose-file with --name needs PROJECT/ENVIRONMENT/NAME: where to create the stack when it is missing",
        ),
        (lambda s: s.server or s.force_domain_override, "--server and --force-domain-override are for Coolify"),
    ],
}


def _check_targets(s: Settings) -> None:
    """Targets the provider can deploy, and options that fit them (InputError on the first misfit)."""
    if s.compose_file:
        for wrong, message in _STACK_RULES[s.provider]:
            if wrong(s):
                raise InputError(message)
        if s.changes_asked:
            raise InputError("--compose-file defines the stack itself: --image-tag, --commit and --env do not apply")
    elif s.server or s.force_domain_override:
        raise InputError("--server and --force-domain-override go with --compose-file")
    for wrong, message in _TARGET_RULES[s.provider]:
        if wrong(s):
            raise InputError(message)
