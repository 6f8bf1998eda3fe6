"""`digest demo` as a user runs it: a fresh directory, embedded defaults, an outbox folder."""

from __future__ import annotations

import os
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

from digest.demo import DEMO_SUBSCRIBERS

DIGEST = str(Path(sys.executable).with_name("digest"))


def test_demo_writes_personalized_digests_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    first = subprocess.run(
        [DIGEST, "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    outbox = tmp_path / "var" / "outbox"
    emls = sorted(outbox.glob("*.eml"))
    # what the README promises: one .eml and one .html per demo subscriber (all five have
    # matching papers in the bundled sample)
    assert len(DEMO_SUBSCRIBERS) == 5
    assert len(emls) == 5
    assert sorted(p.stem for p in outbox.glob("*.html")) == [p.stem for p in emls]
    assert "demo subscribers: 5 created, 0 already there" in first.stdout
    bodies = set()
    recipients = []
    for path in emls:
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        recipients.append(msg["To"].addresses[0].addr_spec)
        assert msg.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        assert msg["List-Unsubscribe"] and msg["List-Unsubscribe-Post"] and msg["Message-ID"]
        text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert "Why: " in text
        bodies.add(text.split("\n\n", 2)[2])  # after the greeting
    assert sorted(recipients) == sorted(str(s["email"]) for s in DEMO_SUBSCRIBERS)
    assert len(bodies) == 5  # personalized: no two digests alike
    assert str(outbox) in first.stdout

    second = subprocess.run(
        [DIGEST, "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    assert "Nothing new was sent" in second.stdout
    assert sorted(outbox.glob("*.eml")) == emls
    assert all(
        p.stat().st_mtime == q.stat().st_mtime
        for p, q in zip(emls, sorted(outbox.glob("*.eml")), strict=True)
    )
