"""Confirmation (double opt-in) and welcome emails."""

from __future__ import annotations

from mailcheck import (
    WHEN,
    assert_structure,
    assert_wire_format,
    body,
    make_renderer,
    make_signer,
    parse,
)

from digest.domain import SubscriberInfo


def test_confirmation_email() -> None:
    signer = make_signer()
    url = signer.confirm_url(5)
    email = make_renderer().confirmation(
        to_name="Zoë <script>",
        to_address="zoe@example.org",
        confirm_url=url,
        frequency="weekly",
        message_id="<confirm.5@example.org>",
        when=WHEN,
    )
    assert_wire_format(email.data)
    msg = parse(email.data)
    assert_structure(msg)
    assert str(msg["Subject"]) == "Confirm your subscription to Paper Digest"
    assert msg["To"].addresses[0].display_name == "Zoë <script>"
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None
    assert str(msg["Feedback-ID"]).startswith("confirmation:confirmation:")
    text, html = body(msg, "plain"), body(msg, "html")
    assert url in text and f'href="{url}"' in html
    assert "sent weekly to zoe@example.org" in " ".join(text.split())
    assert "<script>" not in html and "Hi Zoë, please" in " ".join(text.split())


def test_welcome_email() -> None:
    signer = make_signer()
    links = signer.for_recipient(5, "welcome")
    email = make_renderer().welcome(
        SubscriberInfo(5, "zoe@example.org", "Zoë", frequency="daily"),
        links,
        first_delivery="tomorrow at 07:00 (Europe/Berlin)",
        topics=["graph neural networks", "<b>protein</b> folding"],
        message_id="<welcome.5@example.org>",
        when=WHEN,
    )
    msg = parse(email.data)
    assert_structure(msg)
    assert str(msg["Subject"]).startswith(
        "Welcome to Paper Digest: your first digest arrives tomorrow"
    )
    assert str(msg["List-Unsubscribe"]).startswith(f"<{links.unsubscribe}>")
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    text, html = body(msg, "plain"), body(msg, "html")
    for part in (text, html):
        assert links.unsubscribe in part and links.preferences in part
        assert "graph neural networks" in part
    assert "  - <b>protein</b> folding" in text
    assert "&lt;b&gt;protein&lt;/b&gt; folding" in html


def test_site_name_from_settings_everywhere(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """DIGEST_SITE_NAME names the heading, footer, subjects and List-Id; the greeting uses
    the first name only."""
    from mailcheck import render_digest, sample_papers

    from digest.render import DigestRenderer
    from digest.settings import Settings

    env = {
        "DIGEST_FROM": "Lab Mailer <news@example.org>",
        "DIGEST_SITE_NAME": "Paper Radar",
        "DIGEST_SECRET_KEY": "x" * 32,
    }
    renderer = DigestRenderer.from_settings(Settings.from_env(env, cwd=tmp_path))
    signer = make_signer()
    reader = SubscriberInfo(5, "zoe@example.org", "Zoë Ångström")
    links = signer.for_recipient(5, "welcome")
    welcome = renderer.welcome(
        reader, links, first_delivery="tomorrow", message_id="<w@example.org>", when=WHEN
    )
    confirm = renderer.confirmation(
        to_name=reader.name,
        to_address=reader.email,
        confirm_url=signer.confirm_url(5),
        message_id="<c@example.org>",
        when=WHEN,
    )
    digest = render_digest(reader, sample_papers(), renderer=renderer)
    assert str(parse(confirm.data)["Subject"]) == "Confirm your subscription to Paper Radar"
    assert str(parse(welcome.data)["Subject"]).startswith("Welcome to Paper Radar:")
    for email in (welcome, digest):
        assert str(parse(email.data)["List-Id"]) == "Paper Radar <digest.example.org>"
    for email in (welcome, confirm, digest):
        msg = parse(email.data)
        text, html = body(msg, "plain"), body(msg, "html")
        assert "Hi Zoë," in text and "Hi Zoë," in html and "Ångström" not in text
        footer = " ".join(text.split("\n-- \n")[1].split())
        assert "to Paper Radar" in footer and "zoe@example.org" in footer
        assert ">digest<" not in html and "to digest" not in " ".join(text.split())
    assert "Paper Radar</h1>" in digest.html and digest.text.startswith("Paper Radar · ")
    assert "Welcome to Paper Radar</h1>" in welcome.html
