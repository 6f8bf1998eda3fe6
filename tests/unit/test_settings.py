from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.settings import Settings, parse_smtp_url


def test_embedded_defaults(tmp_path: Path) -> None:
    s = Settings.from_env({}, cwd=tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path / 'var' / 'digest.db'}"
    assert s.broker_url is None and s.in_process
    assert s.smtp is None
    assert s.outbox_dir == tmp_path / "var" / "outbox"
    assert (s.var_dir / "secret_key").exists()
    # the embedded secret is stable across runs, so links in sent mails stay valid
    assert Settings.from_env({}, cwd=tmp_path).secret_key == s.secret_key


def test_real_components_switched_on(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "DIGEST_DATABASE_URL": "postgresql://postgres@127.0.0.1/digest",
            "DIGEST_BROKER_URL": "redis://127.0.0.1:6379/3",
            "DIGEST_SMTP_URL": "smtp://user:p%40ss@mail.example.org:587?starttls=1",
            "DIGEST_FROM": "Paper Digest <news@example.org>",
            "DIGEST_BASE_URL": "https://digest.example.org/",
            "DIGEST_SECRET_KEY": "k" * 32,
        },
        cwd=tmp_path,
    )
    assert not s.in_process
    assert s.smtp is not None
    assert (s.smtp.host, s.smtp.port, s.smtp.username, s.smtp.password) == (
        "mail.example.org",
        587,
        "user",
        "p@ss",
    )
    assert s.smtp.starttls and not s.smtp.ssl
    assert (s.from_name, s.from_address, s.from_domain) == (
        "Paper Digest",
        "news@example.org",
        "example.org",
    )
    assert s.base_url == "https://digest.example.org"


def test_smtps_default_port() -> None:
    cfg = parse_smtp_url("smtps://relay.example.org")
    assert cfg.ssl and cfg.port == 465


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("DIGEST_DATABASE_URL", "not a url", "DIGEST_DATABASE_URL"),
        ("DIGEST_DATABASE_URL", "mysql://root@localhost/x", "unsupported database"),
        ("DIGEST_SMTP_URL", "http://mail.example.org", "DIGEST_SMTP_URL"),
        ("DIGEST_SMTP_URL", "smtp://:99999", "DIGEST_SMTP_URL"),
        ("DIGEST_SMTP_URL", "smtps://h?starttls=1", "exclude each other"),
        ("DIGEST_SMTP_URL", "smtp://h?bogus=1", "unknown option"),
        ("DIGEST_BROKER_URL", "kafka://x", "DIGEST_BROKER_URL"),
        ("DIGEST_BASE_URL", "ftp://x", "DIGEST_BASE_URL"),
        ("DIGEST_FROM", "no address here", "DIGEST_FROM"),
        ("DIGEST_FROM", "a <a@b.org>\r\nBcc: x@y.org", "line breaks"),
        ("DIGEST_SECRET_KEY", "short", "DIGEST_SECRET_KEY"),
        ("DIGEST_TOP_K", "ten", "DIGEST_TOP_K"),
        ("DIGEST_TOP_K", "0", "DIGEST_TOP_K"),
        ("DIGEST_CONFIRM_LINK_HOURS", "0", "DIGEST_CONFIRM_LINK_HOURS"),
        ("DIGEST_CONFIRM_LINK_HOURS", "a week", "DIGEST_CONFIRM_LINK_HOURS"),
    ],
)
def test_wrong_values_name_the_setting(tmp_path: Path, key: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({key: value, "DIGEST_SECRET_KEY": "x" * 20} | {key: value}, cwd=tmp_path)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_toml_file_and_env_precedence(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text('[digest]\nfrom = "File <file@example.org>"\ntop_k = 7\n')
    s = Settings.from_env({"DIGEST_CONFIG": str(config), "DIGEST_TOP_K": "5"}, cwd=tmp_path)
    assert s.from_address == "file@example.org"
    assert s.top_k == 5


def test_unreadable_toml_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="DIGEST_CONFIG"):
        Settings.from_env({"DIGEST_CONFIG": str(bad)}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="cannot read"):
        Settings.from_env({"DIGEST_CONFIG": str(tmp_path / "missing.toml")}, cwd=tmp_path)


def test_site_name_defaults_to_the_from_display_name(tmp_path: Path) -> None:
    key = {"DIGEST_SECRET_KEY": "k" * 20}
    named = Settings.from_env({**key, "DIGEST_FROM": "Lab News <n@example.org>"}, cwd=tmp_path)
    assert named.site_name == "Lab News"
    bare = Settings.from_env({**key, "DIGEST_FROM": "n@example.org"}, cwd=tmp_path)
    assert bare.site_name == "digest"
    env = {**key, "DIGEST_FROM": "Lab News <n@example.org>", "DIGEST_SITE_NAME": " Paper  Radar "}
    assert Settings.from_env(env, cwd=tmp_path).site_name == "Paper Radar"
    with pytest.raises(ConfigError, match="DIGEST_SITE_NAME"):
        Settings.from_env({**key, "DIGEST_SITE_NAME": "a\nb"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="DIGEST_SITE_NAME"):
        Settings.from_env({**key, "DIGEST_SITE_NAME": "x" * 61}, cwd=tmp_path)


def test_confirmation_links_work_for_the_configured_hours(tmp_path: Path) -> None:
    assert Settings.from_env({}, cwd=tmp_path).confirm_max_age == 7 * 24 * 3600
    s = Settings.from_env({"DIGEST_CONFIRM_LINK_HOURS": "36"}, cwd=tmp_path)
    assert (s.confirm_link_hours, s.confirm_max_age) == (36, 36 * 3600)
