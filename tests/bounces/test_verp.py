"""VERP addresses: a round trip, and nothing that is not ours (tampered, another mailbox)."""

from __future__ import annotations

import re

import pytest

from digest.deliver.verp import (
    Verp,
    delivery_from_verp,
    is_bounce_address,
    verp_address,
    verp_key,
)
from digest.errors import ConfigError
from digest.settings import Settings

KEY = verp_key("test-secret-key-0123456789")


def test_round_trip() -> None:
    address = verp_address(KEY, 123, "bounces@example.org")
    assert re.fullmatch(r"bounces\+d123-[a-z2-7]{10}@example\.org", address)
    assert delivery_from_verp(KEY, address) == 123
    assert delivery_from_verp(KEY, address, "bounces@example.org") == 123
    assert delivery_from_verp(KEY, f"<{address}>") == 123


def test_case_changes_by_mtas_do_not_break_it() -> None:
    address = verp_address(KEY, 7, "Bounces@Example.org")
    assert delivery_from_verp(KEY, address.upper()) == 7
    assert delivery_from_verp(KEY, address.upper(), "bounces@example.org") == 7


def test_each_delivery_and_each_key_has_its_own_tag() -> None:
    tags = {verp_address(KEY, n, "b@x.org").split("-")[1] for n in range(1, 2000)}
    assert len(tags) == 1999
    other = verp_key("another-secret-key-0123")
    assert verp_address(other, 5, "b@x.org") != verp_address(KEY, 5, "b@x.org")
    assert delivery_from_verp(other, verp_address(KEY, 5, "b@x.org")) is None


def test_tampered_addresses_are_not_ours() -> None:
    address = verp_address(KEY, 123, "bounces@example.org")
    local = address.split("@")[0]
    token = local.split("+")[1]
    tag = token.split("-")[1]
    flipped = tag[:-1] + ("a" if tag[-1] != "a" else "b")
    for forged in [
        address.replace("d123-", "d124-"),
        address.replace("d123-", "d0123-"),
        f"bounces+d123-{flipped}@example.org",
        f"bounces+d123-{tag[:-1]}@example.org",
        f"bounces+{token}x@example.org",
        "bounces@example.org",
        "bounces+d123@example.org",
        "",
        None,
        "x" * 5000,
    ]:
        assert delivery_from_verp(KEY, forged) is None, forged


def test_another_mailbox_is_not_ours_when_the_mailbox_is_given() -> None:
    address = verp_address(KEY, 9, "bounces@example.org")
    assert (
        delivery_from_verp(KEY, address.replace("bounces+", "other+"), "bounces@example.org")
        is None
    )
    assert (
        delivery_from_verp(KEY, address.replace("example.org", "evil.org"), "bounces@example.org")
        is None
    )


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        verp_address(KEY, 0, "bounces@example.org")
    with pytest.raises(ValueError):
        verp_address(KEY, 1, "bounces+x@example.org")
    with pytest.raises(ValueError):
        verp_address(KEY, 1, "no-at-sign")


def test_is_bounce_address() -> None:
    assert is_bounce_address("Bounces@Example.org", "bounces@example.org")
    assert is_bounce_address("<bounces+anything@example.org>", "bounces@example.org")
    assert not is_bounce_address("bouncesx@example.org", "bounces@example.org")
    assert not is_bounce_address("bounces@example.org.evil", "bounces@example.org")
    assert not is_bounce_address("jane@example.org", "bounces@example.org")


def _settings(**env: str) -> Settings:
    base = {"DIGEST_SECRET_KEY": "test-secret-key-0123456789", "DIGEST_VAR_DIR": "/nonexistent"}
    return Settings.from_env(base | env)


def test_settings_default_mailbox_and_verp() -> None:
    settings = _settings(DIGEST_FROM="Digest <digest@news.example.org>")
    assert settings.bounce_mailbox == "bounces@news.example.org"
    assert (settings.bounce_score_threshold, settings.bounce_window_days) == (5.0, 7)
    verp = Verp.from_settings(settings)
    assert verp.delivery(verp.address(42)) == 42
    assert verp.address(42) == verp_address(KEY, 42, "bounces@news.example.org")


def test_settings_are_validated() -> None:
    settings = _settings(
        DIGEST_BOUNCE_ADDRESS="return@mail.example.org",
        DIGEST_BOUNCE_SCORE_THRESHOLD="2.5",
        DIGEST_BOUNCE_WINDOW_DAYS="14",
    )
    assert settings.bounce_mailbox == "return@mail.example.org"
    assert (settings.bounce_score_threshold, settings.bounce_window_days) == (2.5, 14)
    for name, value, message in [
        ("DIGEST_BOUNCE_ADDRESS", "bounces+x@example.org", "must not contain '+'"),
        ("DIGEST_BOUNCE_ADDRESS", "not an address", "DIGEST_BOUNCE_ADDRESS"),
        ("DIGEST_BOUNCE_SCORE_THRESHOLD", "lots", "expected a number"),
        ("DIGEST_BOUNCE_SCORE_THRESHOLD", "0", "between"),
        ("DIGEST_BOUNCE_SCORE_THRESHOLD", "nan", "between"),
        ("DIGEST_BOUNCE_WINDOW_DAYS", "0", "between 1 and 365"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            _settings(**{name: value})
