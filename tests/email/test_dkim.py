"""DKIM: messages signed with a test key verify with dkimpy against its public key."""

from __future__ import annotations

import re
from pathlib import Path

import dkim
import pytest
from mailcheck import SENDER, WHEN, make_renderer, parse, render_digest, sample_papers

from digest.domain import SubscriberInfo
from digest.errors import ConfigError
from digest.render.dkim import DkimSigner, relaxed_body, relaxed_header, split_headers

KEYS = Path(__file__).resolve().parent.parent / "fixtures" / "dkim"
PRIVATE = (KEYS / "test-rsa.pem").read_bytes()  # a throwaway key made for these tests only
PUBLIC = (KEYS / "test-rsa.pub.b64").read_bytes().strip()


def dns(name: bytes, timeout: int = 5) -> bytes:
    """The TXT record a receiver would find at <selector>._domainkey.<domain>."""
    assert name == b"test._domainkey.example.org."
    return b"v=DKIM1; k=rsa; p=" + PUBLIC


@pytest.fixture(scope="module")
def signed() -> bytes:
    renderer = make_renderer(dkim=DkimSigner("test", "example.org", PRIVATE))
    email = render_digest(
        SubscriberInfo(1, "zoe@example.org", "Zoë Ångström"), sample_papers(), renderer=renderer
    )
    return email.data


def test_signature_verifies_and_covers_one_click(signed: bytes) -> None:
    assert signed.startswith(b"DKIM-Signature: ")
    assert dkim.verify(signed, dnsfunc=dns)
    sig = parse(signed)["DKIM-Signature"]
    tags = dict(
        (k.strip(), v.strip())
        for k, v in (t.split("=", 1) for t in re.sub(r"\s+", "", str(sig)).split(";") if t)
    )
    signed_headers = tags["h"].split(":")
    for name in (
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "list-id",
        "feedback-id",
    ):
        assert name in signed_headers
    assert (tags["d"], tags["s"], tags["a"], tags["c"]) == (
        "example.org",
        "test",
        "rsa-sha256",
        "relaxed/relaxed",
    )
    # oversigned: From, Subject and both list-unsubscribe headers once more than present
    for name in ("from", "subject", "list-unsubscribe", "list-unsubscribe-post"):
        assert signed_headers.count(name) == 2, name


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", b""),
        (
            b"List-Unsubscribe: <https://digest.example.org/u/",
            b"List-Unsubscribe: <https://evil.example/u/",
        ),
        (b"Date: Fri, 30 May 2025", b"Date: Sat, 31 May 2025"),
        (b"Less like this", b"Less like thus"),
    ],
)
def test_changes_break_the_signature(signed: bytes, old: bytes, new: bytes) -> None:
    assert old in signed
    assert not dkim.verify(signed.replace(old, new, 1), dnsfunc=dns)


def test_signing_is_the_last_step(signed: bytes) -> None:
    head = signed.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0] for line in head.split(b"\r\n") if not line.startswith(b" ")]
    assert names[0] == b"DKIM-Signature" and names.count(b"DKIM-Signature") == 1
    for line in signed.split(b"\r\n"):
        assert len(line) <= 998


def test_transactional_emails_are_signed_too() -> None:
    renderer = make_renderer(dkim=DkimSigner("test", "example.org", PRIVATE))
    email = renderer.confirmation(
        to_name="A",
        to_address="a@example.org",
        confirm_url="https://digest.example.org/c/x",
        message_id="<c@example.org>",
        when=WHEN,
    )
    assert dkim.verify(email.data, dnsfunc=dns)


def test_bad_keys_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="not a PEM RSA or Ed25519 private key"):
        DkimSigner("test", "example.org", b"-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END")
    with pytest.raises(ConfigError, match="not a PEM RSA or Ed25519 private key"):
        DkimSigner("test", "example.org", PUBLIC)
    assert SENDER.from_address.endswith("@example.org")


def ed25519_dns(name: bytes, timeout: int = 5) -> bytes:
    assert name == b"ed._domainkey.example.org."
    return b"v=DKIM1; k=ed25519; p=" + (KEYS / "test-ed25519.pub.b64").read_bytes().strip()


def test_ed25519_signatures_verify() -> None:
    signer = DkimSigner("ed", "example.org", (KEYS / "test-ed25519.pem").read_bytes())
    email = render_digest(
        SubscriberInfo(2, "ed@example.org", "Ed"),
        sample_papers(),
        renderer=make_renderer(dkim=signer),
    )
    assert b"a=ed25519-sha256" in email.data
    assert dkim.verify(email.data, dnsfunc=ed25519_dns)
    assert not dkim.verify(
        email.data.replace(b"Less like this", b"Less like thus", 1), dnsfunc=ed25519_dns
    )


def test_relaxed_canonicalization_survives_refolding_and_white_space(signed: bytes) -> None:
    """What relays do to a message in transit (RFC 6376 relaxed/relaxed allows it)."""
    head, _, body = signed.partition(b"\r\n\r\n")
    refolded = head.replace(b"Subject: ", b"Subject:   \r\n\t", 1)
    padded = body.replace(b"\r\n", b"  \r\n", 3) + b"\r\n\r\n"
    assert dkim.verify(refolded + b"\r\n\r\n" + padded, dnsfunc=dns)


def test_a_second_from_or_one_click_header_added_later_breaks_it(signed: bytes) -> None:
    """Oversigning: a verifier takes instances bottom-up, so a header added *above* the
    signed one would pass unseen unless the name is listed once more than it occurs."""
    for added in (
        b"From: Mallory <m@evil.example>\r\n",
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        b"Subject: You won\r\n",
    ):
        assert not dkim.verify(added + signed, dnsfunc=dns), added
    assert dkim.verify(b"X-Added-By-Relay: fine\r\n" + signed, dnsfunc=dns)


def test_relaxed_canonicalization_is_rfc_6376s_example() -> None:
    """RFC 6376 section 3.4.5, the example of relaxed canonicalization."""
    fields = split_headers(b"A: X\r\nB : Y\t\r\n\tZ  ")
    assert [relaxed_header(n, v) for n, v in fields] == [b"a:X\r\n", b"b:Y Z\r\n"]
    assert relaxed_body(b" C \r\nD \t E\r\n\r\n\r\n") == b" C\r\nD E\r\n"
    assert relaxed_body(b"") == b"" and relaxed_body(b"\r\n\r\n") == b""
    assert relaxed_body(b"x \t") == b"x\r\n"
