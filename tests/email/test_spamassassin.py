"""SpamAssassin (local rules only, no network tests) scores the demo digest below 2.0."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from conftest import missing_service
from helpers import run_cli

LIMIT = 2.0


def _spamassassin(message: bytes, home: Path) -> tuple[float, list[str], str]:
    result = subprocess.run(
        [
            "spamassassin",
            "-L",  # local tests only: no DNS blocklists, no network
            "-t",  # test mode: append the report
            "--cf=use_bayes 0",
            "--cf=bayes_auto_learn 0",
        ],
        input=message,
        capture_output=True,
        timeout=120,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
        check=True,
    )
    output = result.stdout.decode("utf-8", "replace")
    status = re.search(r"^X-Spam-Status: .*?(?=^\S)", output, re.M | re.S)
    assert status, output[:2000]
    score = float(re.search(r"score=(-?[\d.]+)", status.group(0)).group(1))  # type: ignore[union-attr]
    tests = re.search(r"tests=(.*?)\s+autolearn", status.group(0), re.S)
    rules = [r for r in re.split(r"[,\s]+", tests.group(1)) if r] if tests else []
    report = output[output.find("Content analysis details") :]
    return score, rules, report


def test_demo_digest_scores_low(capsys, digest_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("spamassassin") is None:
        missing_service(
            "SpamAssassin not installed (Debian package spamassassin: "
            "run scripts/install-system-deps)"
        )
    result = run_cli(capsys, "demo")
    assert result.code == 0, result.err
    outbox = Path(digest_env["DIGEST_VAR_DIR"]) / "outbox"
    messages = sorted(outbox.glob("*.eml"))
    assert len(messages) == 5
    home = tmp_path / "home"
    home.mkdir()
    with capsys.disabled():
        print()
        for path in messages:
            score, rules, report = _spamassassin(path.read_bytes(), home)
            print(f"spamassassin {path.name}: score {score} rules {', '.join(rules) or '-'}")
            assert score < LIMIT, report
    # The control: the same rules do flag spam (GTUBE is SpamAssassin's test pattern).
    spam = (
        messages[0]
        .read_bytes()
        .replace(
            b"Hi ", b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X ", 1
        )
    )
    score, rules, _ = _spamassassin(spam, home)
    assert score >= 100 and "GTUBE" in rules
