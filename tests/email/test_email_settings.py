"""The email settings: DKIM, List-Unsubscribe mailto, Feedback-ID, postal address."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import run_cli

from digest.errors import ConfigError
from digest.settings import Settings

KEY = Path(__file__).resolve().parent.parent / "fixtures" / "dkim" / "test-rsa.pem"
BASE = {
    "DIGEST_SECRET_KEY": "test-secret-key-0123456789",
    "DIGEST_FROM": "Paper Digest <digest@news.example.org>",
}


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({**BASE, "DIGEST_VAR_DIR": str(tmp_path), **env}, cwd=tmp_path)


def test_defaults_have_no_dkim_and_no_mailto(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.dkim is None and settings.unsubscribe_mailto == ""
    assert settings.feedback_id == "" and settings.postal_address == ""


def test_dkim_settings(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        DIGEST_DKIM_SELECTOR="mail2025",
        DIGEST_DKIM_KEY_FILE=str(KEY),
        DIGEST_DKIM_DOMAIN="example.org",
        DIGEST_UNSUBSCRIBE_MAILTO="mailto:unsubscribe@example.org",
        DIGEST_FEEDBACK_ID="paperdigest",
        DIGEST_POSTAL_ADDRESS="1 Example Street, Example City",
    )
    assert settings.dkim is not None
    assert (settings.dkim.selector, settings.dkim.domain) == ("mail2025", "example.org")
    assert settings.dkim.key == KEY.read_bytes() and "key=" not in repr(settings.dkim)
    assert settings.unsubscribe_mailto == "unsubscribe@example.org"
    assert _settings(
        tmp_path, DIGEST_DKIM_SELECTOR="s", DIGEST_DKIM_KEY_FILE=str(KEY)
    ).dkim.domain == ("news.example.org")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DIGEST_DKIM_SELECTOR": "s"}, "DIGEST_DKIM_KEY_FILE: required"),
        ({"DIGEST_DKIM_KEY_FILE": str(KEY)}, "DIGEST_DKIM_SELECTOR: required"),
        ({"DIGEST_DKIM_DOMAIN": "example.org"}, "DIGEST_DKIM_DOMAIN: also set"),
        (
            {"DIGEST_DKIM_SELECTOR": "s", "DIGEST_DKIM_KEY_FILE": "/nonexistent/key.pem"},
            "DIGEST_DKIM_KEY_FILE: cannot read /nonexistent/key.pem",
        ),
        (
            {"DIGEST_DKIM_SELECTOR": "bad selector", "DIGEST_DKIM_KEY_FILE": str(KEY)},
            "DIGEST_DKIM_SELECTOR: not a valid DNS label",
        ),
        (
            {
                "DIGEST_DKIM_SELECTOR": "s",
                "DIGEST_DKIM_KEY_FILE": str(KEY),
                "DIGEST_DKIM_DOMAIN": "other.example",
            },
            "DMARC would not align",
        ),
        ({"DIGEST_UNSUBSCRIBE_MAILTO": "not-an-address"}, "DIGEST_UNSUBSCRIBE_MAILTO"),
        ({"DIGEST_UNSUBSCRIBE_MAILTO": "a@b.org>, <x@y.org"}, "DIGEST_UNSUBSCRIBE_MAILTO"),
        ({"DIGEST_FEEDBACK_ID": "has:colon"}, "DIGEST_FEEDBACK_ID"),
        ({"DIGEST_POSTAL_ADDRESS": "line\nbreak"}, "DIGEST_POSTAL_ADDRESS: must be a single line"),
        ({"DIGEST_CONTACT_LINE": "line\r\nbreak"}, "DIGEST_CONTACT_LINE: must be a single line"),
    ],
)
def test_bad_values_are_one_line_config_errors(tmp_path: Path, env: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as info:
        _settings(tmp_path, **env)
    assert "\n" not in str(info.value)


def test_unreadable_and_invalid_key_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    with pytest.raises(ConfigError, match="not a PEM RSA or Ed25519 private key"):
        _settings(tmp_path, DIGEST_DKIM_SELECTOR="s", DIGEST_DKIM_KEY_FILE=str(junk))
    if os.geteuid() != 0:  # root reads everything
        locked = tmp_path / "locked.pem"
        locked.write_bytes(KEY.read_bytes())
        locked.chmod(0)
        with pytest.raises(ConfigError, match="Permission denied"):
            _settings(tmp_path, DIGEST_DKIM_SELECTOR="s", DIGEST_DKIM_KEY_FILE=str(locked))
    directory = tmp_path / "dir.pem"
    directory.mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        _settings(tmp_path, DIGEST_DKIM_SELECTOR="s", DIGEST_DKIM_KEY_FILE=str(directory))


def test_cli_prints_one_error_line(capsys, digest_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DKIM_SELECTOR", "s")
    monkeypatch.setenv("DIGEST_DKIM_KEY_FILE", "/nonexistent/key.pem")
    result = run_cli(capsys, "preview", "nobody@example.org")
    assert result.code == 2
    assert result.err.strip().startswith("error: DIGEST_DKIM_KEY_FILE: cannot read")
    assert "Traceback" not in result.err
