"""Settings: one immutable object built from ``DIGEST_*`` environment variables.

With nothing set, digest runs embedded: SQLite under ``./var/``, no broker (in-process),
and emails written to ``./var/outbox/``. Every value is validated here, so a wrong setting
fails early with one line naming the variable instead of a traceback deep in a library.
An optional TOML file (``DIGEST_CONFIG``) supplies the same keys in lower case without the
prefix; the environment wins over the file.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from digest.db.sqlite_reader import sqlite_file
from digest.errors import ConfigError
from digest.rank.options import RankOptions

PREFIX = "DIGEST_"


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to reach the SMTP relay (parsed from ``DIGEST_SMTP_URL``)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl: bool = False
    starttls: bool = False
    timeout: float = 30.0

    @property
    def display(self) -> str:
        scheme = "smtps" if self.ssl else "smtp"
        return f"{scheme}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class DkimConfig:
    """DKIM signing: selector, signing domain (d=) and the PEM private key."""

    selector: str
    domain: str
    key_file: Path
    key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Settings:
    """Every runtime setting of digest; build it with :meth:`from_env`."""

    var_dir: Path
    database_url: str
    broker_url: str | None
    smtp: SmtpConfig | None
    outbox_dir: Path
    from_name: str
    from_address: str
    base_url: str
    secret_key: str = field(repr=False)
    templates_dir: Path
    top_k: int = 10
    candidate_days: int = 7
    ledger_retention_days: int = 400  # settled ledger rows kept this long; 0: for ever
    batch_size: int = 200
    # SMTP connections a worker process sends a batch over at once (digest.pipeline.service)
    smtp_connections: int = 2
    lease_seconds: int = 600
    max_attempts: int = 5
    retry_backoff_seconds: int = 300
    stall_seconds: int = 30  # a run on workers: no progress for this long -> enqueue again
    # A run on workers ranks its second and later chunks this many nice steps below the
    # workers (pipeline/rank_ahead.py); 0: at the run's own priority
    ranking_nice: int = 10
    give_up_seconds: int = 600  # ... and for this long -> stop (the rows stay open)
    contact_line: str = ""
    postal_address: str = ""
    site_name: str = "digest"  # the name readers see: headings, footers, subjects, List-Id
    unsubscribe_mailto: str = ""
    feedback_id: str = ""
    dkim: DkimConfig | None = None
    # [sources.NAME] tables of the TOML file, validated by digest.ingest.sources
    sources: dict[str, dict[str, object]] = field(default_factory=dict)
    rank: str = ""  # ranking overrides, "key=value,..." (see digest.rank.options)
    # The subscription site:
    secret_key_generated: bool = False  # True when the key came from var/secret_key
    redis_url: str | None = None  # shared rate limits of the web processes
    allow_http_links: bool = False  # let `digest run` send over SMTP with http:// links
    web_cache_seconds: int = 60
    confirm_link_hours: int = 168  # how long a confirmation link works (7 days)
    # SMTP send rate, one limit per relay shared by every worker (digest.deliver.throttle)
    smtp_rate_per_second: float = 0.0  # 0: unlimited
    smtp_rate_per_hour: int = 0  # 0: unlimited
    # Asynchronous bounces (digest.deliver.inbound): the VERP mailbox and Mailman's scoring
    bounce_address: str = ""  # empty: bounces@<from domain> (see bounce_mailbox)
    bounce_score_threshold: float = 5.0
    bounce_window_days: int = 7
    policy_pause_after: int = 5  # readers refused by policy (5.7.x) that pause an edition
    # Prometheus /metrics on the web app (digest.metrics): off unless asked for; with a
    # token, only for a request carrying it as a bearer token.
    metrics: bool = False
    metrics_token: str = field(default="", repr=False)

    @property
    def bounce_mailbox(self) -> str:
        """The mailbox of VERP return paths: ``DIGEST_BOUNCE_ADDRESS`` or
        ``bounces@<from domain>``."""
        return self.bounce_address or f"bounces@{self.from_domain}"

    @property
    def confirm_max_age(self) -> int:
        """Seconds a confirmation link works: what the site accepts and the email says."""
        return self.confirm_link_hours * 3600

    @property
    def links_are_https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def from_domain(self) -> str:
        return self.from_address.rpartition("@")[2]

    @property
    def list_id(self) -> str:
        return f"digest.{self.from_domain}"

    @property
    def metrics_served(self) -> bool:
        """``/metrics`` exists: ``DIGEST_METRICS=1`` or a ``DIGEST_METRICS_TOKEN``."""
        return self.metrics or bool(self.metrics_token)

    @property
    def in_process(self) -> bool:
        return self.broker_url is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, cwd: Path | None = None) -> Settings:
        """Read settings from ``env`` (default ``os.environ``) and an optional TOML file."""
        env = dict(os.environ if env is None else env)
        values = _read_toml(env.get(PREFIX + "CONFIG"))
        values.update({k[len(PREFIX) :].lower(): v for k, v in env.items() if k.startswith(PREFIX)})
        base = cwd or Path.cwd()

        var_dir = Path(values.get("var_dir") or base / "var")
        database_url = values.get("database_url") or f"sqlite:///{var_dir / 'digest.db'}"
        _check_database_url(database_url)
        broker_url = values.get("broker_url") or None
        if broker_url:
            _check_url("DIGEST_BROKER_URL", broker_url, {"redis", "rediss", "amqp", "pyamqp"})
        smtp_url = values.get("smtp_url") or None
        from_name, from_address = _parse_from(values.get("from") or "digest <digest@localhost>")
        base_url = (values.get("base_url") or "http://localhost:8000").rstrip("/")
        _check_url("DIGEST_BASE_URL", base_url, {"http", "https"})
        secret_key = values.get("secret_key") or ""
        secret_key_generated = not secret_key
        if secret_key_generated:
            secret_key = _embedded_secret(var_dir)
        redis_url = values.get("redis_url") or None
        if redis_url:
            _check_url("DIGEST_REDIS_URL", redis_url, {"redis", "rediss"})
        elif broker_url and broker_url.startswith("redis"):
            redis_url = broker_url
        if len(secret_key) < 16:
            raise ConfigError("DIGEST_SECRET_KEY: must be at least 16 characters long")
        return cls(
            var_dir=var_dir,
            database_url=database_url,
            broker_url=broker_url,
            smtp=parse_smtp_url(smtp_url) if smtp_url else None,
            outbox_dir=Path(values.get("outbox_dir") or var_dir / "outbox"),
            from_name=from_name,
            from_address=from_address,
            base_url=base_url,
            secret_key=secret_key,
            templates_dir=Path(values.get("templates_dir") or default_templates_dir()),
            top_k=_int("DIGEST_TOP_K", values.get("top_k", 10), 1, 100),
            candidate_days=_int("DIGEST_CANDIDATE_DAYS", values.get("candidate_days", 7), 1, 365),
            ledger_retention_days=_int(
                "DIGEST_LEDGER_RETENTION_DAYS", values.get("ledger_retention_days", 400), 0, 36_500
            ),
            batch_size=_int("DIGEST_BATCH_SIZE", values.get("batch_size", 200), 1, 100_000),
            smtp_connections=_int(
                "DIGEST_SMTP_CONNECTIONS", values.get("smtp_connections", 2), 1, 16
            ),
            lease_seconds=_int("DIGEST_LEASE_SECONDS", values.get("lease_seconds", 600), 1, 86_400),
            max_attempts=_int("DIGEST_MAX_ATTEMPTS", values.get("max_attempts", 5), 1, 100),
            retry_backoff_seconds=_int(
                "DIGEST_RETRY_BACKOFF_SECONDS", values.get("retry_backoff_seconds", 300), 0, 86_400
            ),
            stall_seconds=_int("DIGEST_STALL_SECONDS", values.get("stall_seconds", 30), 1, 3600),
            ranking_nice=_int("DIGEST_RANKING_NICE", values.get("ranking_nice", 10), 0, 19),
            give_up_seconds=_int(
                "DIGEST_GIVE_UP_SECONDS", values.get("give_up_seconds", 600), 1, 86_400
            ),
            contact_line=_one_line("DIGEST_CONTACT_LINE", values.get("contact_line")),
            site_name=_site_name(values.get("site_name"), from_name),
            postal_address=_one_line("DIGEST_POSTAL_ADDRESS", values.get("postal_address")),
            unsubscribe_mailto=_mailbox(
                "DIGEST_UNSUBSCRIBE_MAILTO", values.get("unsubscribe_mailto")
            ),
            feedback_id=_feedback_id(values.get("feedback_id")),
            dkim=_dkim(values, from_address),
            sources=_read_toml_tables(env.get(PREFIX + "CONFIG"), "sources"),
            rank=_rank_options(values.get("rank")),
            secret_key_generated=secret_key_generated,
            redis_url=redis_url,
            allow_http_links=_bool("DIGEST_ALLOW_HTTP_LINKS", values.get("allow_http_links")),
            web_cache_seconds=_int(
                "DIGEST_WEB_CACHE_SECONDS", values.get("web_cache_seconds", 60), 0, 86_400
            ),
            confirm_link_hours=_int(
                "DIGEST_CONFIRM_LINK_HOURS", values.get("confirm_link_hours", 168), 1, 720
            ),
            smtp_rate_per_second=_float(
                "DIGEST_SMTP_RATE_PER_SECOND", values.get("smtp_rate_per_second", 0), 0, 100_000
            ),
            smtp_rate_per_hour=_int(
                "DIGEST_SMTP_RATE_PER_HOUR", values.get("smtp_rate_per_hour", 0), 0, 100_000_000
            ),
            bounce_address=_bounce_address(values.get("bounce_address"), from_address),
            bounce_score_threshold=_float(
                "DIGEST_BOUNCE_SCORE_THRESHOLD", values.get("bounce_score_threshold", 5), 0.5, 1000
            ),
            policy_pause_after=_int(
                "DIGEST_POLICY_PAUSE_AFTER", values.get("policy_pause_after", 5), 1, 1_000_000
            ),
            bounce_window_days=_int(
                "DIGEST_BOUNCE_WINDOW_DAYS", values.get("bounce_window_days", 7), 1, 365
            ),
            metrics=_bool("DIGEST_METRICS", values.get("metrics")),
            metrics_token=_metrics_token(values.get("metrics_token")),
        )


def _rank_options(value: object) -> str:
    """``DIGEST_RANK``, checked now so a typo fails at start-up with the variable's name."""
    text = str(value or "")
    RankOptions.parse(text)
    return text


def default_templates_dir() -> Path:
    """``templates/`` of a source checkout, or the copy bundled inside an installed wheel."""
    package_dir = Path(__file__).resolve().parent
    bundled = package_dir / "_templates"
    return bundled if bundled.is_dir() else package_dir.parent / "templates"


def parse_smtp_url(url: str) -> SmtpConfig:
    """``smtp://user:pass@host:port``, ``smtps://...``, ``?starttls=1&timeout=10``."""
    name = "DIGEST_SMTP_URL"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{name}: not a valid URL ({exc})") from None
    if parts.scheme not in ("smtp", "smtps"):
        raise ConfigError(f"{name}: scheme must be smtp:// or smtps://, got {url!r}")
    if not parts.hostname:
        raise ConfigError(f"{name}: no host in {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "timeout"}
    if unknown:
        raise ConfigError(f"{name}: unknown option(s) {', '.join(sorted(unknown))}")
    ssl = parts.scheme == "smtps"
    starttls = query.get("starttls", "0").lower() in ("1", "true", "yes")
    if ssl and starttls:
        raise ConfigError(f"{name}: smtps:// and starttls=1 exclude each other")
    try:
        timeout = float(query.get("timeout", 30))
    except ValueError:
        raise ConfigError(f"{name}: timeout must be a number of seconds") from None
    return SmtpConfig(
        host=parts.hostname,
        port=port or (465 if ssl else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ssl=ssl,
        starttls=starttls,
        timeout=timeout,
    )


def _read_toml(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"DIGEST_CONFIG: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"DIGEST_CONFIG: {path} is not valid TOML: {exc}") from None
    section = data.get("digest", data)
    return {str(k).lower(): v for k, v in section.items() if not isinstance(v, dict)}


def _read_toml_tables(path: str | None, name: str) -> dict[str, dict[str, object]]:
    """``[name.KEY]`` tables (top level or under ``[digest]``), e.g. the paper sources."""
    if not path:
        return {}
    with open(path, "rb") as fh:  # readable: _read_toml has just read it
        data = tomllib.load(fh)
    tables = data.get(name) or data.get("digest", {}).get(name) or {}
    if not isinstance(tables, dict) or not all(isinstance(v, dict) for v in tables.values()):
        raise ConfigError(f"DIGEST_CONFIG: {name} must hold one {name}.NAME table per entry")
    return {str(k): dict(v) for k, v in tables.items()}


def _check_database_url(url: str) -> None:
    if sqlite_file(url) is not None:  # a plain SQLite file: nothing for SQLAlchemy to check
        return
    # Lazy: SQLAlchemy loads with the first database call, not with the settings.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"DIGEST_DATABASE_URL: not a database URL: {url!r}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"DIGEST_DATABASE_URL: unsupported database {parsed.get_backend_name()!r} "
            "(use sqlite:/// or postgresql+psycopg://)"
        )


def _check_url(name: str, url: str, schemes: set[str]) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"{name}: not a valid URL ({exc})") from None
    if parts.scheme not in schemes or not parts.netloc:
        allowed = ", ".join(f"{s}://" for s in sorted(schemes))
        raise ConfigError(f"{name}: expected a URL starting with {allowed}, got {url!r}")


def _parse_from(value: str) -> tuple[str, str]:
    if "\r" in value or "\n" in value:
        raise ConfigError("DIGEST_FROM: must not contain line breaks")
    name, address = parseaddr(value)
    try:
        Address(display_name=name, addr_spec=address)
    except (ValueError, IndexError):
        address = ""
    if "@" not in address:
        raise ConfigError(f"DIGEST_FROM: expected 'Name <user@example.org>', got {value!r}")
    return name or "digest", address


def _one_line(name: str, value: object) -> str:
    text = str(value or "")
    if any(c in text for c in "\r\n\x00"):
        raise ConfigError(f"{name}: must be a single line of text")
    return text.strip()


def _site_name(value: object, from_name: str) -> str:
    """``DIGEST_SITE_NAME``: one line of at most 60 characters; default the display name
    of ``DIGEST_FROM`` (itself "digest" when it has none)."""
    text = " ".join(_one_line("DIGEST_SITE_NAME", value).split())
    if len(text) > 60:
        raise ConfigError(f"DIGEST_SITE_NAME: at most 60 characters, got {len(text)}")
    return text or " ".join(from_name.split()) or "digest"


def _mailbox(name: str, value: object) -> str:
    """A bare address such as unsubscribe@example.org, or '' when not set."""
    text = _one_line(name, value)
    if not text:
        return ""
    text = text.removeprefix("mailto:")
    local, _, domain = text.rpartition("@")
    if not local or "." not in domain or not text.isascii() or any(c in text for c in ' <>,;?"'):
        raise ConfigError(f"{name}: expected an address like unsubscribe@example.org, got {text!r}")
    return text


def _bounce_address(value: object, from_address: str) -> str:
    """``DIGEST_BOUNCE_ADDRESS``: a bare mailbox without ``+`` (VERP adds ``+TOKEN``);
    default ``bounces@<from domain>``."""
    name = "DIGEST_BOUNCE_ADDRESS"
    text = _mailbox(name, value)
    if not text:
        return f"bounces@{from_address.rpartition('@')[2]}"
    if "+" in text.rpartition("@")[0]:
        raise ConfigError(f"{name}: must not contain '+' (VERP adds +TOKEN to it), got {text!r}")
    return text


def _feedback_id(value: object) -> str:
    text = _one_line("DIGEST_FEEDBACK_ID", value)
    if text and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", text):
        raise ConfigError(
            f"DIGEST_FEEDBACK_ID: use 1-64 letters, digits, '.', '_' or '-', got {text!r}"
        )
    return text


_DNS_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*"
)


def _dkim(values: Mapping[str, object], from_address: str) -> DkimConfig | None:
    """DKIM settings: selector and key file together, the domain aligned with From."""
    selector = _one_line("DIGEST_DKIM_SELECTOR", values.get("dkim_selector"))
    key_file = _one_line("DIGEST_DKIM_KEY_FILE", values.get("dkim_key_file"))
    from_domain = from_address.rpartition("@")[2].lower()
    domain = _one_line("DIGEST_DKIM_DOMAIN", values.get("dkim_domain")).lower() or from_domain
    if not selector and not key_file:
        if values.get("dkim_domain"):
            raise ConfigError("DIGEST_DKIM_DOMAIN: also set DIGEST_DKIM_SELECTOR and _KEY_FILE")
        return None
    if not selector:
        raise ConfigError("DIGEST_DKIM_SELECTOR: required when DIGEST_DKIM_KEY_FILE is set")
    if not key_file:
        raise ConfigError("DIGEST_DKIM_KEY_FILE: required when DIGEST_DKIM_SELECTOR is set")
    if not _DNS_NAME.fullmatch(selector):
        raise ConfigError(f"DIGEST_DKIM_SELECTOR: not a valid DNS label: {selector!r}")
    if not _DNS_NAME.fullmatch(domain) or "." not in domain:
        raise ConfigError(f"DIGEST_DKIM_DOMAIN: not a valid domain name: {domain!r}")
    if from_domain != domain and not from_domain.endswith("." + domain):
        raise ConfigError(
            f"DIGEST_DKIM_DOMAIN: {domain} is neither the From domain ({from_domain}) "
            "nor a parent of it, so DMARC would not align"
        )
    path = Path(key_file).expanduser()
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"DIGEST_DKIM_KEY_FILE: cannot read {path}: {exc.strerror}") from None
    # Lazy: importing digest.render loads Jinja and MJML (and cryptography), which only
    # a configured DKIM key needs; every command loads the settings.
    from digest.render.dkim import check_private_key

    check_private_key(key, f"DIGEST_DKIM_KEY_FILE ({path})")
    return DkimConfig(selector=selector, domain=domain, key_file=path, key=key)


def _bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}: expected 1/0, true/false or yes/no, got {value!r}")


def _metrics_token(value: object) -> str:
    """``DIGEST_METRICS_TOKEN``: what a scraper sends as ``Authorization: Bearer TOKEN``;
    at least 16 visible ASCII characters, so it is a secret and fits in a header."""
    text = str(value or "")
    if not text:
        return ""
    if not all("!" <= c <= "~" for c in text):
        raise ConfigError("DIGEST_METRICS_TOKEN: use visible ASCII characters only, no spaces")
    if len(text) < 16:
        raise ConfigError("DIGEST_METRICS_TOKEN: must be at least 16 characters long")
    return text


def _float(name: str, value: object, low: float, high: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if not low <= number <= high:  # also refuses nan
        raise ConfigError(f"{name}: must be between {low:g} and {high:g}, got {number:g}")
    return number


def _int(name: str, value: object, low: int, high: int) -> int:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name}: must be between {low} and {high}, got {number}")
    return number


def _embedded_secret(var_dir: Path) -> str:
    """A per-installation key kept in ``var/secret_key`` so links stay valid across runs."""
    path = var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(key)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return key
