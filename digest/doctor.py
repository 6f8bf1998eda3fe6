"""`digest doctor`'s checks: each one function returning a :class:`CheckResult`.

A check never raises for what it checks (a server down, a wrong password): it says so in
its result. Those that only look at settings or plain data are pure (``check_secret_key``,
``check_base_url``, ``check_sources_fresh``); the others talk to one server each, with a
short timeout, and send nothing (the SMTP check ends with QUIT before any MAIL).
"""

from __future__ import annotations

import base64
import hashlib
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from digest.db.engine import Database
from digest.errors import DigestError
from digest.ops import age_text, is_fresh
from digest.settings import Settings, SmtpConfig

Status = Literal["ok", "warn", "skip", "FAIL"]
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"

    def line(self) -> str:
        return f"{self.status:<4} {self.name:<9} {self.detail}"

    def to_json(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "detail": self.detail}


def _why(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"{exc.smtp_code} {' '.join(text.split())}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# -- database -----------------------------------------------------------------------------
def check_database(url: str) -> CheckResult:
    """The server answers and the schema is at the newest migration."""
    name = "database"
    try:
        db = Database(url)
    except Exception as exc:  # a driver missing or a URL SQLAlchemy refuses
        return CheckResult(name, "FAIL", f"cannot open {url}: {_why(exc)}")
    try:
        db.check_connection()
        current, head = db.current_revision(), db.head_revision()
    except DigestError as exc:
        return CheckResult(name, "FAIL", str(exc))
    except Exception as exc:  # SQLAlchemy errors while reading the revision
        return CheckResult(name, "FAIL", f"{db.display_url}: {_why(exc)}")
    finally:
        db.dispose()
    return migration_result(db.display_url, current, head)


def migration_result(where: str, current: str | None, head: str | None) -> CheckResult:
    if current == head:
        return CheckResult("database", "ok", f"{where} at revision {current} (the latest)")
    state = "has no digest tables" if current is None else f"is at revision {current}"
    return CheckResult(
        "database", "FAIL", f"{where} {state}, the latest is {head}: run `digest db upgrade`"
    )


# -- broker and workers -------------------------------------------------------------------
def check_broker(broker_url: str | None, timeout: float) -> CheckResult:
    """The broker accepts a connection and at least one worker answers a ping."""
    name = "broker"
    if not broker_url:
        return CheckResult(name, "skip", "no DIGEST_BROKER_URL: editions are sent in-process")
    from celery import Celery  # lazy: Celery only when a broker is configured

    shown = _hide_password(broker_url)
    app = Celery("digest-doctor", broker=broker_url)
    app.conf.broker_connection_timeout = timeout
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=timeout
            )
            replies = app.control.ping(timeout=timeout, connection=conn)
    except Exception as exc:  # kombu's OperationalError and the transport's own
        return CheckResult(name, "FAIL", f"{shown} does not answer: {_why(exc)}")
    finally:
        app.close()
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        return CheckResult(
            name,
            "FAIL",
            f"{shown} answers, but no worker replied to a ping within {timeout:g} s "
            "(start `celery -A digest.pipeline worker -Q digest`)",
        )
    shown_workers = ", ".join(workers[:5]) + (
        f" and {len(workers) - 5} more" if len(workers) > 5 else ""
    )
    return CheckResult(name, "ok", f"{shown}: {len(workers)} worker(s) answered: {shown_workers}")


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


# -- SMTP ---------------------------------------------------------------------------------
def check_smtp(config: SmtpConfig | None, outbox: str, timeout: float) -> CheckResult:
    """Connect, EHLO, STARTTLS when configured, AUTH when credentials are given, QUIT."""
    name = "smtp"
    if config is None:
        return CheckResult(name, "skip", f"no DIGEST_SMTP_URL: emails are written to {outbox}")
    steps: list[str] = []
    step = "connect"
    conn: smtplib.SMTP | None = None
    wait = min(config.timeout, timeout)
    try:
        context = ssl.create_default_context()
        if config.ssl:
            conn = smtplib.SMTP_SSL(config.host, config.port, timeout=wait, context=context)
            steps.append("TLS")
        else:
            conn = smtplib.SMTP(config.host, config.port, timeout=wait)
        step = "EHLO"
        code, _ = conn.ehlo()
        if code != 250:
            raise smtplib.SMTPResponseException(code, b"EHLO refused")
        steps.append("EHLO")
        if config.starttls:
            step = "STARTTLS"
            if not conn.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS")
            conn.starttls(context=context)
            conn.ehlo()
            steps.append("STARTTLS")
        if config.username:
            step = "AUTH"
            conn.login(config.username, config.password or "")
            steps.append(f"AUTH as {config.username}")
        step = "QUIT"
        conn.quit()
        conn = None
    except (OSError, smtplib.SMTPException) as exc:
        done = f" (after {', '.join(steps)})" if steps else ""
        return CheckResult(name, "FAIL", f"{config.display}: {step} failed{done}: {_why(exc)}")
    finally:
        if conn is not None:
            conn.close()
    return CheckResult(name, "ok", f"{config.display}: {', '.join(steps)}; nothing sent")


# -- settings -----------------------------------------------------------------------------
def check_secret_key(settings: Settings) -> CheckResult:
    """Links stay valid only while the key that signed them does: it must be set, the same
    on every host and every restart, not generated into ``var/secret_key``."""
    name = "secret"
    if not settings.secret_key_generated:
        return CheckResult(name, "ok", "DIGEST_SECRET_KEY is set")
    where = settings.var_dir / "secret_key"
    if settings.links_are_https or not settings.in_process:
        return CheckResult(
            name,
            "FAIL",
            f"generated into {where}: another host or a new var/ signs other links; "
            "set DIGEST_SECRET_KEY",
        )
    return CheckResult(name, "warn", f"generated into {where} (fine on one machine for a demo)")


def check_base_url(settings: Settings) -> CheckResult:
    """Links in emails are https, except for a site on this machine."""
    name = "base-url"
    url = settings.base_url
    if settings.links_are_https:
        return CheckResult(name, "ok", url)
    host = urlsplit(url).hostname or ""
    if host in LOCAL_HOSTS or host.endswith(".localhost"):
        return CheckResult(name, "ok", f"{url} (this machine only)")
    if settings.smtp is not None and not settings.allow_http_links:
        return CheckResult(
            name,
            "FAIL",
            f"{url} is not https: `digest run` refuses to send over SMTP with http links",
        )
    return CheckResult(
        name, "warn", f"{url} is not https: providers ignore one-click unsubscribe over http"
    )


def check_dkim(
    settings: Settings, *, dns_server: tuple[str, int] | None = None, timeout: float = 5.0
) -> CheckResult:
    """The key loads, and the public key published at ``SELECTOR._domainkey.DOMAIN`` is
    its own (when DNS answers; ``dns_server`` instead of the system's resolver)."""
    name = "dkim"
    dkim = settings.dkim
    if dkim is None:
        return CheckResult(name, "skip", "not configured (DIGEST_DKIM_SELECTOR, _KEY_FILE)")
    # Lazy: cryptography and digest.render (Jinja, MJML) only when DKIM is configured.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from digest.render.dkim import load_private_key

    try:
        key = load_private_key(dkim.key, f"DIGEST_DKIM_KEY_FILE ({dkim.key_file})")
    except DigestError as exc:
        return CheckResult(name, "FAIL", str(exc))
    kind = f"RSA {key.key_size}-bit" if isinstance(key, rsa.RSAPrivateKey) else "Ed25519"
    if isinstance(key, rsa.RSAPrivateKey):  # DNS publishes the DER SubjectPublicKeyInfo
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:  # and for Ed25519 the raw 32 bytes (RFC 8463)
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    record_name = f"{dkim.selector}._domainkey.{dkim.domain}"
    found = published_dkim(record_name, dns_server, timeout)
    if found is None:
        fingerprint = hashlib.sha256(public).hexdigest()[:16]
        return CheckResult(
            name,
            "warn",
            f"{kind} key from {dkim.key_file} loads; DNS did not answer for {record_name}, "
            f"so the published key was not compared (public key sha256 {fingerprint})",
        )
    status, why = compare_dkim_record(found, public)
    return CheckResult(name, status, f"{kind} key from {dkim.key_file}: {record_name} {why}")


def compare_dkim_record(records: list[str], public: bytes) -> tuple[Status, str]:
    """Whether one of the TXT records at the selector publishes ``public`` (RFC 6376 3.6.1:
    ``k=`` the key type, ``p=`` the base64 key, empty when revoked). Pure."""
    if not records:
        return "FAIL", "has no DKIM record: publish the key there"
    for text in records:
        tags = dict(
            (k.strip(), v.strip())
            for k, _, v in (part.partition("=") for part in text.split(";") if "=" in part)
        )
        encoded = "".join(tags.get("p", "").split())
        if not encoded:
            continue
        try:
            published = base64.b64decode(encoded, validate=True)
        except ValueError:
            continue
        if published == public:
            return "ok", "publishes this key"
    return "FAIL", "publishes another key (or a revoked one): the signatures will not verify"


def published_dkim(
    record_name: str, dns_server: tuple[str, int] | None, timeout: float
) -> list[str] | None:
    """The TXT strings at ``record_name`` ([] when the name or record does not exist), or
    None when no DNS server answered (offline, firewalled)."""
    # Lazy: dnspython only for the DKIM record check.
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=dns_server is None)
    if dns_server is not None:
        resolver.nameservers = [dns_server[0]]
        resolver.port = dns_server[1]
    resolver.lifetime = timeout
    try:
        answer = resolver.resolve(record_name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers, OSError):
        return None
    return [b"".join(rdata.strings).decode("ascii", "replace") for rdata in answer]


# -- sources ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SourceState:
    """What the freshness check needs of one source (``digest.db.stats.SourceHealth``)."""

    name: str
    enabled: bool
    last_success_at: datetime | None
    last_failure: str | None = None


def check_sources_fresh(
    sources: Sequence[SourceState], now: datetime, max_age: timedelta
) -> list[CheckResult]:
    """One result per enabled source: its last successful ingest is recent enough."""
    enabled = [s for s in sources if s.enabled]
    if not enabled:
        return [CheckResult("sources", "skip", "no enabled source has been set up or run")]
    hours = f"{max_age.total_seconds() / 3600:g} h"
    results = []
    for source in enabled:
        label = f"source {source.name}"
        if is_fresh(source.last_success_at, now, max_age):
            when = age_text(source.last_success_at, now)
            results.append(CheckResult("sources", "ok", f"{label}: last success {when}"))
            continue
        when = age_text(source.last_success_at, now)
        error = f"; last error: {source.last_failure}" if source.last_failure else ""
        results.append(
            CheckResult(
                "sources", "FAIL", f"{label}: last success {when} (more than {hours}){error}"
            )
        )
    return results
