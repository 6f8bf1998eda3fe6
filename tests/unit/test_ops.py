"""The pure parts of `digest stats`, `editions` and `doctor`: grouping failures by SMTP
reply, rates, freshness, and the checks that only read settings."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.doctor import SourceState, check_base_url, check_secret_key, check_sources_fresh
from digest.ops import Window, age_text, group_failures, reply_group, state_counts
from digest.settings import Settings

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_a_failure_is_grouped_by_its_reply_code_and_enhanced_status() -> None:
    assert reply_group("server replied 550 5.1.1 <ann@example.org>: user unknown") == "550 5.1.1"
    assert reply_group("recipient refused: 452-4.2.2 mailbox full") == "452 4.2.2"
    assert reply_group("server replied 554 transaction failed") == "554"
    # numbers that are not a reply (a port, an IP, a version) do not count as one
    assert reply_group("connection to smtp://127.0.0.1:2525 lost: timed out") == (
        "connection to … lost: timed out"
    )
    assert reply_group("cannot build the message: <a@b> <c@d> bad header line") == (
        "cannot build the message: … bad"
    )
    assert reply_group(None) == "(no error recorded)"


def test_failures_are_counted_per_group_largest_first_with_their_states() -> None:
    groups = group_failures(
        [
            ("failed", "server replied 550 5.1.1 <a@x.org>: no such user"),
            ("failed", "server replied 550 5.1.1 <b@y.org>: no such user"),
            ("retry", "server replied 451 4.7.1 greylisted, try later"),
            ("failed", "server replied 550 5.1.1 <c@z.org>: no such user"),
            ("retry", "server replied 451 4.7.1 greylisted"),
            ("unknown", None),
        ]
    )
    assert [(g.reply, g.count, g.statuses) for g in groups] == [
        ("550 5.1.1", 3, {"failed": 3}),
        ("451 4.7.1", 2, {"retry": 2}),
        ("(no error recorded)", 1, {"unknown": 1}),
    ]
    assert groups[0].example == "server replied 550 5.1.1 <a@x.org>: no such user"


def test_state_counts_list_every_state_and_a_total() -> None:
    counts = state_counts({"sent": 3, "retry": 1})
    assert counts["sent"] == 3 and counts["pending"] == 0 and counts["unknown"] == 0
    assert counts["total"] == 4


def test_rates_are_per_message_sent_and_none_without_mail() -> None:
    data = Window(days=7, sent=200, bounces=3, complaints=1, unsubscribes=4).to_json()
    assert (data["bounce_rate"], data["complaint_rate"], data["unsubscribe_rate"]) == (
        0.015,
        0.005,
        0.02,
    )
    assert (
        Window(days=7, sent=0, bounces=1, complaints=0, unsubscribes=0).to_json()["bounce_rate"]
        is None
    )


def test_age_text() -> None:
    assert age_text(None, NOW) == "never"
    assert age_text(NOW - timedelta(minutes=5), NOW) == "5m ago"
    assert age_text(NOW - timedelta(hours=3, minutes=20), NOW) == "3h 20m ago"
    assert age_text(NOW - timedelta(days=2, hours=4), NOW) == "2d 4h ago"


def test_a_source_is_fresh_while_its_last_success_is_recent() -> None:
    results = check_sources_fresh(
        [
            SourceState("hf", True, NOW - timedelta(hours=2)),
            SourceState("arxiv", True, NOW - timedelta(hours=50), "HTTP 503 from export.arxiv.org"),
            SourceState("old", False, None),
            SourceState("new", True, None),
        ],
        NOW,
        timedelta(hours=36),
    )
    assert [(r.status, r.detail) for r in results] == [
        ("ok", "source hf: last success 2h 0m ago"),
        (
            "FAIL",
            "source arxiv: last success 2d 2h ago (more than 36 h); "
            "last error: HTTP 503 from export.arxiv.org",
        ),
        ("FAIL", "source new: last success never (more than 36 h)"),
    ]
    [skipped] = check_sources_fresh([], NOW, timedelta(hours=36))
    assert skipped.status == "skip"


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"DIGEST_VAR_DIR": str(tmp_path), **env}, cwd=tmp_path)


def test_the_secret_key_must_be_set_for_production(tmp_path: Path) -> None:
    key = {"DIGEST_SECRET_KEY": "a-key-of-at-least-16-chars"}
    assert check_secret_key(settings(tmp_path, **key)).status == "ok"
    assert check_secret_key(settings(tmp_path)).status == "warn"  # a local demo
    https = settings(tmp_path, DIGEST_BASE_URL="https://digest.example.org")
    result = check_secret_key(https)
    assert result.failed and "set DIGEST_SECRET_KEY" in result.detail
    workers = settings(tmp_path, DIGEST_BROKER_URL="redis://127.0.0.1:6379/0")
    assert check_secret_key(workers).failed


def test_the_base_url_is_https_unless_local(tmp_path: Path) -> None:
    assert (
        check_base_url(settings(tmp_path, DIGEST_BASE_URL="https://d.example.org")).status == "ok"
    )
    assert check_base_url(settings(tmp_path)).status == "ok"  # http://localhost:8000
    plain = settings(tmp_path, DIGEST_BASE_URL="http://digest.example.org")
    assert check_base_url(plain).status == "warn"
    relay = settings(
        tmp_path, DIGEST_BASE_URL="http://digest.example.org", DIGEST_SMTP_URL="smtp://relay:25"
    )
    assert check_base_url(relay).failed


class _Zone:
    """A real DNS server (dnslib, UDP on 127.0.0.1) answering TXT records from a dict."""

    def __init__(self, records: dict[str, list[str]]):
        from dnslib import QTYPE, RR, TXT
        from dnslib.server import BaseResolver, DNSLogger, DNSServer

        class Resolver(BaseResolver):
            def resolve(self, request, handler):  # type: ignore[no-untyped-def]
                reply = request.reply()
                name = str(request.q.qname).rstrip(".")
                if name not in records:
                    reply.header.rcode = 3  # NXDOMAIN
                for text in records.get(name, []):
                    chunks = [text[i : i + 255] for i in range(0, len(text), 255)]
                    reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
                return reply

        self.port = free_udp_port()
        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data")
        self.server = DNSServer(Resolver(), address="127.0.0.1", port=self.port, logger=quiet)

    def __enter__(self) -> tuple[str, int]:
        self.server.start_thread()
        return ("127.0.0.1", self.port)

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_dkim_key_is_compared_with_the_one_published_in_dns(tmp_path: Path) -> None:
    from digest.doctor import check_dkim

    assert check_dkim(settings(tmp_path)).status == "skip"
    fixtures = Path(__file__).parents[1] / "fixtures" / "dkim"
    keys = {
        n: (fixtures / f"{n}.pub.b64").read_text().strip() for n in ("test-rsa", "test-ed25519")
    }
    name = "s1._domainkey.example.org"
    for key, kind, algo in (("test-rsa", "RSA", "rsa"), ("test-ed25519", "Ed25519", "ed25519")):
        configured = settings(
            tmp_path,
            DIGEST_FROM="digest <digest@example.org>",
            DIGEST_DKIM_SELECTOR="s1",
            DIGEST_DKIM_KEY_FILE=str(fixtures / f"{key}.pem"),
        )
        other = keys["test-ed25519" if key == "test-rsa" else "test-rsa"]
        cases = {
            f"v=DKIM1; k={algo}; p={keys[key]}": "ok",  # this key: the signatures verify
            f"v=DKIM1; k={algo}; p={other}": "FAIL",  # another key
            f"v=DKIM1; k={algo}; p=": "FAIL",  # revoked
        }
        for record, status in cases.items():
            with _Zone({name: [record]}) as server:
                result = check_dkim(configured, dns_server=server, timeout=2)
            assert result.status == status, (record, result.detail)
            assert result.detail.startswith(kind) and name in result.detail
        with _Zone({}) as server:  # nothing published at the selector
            result = check_dkim(configured, dns_server=server, timeout=2)
        assert result.status == "FAIL" and "has no DKIM record" in result.detail
        # No DNS server answers (offline): the key loads; what to publish is shown.
        result = check_dkim(configured, dns_server=("127.0.0.1", free_udp_port()), timeout=0.5)
        assert result.status == "warn", result.detail
        fingerprint = hashlib.sha256(base64.b64decode(keys[key])).hexdigest()[:16]
        assert f"public key sha256 {fingerprint}" in result.detail
