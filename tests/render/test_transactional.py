"""Confirmation (double opt-in) and welcome emails."""

from __future__ import annotations

import re

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


def test_transactional_emails_greet_by_the_greeting_name() -> None:
    signer = make_signer()
    renderer = make_renderer()
    reader = SubscriberInfo(5, "zoe@example.org", "Zoë Ångström", greeting_name="Zo")
    links = signer.for_recipient(5, "welcome")
    welcome = renderer.welcome(
        reader, links, first_delivery="tomorrow", message_id="<w@example.org>", when=WHEN
    )
    manage = renderer.manage(
        reader, links, reason="signed_out", message_id="<m@example.org>", when=WHEN
    )
    confirm = renderer.confirmation(
        to_name=reader.name,
        to_address=reader.email,
        to_greeting=reader.greeting_name,
        confirm_url=signer.confirm_url(5),
        message_id="<c@example.org>",
        when=WHEN,
    )
    for email in (welcome, manage, confirm):
        msg = parse(email.data)
        text, html = body(msg, "plain"), body(msg, "html")
        assert "Hi Zo," in text and "Hi Zo," in html and "Hi Zoë" not in text


def test_confirmation_shows_the_brand_and_when_the_link_expires() -> None:
    from digest.subscriptions import expiry_text

    signer = make_signer()
    expires = expiry_text(WHEN, 48, "Europe/Berlin")  # WHEN: Friday 30 May 2025, 07:00 UTC
    assert expires == "2 days, until Sunday, 1 June at 09:00 (Europe/Berlin)"
    email = make_renderer().confirmation(
        to_name="Zoë",
        to_address="zoe@example.org",
        confirm_url=signer.confirm_url(5),
        expires=expires,
        message_id="<confirm.5@example.org>",
        when=WHEN,
    )
    msg = parse(email.data)
    text, html = body(msg, "plain"), body(msg, "html")
    assert "Confirm your subscription to Paper Digest</h1>" in html
    assert "Paper Digest digest is on its way" in html  # the preheader
    sentence = f"The link works for {expires}."
    assert sentence in " ".join(text.split()) and sentence in " ".join(html.split())
    assert max(len(line) for line in text.splitlines() if "://" not in line) <= 78
    # no expiry known (an older caller): no sentence, nothing broken
    plain = make_renderer().confirmation(
        to_name=None,
        to_address="zoe@example.org",
        confirm_url=signer.confirm_url(5),
        message_id="<c@example.org>",
        when=WHEN,
    )
    assert "The link works" not in plain.text


def test_expiry_and_lifetime_in_words() -> None:
    from datetime import UTC, datetime

    from digest.subscriptions import expiry_text, lifetime_text

    assert [lifetime_text(h) for h in (1, 36, 24, 168)] == ["1 hour", "36 hours", "1 day", "7 days"]
    late = datetime(2026, 12, 28, 23, 59, 59, 900_000, tzinfo=UTC)
    # a new year is named; the minute is rounded down (the link works until then)
    assert expiry_text(late, 168, "UTC") == "7 days, until Monday, 4 January 2027 at 23:59 (UTC)"
    # across a DST change: 7 × 24 hours later on the clock of the reader
    spring = datetime(2026, 3, 25, 8, 30, tzinfo=UTC)  # 09:30 CET
    assert expiry_text(spring, 168, "Europe/Berlin").endswith("1 April at 10:30 (Europe/Berlin)")
    chatham = expiry_text(datetime(2026, 1, 5, 7, 0, tzinfo=UTC), 24, "Pacific/Chatham")
    assert chatham == "1 day, until Tuesday, 6 January at 20:45 (Pacific/Chatham)"


def test_welcome_without_topics_asks_for_them_with_one_button() -> None:
    signer = make_signer()
    links = signer.for_recipient(5, "welcome")
    reader = SubscriberInfo(5, "zoe@example.org", "Zoë")

    def welcome(topics: list[str], cold: bool):  # type: ignore[no-untyped-def]
        return make_renderer().welcome(
            reader,
            links,
            first_delivery="tomorrow at 07:00 (UTC)",
            topics=topics,
            cold_start=cold,
            message_id="<w@example.org>",
            when=WHEN,
        )

    cold = welcome([], True)
    html, text = cold.html, cold.text
    assert html.count('class="button"') == 1 or html.count("Choose your topics</a>") == 1
    [button] = re.findall(r'<a href="([^"]+)"[^>]*>\s*Choose your topics\s*</a>', html)
    assert button == links.preferences
    assert "so your digest cannot pick papers for you" in " ".join(text.split())
    lines = text.splitlines()
    assert lines[lines.index(links.preferences) - 1].endswith("Choose your topics:")
    assert "We will look for papers on" not in text
    # categories or authors but no topic: asked too, with other words
    some = welcome([], False)
    assert "Choose your topics</a>" in some.html and "cannot pick" not in some.text
    assert "looks for papers on them too" in " ".join(some.text.split())
    # with topics: listed, no button
    named = welcome(["graph neural networks"], False)
    assert "Choose your topics" not in named.html + named.text
    assert "graph neural networks" in named.text
