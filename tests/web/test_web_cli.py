"""`digest web` serves the site over real HTTP, and refuses unsafe settings in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.helpers import run_cli

DIGEST = str(Path(sys.executable).with_name("digest"))


def test_web_refuses_the_demo_key_for_an_https_site(digest_env, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("DIGEST_SECRET_KEY")
    monkeypatch.setenv("DIGEST_BASE_URL", "https://digest.example.org")
    result = run_cli(capsys, "web", "--port", str(free_port()))
    assert result.code == 2
    assert "DIGEST_SECRET_KEY" in result.err and "Traceback" not in result.err


def test_run_refuses_smtp_with_http_links_unless_allowed(
    digest_env,
    smtp_server,
    monkeypatch,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_server.url)
    monkeypatch.setenv("DIGEST_BASE_URL", "http://digest.example.org")
    assert run_cli(capsys, "subscribers", "add", "a@example.org", "--topic", "x").code == 0
    refused = run_cli(capsys, "run")
    assert (
        refused.code == 2
        and "not https" in refused.err
        and "DIGEST_ALLOW_HTTP_LINKS" in refused.err
    )
    assert not smtp_server.envelopes
    monkeypatch.setenv("DIGEST_ALLOW_HTTP_LINKS", "1")
    assert run_cli(capsys, "run").code == 0


def test_digest_web_serves_the_site_and_one_click_over_real_http(
    digest_env,
    tmp_path,
    monkeypatch,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    port = free_port()
    monkeypatch.setenv("DIGEST_BASE_URL", f"http://127.0.0.1:{port}")
    env = dict(os.environ)
    assert run_cli(capsys, "subscribers", "add", "a@example.org").code == 0
    log = (tmp_path / "web.log").open("wb")
    server = subprocess.Popen(
        [DIGEST, "web", "--port", str(port), "--no-access-log"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("digest web did not start: " + (tmp_path / "web.log").read_text())
        assert httpx.get(base + "/").status_code == 200
        assert (
            run_cli(capsys, "subscribers", "show", "a@example.org", "--json").json()["status"]
            == "active"
        )
        from sqlalchemy import select

        from digest.db import Database
        from digest.db.models import SubscriberRow
        from digest.links import LinkSigner
        from digest.settings import Settings

        settings = Settings.from_env(env)
        db = Database(settings.database_url)
        with db.session() as session:
            link_id = session.scalar(select(SubscriberRow.link_id))
        db.dispose()
        url = LinkSigner(settings.secret_key, settings.base_url).unsubscribe_url(link_id)
        response = httpx.post(url, data={"List-Unsubscribe": "One-Click"})  # no cookies
        assert response.status_code == 200 and not response.is_redirect
        shown = run_cli(capsys, "subscribers", "show", "a@example.org", "--json")
        assert shown.json()["status"] == "unsubscribed"
    finally:
        server.terminate()
        server.wait(timeout=20)
