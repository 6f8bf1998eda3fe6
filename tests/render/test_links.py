"""Signed links: valid tokens verify, tampered or cross-purpose ones do not."""

from __future__ import annotations

import base64
import json
import time

import pytest

from digest.errors import InputError
from digest.links import CONFIRM_MAX_AGE, ExpiredLink, LinkError, LinkSigner

SIGNER = LinkSigner("test-secret-key-0123456789", "https://digest.example.org/")


def _token(url: str) -> str:
    return url.rstrip("/").split("/")[-1]


def test_recipient_links_verify() -> None:
    links = SIGNER.for_recipient(42, "daily:2025-05-30")
    assert links.unsubscribe == f"https://digest.example.org/u/{links.unsubscribe_token}"
    assert SIGNER.verify("unsubscribe", _token(links.unsubscribe)) == 42
    assert SIGNER.verify("preferences", _token(links.preferences)) == 42
    assert links.view_online.startswith("https://digest.example.org/v/daily%3A2025-05-30/")
    assert SIGNER.verify("view", _token(links.view_online)) == [42, "daily:2025-05-30"]


def test_purposes_do_not_mix_and_tampering_fails() -> None:
    token = _token(SIGNER.for_recipient(42, "e").unsubscribe)
    with pytest.raises(InputError, match="preferences"):
        SIGNER.verify("preferences", token)
    body, tag = token.split(".")
    forged = SIGNER.token("unsubscribe", 43).split(".")[0] + "." + tag
    for bad in (forged, body + "." + tag[:-2] + "AA", "garbage", "", body + ".!!"):
        with pytest.raises(InputError):
            SIGNER.verify("unsubscribe", bad)
    other = LinkSigner("another-secret-key-987654321", "https://digest.example.org")
    with pytest.raises(InputError):
        other.verify("unsubscribe", token)


def test_feedback_links_fast_path_matches_generic_tokens() -> None:
    url = SIGNER.feedback_links(7)("2505.12345", "up")
    assert url == f"https://digest.example.org/f/{SIGNER.token('feedback', [7, '2505.12345'])}/up"
    assert SIGNER.feedback(7, 'doi:10.1/é"x', "down").endswith("/down")
    token = SIGNER.feedback(7, 'doi:10.1/é"x', "down").split("/")[-2]
    assert SIGNER.verify("feedback", token) == [7, 'doi:10.1/é"x']
    with pytest.raises(ValueError):
        SIGNER.feedback(7, "p", "sideways")


def test_confirmation_links_expire_and_still_say_whose_they_were() -> None:
    now = time.time()
    token = _token(SIGNER.confirm_url("k9", now=now - 3600))
    assert SIGNER.verify_timed("confirm", token, max_age=7200) == ["k9"]
    with pytest.raises(ExpiredLink, match="expired") as caught:
        SIGNER.verify_timed("confirm", token, max_age=60)
    assert caught.value.payload == ["k9"]
    # a week is the default life of a confirmation link
    old = _token(SIGNER.confirm_url("k9", now=now - CONFIRM_MAX_AGE - 60))
    with pytest.raises(ExpiredLink):
        SIGNER.verify_timed("confirm", old, max_age=CONFIRM_MAX_AGE)
    # an untimed token of the purpose is not a timed one
    with pytest.raises(LinkError):
        SIGNER.verify_timed("confirm", SIGNER.token("confirm", "k9"), max_age=60)


def test_tokens_carry_no_readable_subscriber_id_or_address() -> None:
    """What a reader's links carry is their random link id, nothing else about them."""
    link_id = "Zq3v8r1nKx0TfW4yS2p7Lg"
    links = SIGNER.for_recipient(link_id, "daily:2025-05-30")
    payloads = []
    for url in (links.unsubscribe, links.preferences, links.view_online):
        body = _token(url).split(".")[0]
        payloads.append(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
    assert payloads == [link_id, link_id, [link_id, "daily:2025-05-30"]]


def test_csrf_tokens_are_bound_to_reader_form_and_time() -> None:
    now = time.time()
    token = SIGNER.csrf_token("k1", "preferences", now=now)
    assert SIGNER.check_csrf(token, "k1", "preferences", now=now + 60)
    assert not SIGNER.check_csrf(token, "k2", "preferences", now=now + 60)
    assert not SIGNER.check_csrf(token, "k1", "delete", now=now + 60)
    assert not SIGNER.check_csrf(token, "k1", "preferences", now=now + 2 * 24 * 3600)
    assert not SIGNER.check_csrf("", "k1", "preferences")
    assert not SIGNER.check_csrf(token + "x", "k1", "preferences")


def test_recipient_links_fast_path_matches_generic_tokens() -> None:
    for sid, edition in ((42, "daily:2025-05-30"), (7, 'weekly:é/"x" y')):
        links = SIGNER.for_recipient(sid, edition)
        assert links.unsubscribe_token == SIGNER.token("unsubscribe", sid)
        assert _token(links.preferences) == SIGNER.token("preferences", sid)
        assert _token(links.view_online) == SIGNER.token("view", [sid, edition])
        assert SIGNER.verify("view", _token(links.view_online)) == [sid, edition]


def test_copied_hmac_state_is_hmac_sha256() -> None:
    import hashlib
    import hmac

    from digest.links import _Mac

    for key in (b"", b"k", b"k" * 32, b"k" * 64, b"k" * 65, bytes(range(200))):
        for message in (b"", b"WzIsIjI1MDUuMjI4NDIiXQ", bytes(range(256)) * 3):
            assert _Mac(key).digest(message) == hmac.digest(key, message, hashlib.sha256)
