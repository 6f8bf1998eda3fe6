"""A reader whose data cannot make a valid message fails alone; the others get theirs."""

from __future__ import annotations

from helpers import run_cli
from sqlalchemy import create_engine, text

from digest.demo import sample_papers_path


def test_bad_address_fails_that_delivery_only(capsys, digest_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(capsys, "ingest", "jsonl", str(sample_papers_path())).code == 0
    for address in ("good@example.org", "bad@example.org"):
        added = run_cli(capsys, "subscribers", "add", address, "--topic", "language models")
        assert added.code == 0, added.err
    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'digest.db'}")
    with engine.begin() as conn:  # as if a row had been written by something less careful
        conn.execute(
            text("UPDATE subscribers SET email = :bad WHERE email = 'bad@example.org'"),
            {"bad": "bad@example.org>\r\nBcc: victim@example.org"},
        )
    engine.dispose()
    result = run_cli(capsys, "run", "--json")
    assert result.code == 1
    outcomes = {o["email"].split(">")[0]: o for o in result.json()["outcomes"]}
    assert outcomes["good@example.org"]["status"] == "sent"
    assert outcomes["bad@example.org"]["status"] == "failed"
    assert "cannot build the message" in outcomes["bad@example.org"]["detail"]
    outbox = list((tmp_path / "var" / "outbox").glob("*.eml"))
    assert len(outbox) == 1 and b"victim" not in outbox[0].read_bytes()
