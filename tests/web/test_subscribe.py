"""Signing up and confirming: double opt-in, no enumeration, caps, consent, bad input."""

from __future__ import annotations

import re

import pytest

from digest.subscriptions import CONFIRMATIONS_PER_DAY
from tests.web.conftest import Harness, body_text, links_in

FORM = {
    "email": "ada@example.org",
    "name": "Ada",
    "topics": "reasoning in large language models\nprogram synthesis",
    "authors": "Yoshua Bengio",
    "categories": ["cs.LG", "cs.CL"],
    "frequency": "weekly",
    "weekday": "4",
    "delivery_hour": "8",
    "timezone": "Europe/Berlin",
}


def subscribe(h: Harness, **changes: object):  # type: ignore[no-untyped-def]
    return h.client.post("/subscribe", data={**FORM, **changes}, follow_redirects=False)


def test_sign_up_is_pending_until_the_emailed_button_is_pressed(harness: Harness) -> None:
    h = harness
    response = subscribe(h)
    assert response.status_code == 303 and response.headers["location"] == "/subscribe/sent"
    row = h.reader("ada@example.org")
    assert row is not None and row.status == "pending" and row.confirmed_at is None
    spec = {i.kind: [] for i in row.interests}
    for i in row.interests:
        spec[i.kind].append(i.value)
    assert spec["topic"] == ["reasoning in large language models", "program synthesis"]
    assert spec["category"] == ["cs.LG", "cs.CL"]
    assert (row.frequency, row.weekday, row.delivery_hour, row.timezone) == (
        "weekly",
        4,
        8,
        "Europe/Berlin",
    )
    # consent: when, how, which form, and the IP only as a keyed hash
    assert row.consent_at is not None and row.consent_source == "web"
    assert row.consent_version and row.consent_ip_hash and "testclient" not in row.consent_ip_hash

    mail = h.last_mail("ada@example.org")
    assert "Confirm" in str(mail["Subject"])
    assert "List-Unsubscribe" not in mail  # not on the list until they confirm
    [confirm] = links_in(mail, "/c/")

    page = h.client.get(confirm)  # a link scanner, or the reader opening the link
    assert page.status_code == 200 and "Yes, confirm my subscription" in page.text
    assert h.reader("ada@example.org").status == "pending"  # type: ignore[union-attr]

    done = h.client.post(confirm)
    assert done.status_code == 200 and "You are subscribed" in done.text
    row = h.reader("ada@example.org")
    assert row is not None and row.status == "active" and row.confirmed_at is not None
    welcome = h.last_mail("ada@example.org")
    assert str(welcome["Subject"]).startswith("Welcome")
    assert "List-Unsubscribe" in welcome
    assert "on Friday at 08:00 (Europe/Berlin)" in " ".join(body_text(welcome).split())

    # a replayed confirmation changes nothing and sends nothing more
    sent = len(h.outbox.sent)
    again = h.client.post(confirm)
    assert again.status_code == 200 and "Already confirmed" in again.text
    assert len(h.outbox.sent) == sent


def test_the_answer_is_the_same_for_new_pending_and_active_addresses(harness: Harness) -> None:
    h = harness
    h.add("known@example.org", topics=["graph neural networks"])
    answers = []
    for email in ("new@example.org", "new@example.org", "known@example.org"):
        response = subscribe(h, email=email, topics="something else entirely")
        answers.append((response.status_code, response.headers["location"], response.text))
    assert answers[0] == answers[1] == answers[2]
    landing = h.client.get("/subscribe/sent")
    assert "Check your inbox" in landing.text and "known" not in landing.text

    # the active reader is told how to manage their subscription; nothing else changes
    known = h.reader("known@example.org")
    assert known is not None and known.status == "active"
    assert [i.value for i in known.interests] == ["graph neural networks"]
    mail = h.last_mail("known@example.org")
    assert "already subscribed" in str(mail["Subject"])
    assert links_in(mail, "/p/") and links_in(mail, "/u/")
    # the pending one got two confirmation emails, the second with the latest interests
    assert [str(m["Subject"]).startswith("Confirm") for m in h.mails("new@example.org")] == [
        True,
        True,
    ]


def test_confirmation_emails_are_capped_per_address_and_day(harness: Harness) -> None:
    h = harness
    for _ in range(CONFIRMATIONS_PER_DAY + 2):
        assert subscribe(h).status_code == 303
    assert len(h.mails("ada@example.org")) == CONFIRMATIONS_PER_DAY
    h.clock.advance(days=1)
    assert subscribe(h).status_code == 303
    assert len(h.mails("ada@example.org")) == CONFIRMATIONS_PER_DAY + 1


def test_confirmation_links_expire_after_a_week_and_can_be_sent_again(harness: Harness) -> None:
    h = harness
    subscribe(h)
    [old_path] = links_in(h.last_mail("ada@example.org"), "/c/")
    assert "Yes, confirm" in h.client.get(old_path).text  # a day before it expires
    h.clock.advance(days=6, hours=23)
    assert "Yes, confirm" in h.client.get(old_path).text
    h.clock.advance(hours=2)
    page = h.client.get(old_path)
    assert page.status_code == 200 and "This link has expired" in page.text
    assert h.client.post(old_path).status_code == 200
    assert h.reader("ada@example.org").status == "pending"  # type: ignore[union-attr]
    resent = h.client.post(old_path + "/resend")
    assert resent.status_code == 200 and "Check your inbox" in resent.text
    [fresh] = links_in(h.last_mail("ada@example.org"), "/c/")
    assert fresh != old_path
    assert h.client.post(fresh).status_code == 200
    assert h.reader("ada@example.org").status == "active"  # type: ignore[union-attr]


def test_the_confirmation_says_when_its_link_expires_as_the_site_decides(
    harness: Harness,
) -> None:
    """The email's brand and expiry (from DIGEST_CONFIRM_LINK_HOURS, in the reader's time
    zone): the link works at the minute it names, and not a minute later."""
    h = harness  # the clock: Tuesday 1 December 2026, 09:00 UTC
    subscribe(h)
    mail = h.last_mail("ada@example.org")
    assert str(mail["Subject"]) == "Confirm your subscription to Paper Digest"
    text = " ".join(body_text(mail).split())
    stated = "7 days, until Tuesday, 8 December at 10:00 (Europe/Berlin)"
    assert f"The link works for {stated}." in text
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Confirm your subscription to Paper Digest</h1>" in html
    assert stated in " ".join(html.split())
    assert "it works for 7 days" in h.client.get("/subscribe/sent").text
    [path] = links_in(mail, "/c/")
    h.clock.advance(days=7)  # 10:00 in Berlin on the 8th
    assert "Yes, confirm" in h.client.get(path).text
    h.clock.advance(minutes=1)
    assert "This link has expired" in h.client.get(path).text


def test_the_welcome_of_a_reader_without_topics_asks_for_them(harness: Harness) -> None:
    h = harness
    subscribe(h, topics="", authors="", categories=[])
    [confirm] = links_in(h.last_mail("ada@example.org"), "/c/")
    assert h.client.post(confirm).status_code == 200
    welcome = h.last_mail("ada@example.org")
    assert str(welcome["Subject"]).startswith("Welcome to Paper Digest")
    html = welcome.get_body(("html",)).get_content()  # type: ignore[union-attr]
    [button] = re.findall(r'<a href="([^"]+)"[^>]*>\s*Choose your topics\s*</a>', html)
    assert button.startswith("https://digest.test/p/")
    assert "cannot pick papers for you" in " ".join(body_text(welcome).split())
    page = h.client.get(button.removeprefix("https://digest.test"))
    assert page.status_code == 200 and 'name="topics"' in page.text


@pytest.mark.parametrize(
    ("changes", "field_message"),
    [
        ({"email": "not-an-address"}, "does not look like an email address"),
        ({"email": "ada@example.org\r\nBcc: victim@example.org"}, "email address"),
        ({"email": ""}, "enter your email address"),
        ({"topics": "x" * 100_000}, "at most 10,000 characters"),
        ({"topics": "\n".join(f"topic {i}" for i in range(30))}, "At most 20 topics"),
        ({"categories": ["cs.LG", "cs.NOPE"]}, "Unknown arXiv categories: cs.NOPE"),
        ({"timezone": "Mars/Olympus_Mons"}, "Unknown timezone"),
        ({"delivery_hour": "25"}, "between 0 and 23"),
        ({"frequency": "hourly"}, "daily or weekly"),
        ({"weekday": "someday"}, "day of the week"),
        ({"liked": "not a paper id!"}, ""),
    ],
)
def test_bad_input_is_a_form_error_and_stores_nothing(
    harness: Harness, changes: dict[str, object], field_message: str
) -> None:
    h = harness
    if "liked" in changes:  # the subscribe form has no liked papers: ignored there
        assert subscribe(h, **changes).status_code == 303
        return
    response = subscribe(h, **changes)
    assert response.status_code == 400
    assert field_message in response.text
    assert 'class="error"' in response.text and 'role="alert"' in response.text
    assert h.reader("ada@example.org") is None and not h.outbox.sent


def test_a_body_larger_than_any_form_is_refused_with_a_page(harness: Harness) -> None:
    response = harness.client.post(
        "/subscribe",
        content=b"email=a%40b.org&topics=" + b"x" * 300_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413 and "Too much data" in response.text
    assert harness.reader("a@b.org") is None


def test_the_honeypot_answers_like_success_and_does_nothing(harness: Harness) -> None:
    response = subscribe(harness, website="http://spam.example")
    assert response.status_code == 303 and response.headers["location"] == "/subscribe/sent"
    assert harness.reader("ada@example.org") is None and not harness.outbox.sent


def test_sign_ups_are_rate_limited_per_ip_and_per_address(harness: Harness) -> None:
    h = harness
    for n in range(5):
        assert subscribe(h, email="same@example.org").status_code == 303, n
    limited = subscribe(h, email="same@example.org")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3600"
    for n in range(14):  # 20 per IP and hour, 6 used above
        assert subscribe(h, email=f"reader{n}@example.org").status_code == 303, n
    assert subscribe(h, email="one-more@example.org").status_code == 429
    assert h.reader("one-more@example.org") is None


def test_an_unsubscribed_address_can_sign_up_again_with_a_new_confirmation(
    harness: Harness,
) -> None:
    h = harness
    h.add("back@example.org", status="unsubscribed")
    subscribe(h, email="back@example.org")
    row = h.reader("back@example.org")
    assert row is not None and row.status == "pending" and row.unsubscribed_at is None
    [confirm] = links_in(h.last_mail("back@example.org"), "/c/")
    assert h.client.post(confirm).status_code == 200
    assert h.reader("back@example.org").status == "active"  # type: ignore[union-attr]


def test_tampered_wrong_purpose_and_revoked_confirm_links(harness: Harness) -> None:
    h = harness
    subscribe(h)
    [confirm] = links_in(h.last_mail("ada@example.org"), "/c/")
    token = confirm.removeprefix("/c/")
    body, tag = token.split(".")
    tampered = f"/c/{body}.{'A' * len(tag)}"
    assert h.client.get(tampered).status_code == 400
    assert h.client.post(tampered).status_code == 400
    row = h.reader("ada@example.org")
    assert row is not None
    unsubscribe_token = h.rt.signer.token("unsubscribe", row.link_id)
    assert h.client.post(f"/c/{unsubscribe_token}").status_code == 400  # wrong purpose
    with h.rt.db.session() as session:
        fresh = session.get(type(row), row.id)
        assert fresh is not None
        fresh.link_id = "replaced-link-id"
    gone = h.client.post(confirm)
    assert gone.status_code == 410 and "no longer works" in gone.text
    assert h.reader("ada@example.org").status == "pending"  # type: ignore[union-attr]


def test_a_streamed_body_without_a_length_is_cut_too(harness: Harness) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b"email=a%40b.org&topics="
        for _ in range(40):
            yield b"x" * 10_000

    response = harness.client.post(
        "/subscribe",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413 and "Too much data" in response.text
