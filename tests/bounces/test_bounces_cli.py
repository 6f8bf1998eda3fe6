"""`digest bounces read / list` against a real database, on a Maildir and an mbox."""

from __future__ import annotations

import mailbox

import pytest

from digest.db.engine import Database
from tests.bounces.conftest import add_sent, report_for, status_of
from tests.helpers import run_cli


@pytest.fixture
def env(digest_env, db_url, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", db_url)
    assert run_cli(capsys, "db", "upgrade").code == 0
    database = Database(db_url)
    yield database
    database.dispose()


def test_read_a_maildir(env, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    hard = add_sent(env, "jane@gone.example")
    soft = add_sent(env, "sam@slow.example")
    complaint = add_sent(env, "dana@yahoo.com")
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(report_for("postfix_hard_5.1.1.eml", hard))
    box.add(report_for("postfix_delayed_4.4.1.eml", soft))
    box.add(report_for("yahoo_arf_abuse.eml", complaint))
    box.add(report_for("vacation_autoreply.eml", hard))
    result = run_cli(capsys, "bounces", "read", str(tmp_path / "Maildir"))
    assert result.code == 0, result.err
    assert "4 message(s) read: 1 complaint, 1 hard, 1 soft, 1 unrecognized" in result.out
    assert "reader" in result.out and "action" in result.out  # the table (wrapped at 80)
    assert status_of(env, hard.subscriber_id)[0] == "bounced"
    assert status_of(env, soft.subscriber_id) == ("active", 0.5)
    assert status_of(env, complaint.subscriber_id)[0] == "unsubscribed"

    actions = {
        (o["email"], o["action"])
        for o in run_cli(capsys, "bounces", "read", str(tmp_path / "Maildir"), "--json").json()
    }
    assert actions == {
        ("jane@gone.example", "already recorded"),
        ("sam@slow.example", "already recorded"),
        ("dana@yahoo.com", "already recorded"),
        (None, "ignored"),
    }
    again = run_cli(capsys, "bounces", "read", str(tmp_path / "Maildir"), "--json")
    assert again.code == 0, again.err
    assert sorted(o["action"] for o in again.json()) == [
        "already recorded",
        "already recorded",
        "already recorded",
        "ignored",
    ]
    assert status_of(env, soft.subscriber_id) == ("active", 0.5)

    listed = run_cli(capsys, "bounces", "list", "--json")
    assert listed.code == 0, listed.err
    assert sorted(e["kind"] for e in listed.json()) == ["complaint", "hard", "soft"]
    table = run_cli(capsys, "bounces", "list", "--since", "2000-01-01", "--kind", "hard")
    assert table.code == 0 and "1 event(s) since 2000-01-01 00:00 UTC" in table.out


def test_read_an_mbox_and_an_eml(env, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = add_sent(env, "user@contoso.com")
    second = add_sent(env, "bob@example.net")
    box = mailbox.mbox(tmp_path / "bounces.mbox", create=True)
    box.add(report_for("m365_hard_5.1.10.eml", first))
    box.flush()
    box.close()
    eml = tmp_path / "one.eml"
    eml.write_bytes(report_for("exim_hard_5.0.0.eml", second))
    result = run_cli(capsys, "bounces", "read", str(tmp_path / "bounces.mbox"), str(eml))
    assert result.code == 0, result.err
    assert "2 message(s) read: 2 hard" in result.out
    assert status_of(env, first.subscriber_id)[0] == "bounced"
    assert status_of(env, second.subscriber_id)[0] == "bounced"


def test_a_missing_path_is_one_error_line(env, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(capsys, "bounces", "read", str(tmp_path / "nope"))
    assert result.code == 3
    assert result.err.strip().splitlines() == [
        f"error: {tmp_path / 'nope'}: no such file or directory"
    ]


def test_a_folder_that_is_not_a_maildir(env, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "plain").mkdir()
    result = run_cli(capsys, "bounces", "read", str(tmp_path / "plain"))
    assert result.code == 2
    assert result.err.startswith("error: ") and "not a Maildir" in result.err


def test_list_rejects_a_bad_since(env, capsys) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(capsys, "bounces", "list", "--since", "yesterday")
    assert result.code == 2 and result.err.startswith("error: --since")
