"""`digest doctor` against real components: a working set-up (SQLite, an aiosmtpd relay
with AUTH, a fresh source) exits 0; then Redis down, a wrong SMTP password and a database
one migration behind are each named on their own line, with exit 1; a broker without
workers fails and one with a real Celery worker passes."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from digest.db.engine import Database
from digest.db.revision import head_revision
from digest.db.sources import record_source_run, save_source_config
from tests.conftest import RedisServer, flushed_redis, free_port
from tests.helpers import CliResult, run_cli
from tests.workers import start_worker, stop

REDIS_DB = 10  # this file's own Redis database (11 and 13 belong to other tests)


class _Accept:
    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        return "250 accepted"


def _check(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
    login, password = (
        v.decode() if isinstance(v, bytes) else v for v in (auth_data.login, auth_data.password)
    )
    return AuthResult(success=(login, password) == ("digest", "right"), handled=False)


@pytest.fixture
def relay_port() -> Iterator[int]:
    """An aiosmtpd relay that demands AUTH (digest / right) and counts what it receives."""
    port = free_port()
    handler = _Accept()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=_check,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def healthy(digest_env, relay_port, monkeypatch, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """SQLite at the latest migration, the relay with the right password, https links, a
    set secret key, and one source that succeeded an hour ago."""
    url = f"sqlite:///{tmp_path / 'doctor.db'}"
    env = {
        "DIGEST_DATABASE_URL": url,
        "DIGEST_SMTP_URL": f"smtp://digest:right@127.0.0.1:{relay_port}?timeout=5",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    db = Database(url)
    db.upgrade()
    now = datetime.now(UTC)
    with db.session() as session:
        save_source_config(session, name="hf", kind="hf_daily", options={}, origin="cli", now=now)
        record_source_run(
            session, "hf", now=now - timedelta(hours=1), status="ok", counts={"new": 3}
        )
    db.dispose()
    return {**digest_env, **env}


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[CliResult, dict[str, str]]:
    """Run `digest doctor`; each check's name -> its line (the sources' lines joined)."""
    result = run_cli(capsys, "doctor", "--timeout", "2", *args)
    lines: dict[str, str] = {}
    for line in result.out.splitlines():
        status, name, *_ = line.split()
        lines[name] = (lines[name] + "\n" if name in lines else "") + line
        assert status in ("ok", "warn", "skip", "FAIL"), line
    return result, lines


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_working_setup_passes_every_check(healthy, capsys) -> None:  # type: ignore[no-untyped-def]
    result, lines = doctor(capsys)
    assert result.code == 0, result.out + result.err
    latest = head_revision()
    assert (
        lines["database"].startswith("ok   database")
        and f"at revision {latest}" in lines["database"]
    )
    assert lines["smtp"].startswith("ok   smtp")
    assert "EHLO, AUTH as digest; nothing sent" in lines["smtp"]
    assert lines["broker"].startswith("skip broker")  # no DIGEST_BROKER_URL: in-process
    assert lines["secret"].startswith("ok") and lines["base-url"].startswith("ok")
    assert lines["sources"].startswith("ok   sources   source hf: last success 1h")
    assert result.err == ""


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_each_failure_is_named_on_its_own_line(healthy, capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    closed = free_port()  # nothing listens there: Redis is "down"
    monkeypatch.setenv("DIGEST_BROKER_URL", f"redis://127.0.0.1:{closed}/{REDIS_DB}")
    monkeypatch.setenv("DIGEST_SECRET_KEY", "test-secret-key-0123456789")
    wrong = healthy["DIGEST_SMTP_URL"].replace(":right@", ":wrong@")
    monkeypatch.setenv("DIGEST_SMTP_URL", wrong)
    behind = f"sqlite:///{tmp_path / 'behind.db'}"
    previous = f"{int(head_revision()) - 1:04d}"
    Database(behind).upgrade(previous)  # one migration behind the latest
    monkeypatch.setenv("DIGEST_DATABASE_URL", behind)
    started = time.monotonic()
    result, lines = doctor(capsys)
    assert result.code == 1
    assert time.monotonic() - started < 30  # short timeouts, no endless broker retries
    failed = [line for line in result.out.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 3, result.out
    assert lines["database"].startswith("FAIL database")
    assert (
        f"is at revision {previous}, the latest is {head_revision()}: run `digest db upgrade`"
        in lines["database"]
    )
    assert lines["broker"].startswith("FAIL broker")
    assert f"redis://127.0.0.1:{closed}/{REDIS_DB} does not answer" in lines["broker"]
    assert lines["smtp"].startswith("FAIL smtp")
    assert "AUTH failed (after EHLO): 535" in lines["smtp"]
    assert lines["sources"].startswith("skip")  # it needs a database at the latest revision
    assert "Traceback" not in result.out + result.err


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_stale_source_and_a_bad_setting_fail(healthy, capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("DIGEST_SMTP_URL")
    result, lines = doctor(capsys, "--max-age", "0.5")  # the source ran an hour ago
    assert result.code == 1
    assert lines["sources"].startswith("FAIL sources   source hf: last success 1h")
    assert "(more than 0.5 h)" in lines["sources"]
    monkeypatch.setenv("DIGEST_TOP_K", "many")
    result, lines = doctor(capsys)
    assert result.code == 1
    assert lines == {"settings": "FAIL settings  DIGEST_TOP_K: expected a whole number, got 'many'"}


def test_a_bad_dns_server_is_one_error_line(healthy, capsys) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(capsys, "doctor", "--dns", "127.0.0.1:notaport")
    assert result.code == 2
    assert (
        result.err.strip() == "error: --dns: expected HOST or HOST:PORT, got '127.0.0.1:notaport'"
    )


@pytest.fixture
def redis10(redis_server: RedisServer) -> Iterator[str]:
    yield from flushed_redis(redis_server, REDIS_DB)


@pytest.mark.redis
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_broker_check_asks_the_workers(healthy, redis10, capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_BROKER_URL", redis10)
    result, lines = doctor(capsys)
    assert result.code == 1
    assert lines["broker"].startswith("FAIL broker")
    assert "answers, but no worker replied to a ping within 2 s" in lines["broker"]
    env = {**os.environ, "DIGEST_BROKER_URL": redis10}
    worker = start_worker(env, tmp_path / "worker.log", concurrency=1)
    try:
        deadline = time.monotonic() + 90
        while True:
            result, lines = doctor(capsys)
            if lines["broker"].startswith("ok") or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        stop(worker)
    assert result.code == 0, result.out + Path(tmp_path / "worker.log").read_text()[-2000:]
    assert "1 worker(s) answered: celery@" in lines["broker"]


def _self_signed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (ca.pem, cert.pem, key.pem)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("digest test CA"))
        .issuer_name(name("digest test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def test_the_smtp_check_does_starttls_then_auth(healthy, capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A relay that offers STARTTLS and takes AUTH only over TLS (as real ones do): with its
    CA trusted the check passes every step; with it not trusted, or with a relay that does
    not offer STARTTLS, the smtp line fails at STARTTLS, saying why."""
    import ssl

    ca, cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    tls_relay = Controller(
        _Accept(),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_check,
        auth_required=True,
    )
    tls_relay.start()
    try:
        url = f"smtp://digest:right@127.0.0.1:{port}?starttls=1&timeout=5"
        monkeypatch.setenv("DIGEST_SMTP_URL", url)
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the system's trust store, for this test
        result, lines = doctor(capsys)
        assert lines["smtp"].startswith("ok   smtp"), lines["smtp"]
        assert "EHLO, STARTTLS, AUTH as digest; nothing sent" in lines["smtp"]
        monkeypatch.setenv("SSL_CERT_FILE", str(cert.with_name("nothing.pem")))  # not trusted
        result, lines = doctor(capsys)
        assert result.code == 1
        assert lines["smtp"].startswith("FAIL smtp") and "STARTTLS failed" in lines["smtp"]
        assert "certificate verify failed" in lines["smtp"]
    finally:
        tls_relay.stop()
    plain = healthy["DIGEST_SMTP_URL"].replace("?timeout=5", "?starttls=1&timeout=5")
    monkeypatch.setenv("DIGEST_SMTP_URL", plain)  # the relay of `healthy`: no STARTTLS
    result, lines = doctor(capsys)
    assert result.code == 1 and "the server does not offer STARTTLS" in lines["smtp"]
