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
    assert str(msg["Subject"]) == "Confirm your subscription to digest"
    assert msg["To"].addresses[0].display_name == "Zoë <script>"
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None
    assert str(msg["Feedback-ID"]).startswith("confirmation:confirmation:")
    text, html = body(msg, "plain"), body(msg, "html")
    assert url in text and f'href="{url}"' in html
    assert "sent weekly to zoe@example.org" in " ".join(text.split())
    assert "<script>" not in html and "Zoë &lt;script&gt;" in html


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
    assert str(msg["Subject"]).startswith("Welcome to digest: your first digest arrives tomorrow")
    assert str(msg["List-Unsubscribe"]).startswith(f"<{links.unsubscribe}>")
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    text, html = body(msg, "plain"), body(msg, "html")
    for part in (text, html):
        assert links.unsubscribe in part and links.preferences in part
        assert "graph neural networks" in part
    assert "  - <b>protein</b> folding" in text
    assert "&lt;b&gt;protein&lt;/b&gt; folding" in html
