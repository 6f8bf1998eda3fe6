"""Every link of a real digest: unsubscribe (RFC 8058), preferences, 👍/👎, view in browser.

Each test sends a real edition (sample papers, in-process pipeline) and follows the links
in the email the reader got, as the reader (or a link scanner) would.
"""

from __future__ import annotations

import asyncio
import base64
import re

import httpx
import pytest

from digest.db import accounts, feedback
from digest.db.subscribers import find_subscriber
from digest.pipeline.service import deliver_batch, plan_edition
from tests.web.conftest import BASE, Harness, body_text, feedback_of, links_in

READER = "ada@example.org"


@pytest.fixture
def sent(harness: Harness) -> Harness:
    """Ada and Grace, active, each sent today's digest."""
    harness.load_sample_papers()
    harness.add(READER, name="Ada", topics=["reasoning in large language models"])
    harness.add("grace@example.org", topics=["speech recognition"])
    harness.send_edition()
    assert harness.mails(READER) and harness.mails("grace@example.org")
    return harness


def digest_mail(h: Harness, to: str = READER):  # type: ignore[no-untyped-def]
    return h.last_mail(to)


def test_get_of_every_link_in_a_digest_changes_nothing(sent: Harness) -> None:
    """Link scanners fetch every URL in a message: none of those GETs may act."""
    h = sent
    mail = digest_mail(h)
    paths = links_in(mail)
    assert {p.split("/")[1] for p in paths} >= {"u", "p", "v", "f"}
    before = h.snapshot()
    for path in paths:
        response = h.client.get(path)
        assert response.status_code == 200, path
        assert h.client.head(path).status_code in (200, 405), path
    assert h.snapshot() == before


def test_one_click_unsubscribe_per_rfc_8058(sent: Harness) -> None:
    h = sent
    header = str(digest_mail(h)["List-Unsubscribe"])
    assert str(digest_mail(h)["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<https://digest\.test(/u/[^>]+)>", header)
    assert url, header
    h.client.cookies.clear()
    response = h.client.post(
        url.group(1),
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert response.status_code == 200  # no redirect, no cookie, no CSRF token
    assert "set-cookie" not in response.headers
    assert h.reader(READER).status == "unsubscribed"  # type: ignore[union-attr]
    again = h.client.post(url.group(1), data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200  # idempotent
    assert h.reader("grace@example.org").status == "active"  # type: ignore[union-attr]


def test_an_unsubscribe_reaches_an_edition_that_is_already_running(sent: Harness) -> None:
    """The edition is planned and its picks chosen; the reader unsubscribes; the claim of
    their row, which comes after, skips it: nothing is sent."""
    h = sent
    h.clock.advance(days=1)
    h.load_sample_papers()  # nothing new, but the edition runs anyway
    plan = plan_edition(h.rt)
    assert len(plan.delivery_ids) == 2
    [unsubscribe] = links_in(digest_mail(h), "/u/")[:1]
    assert h.client.post(unsubscribe).status_code == 200
    sent_before = len(h.outbox.sent)
    result = deliver_batch(h.rt, plan.delivery_ids)
    mine = [o for o in result.outcomes if o["email"] == READER]
    assert mine and mine[0]["status"] == "skipped"
    assert all(m.recipient != READER for m in h.outbox.sent[sent_before:])
    assert h.count("SELECT count(*) FROM deliveries WHERE status = 'sending'") == 0


def test_the_unsubscribe_page_offers_a_pause_weekly_and_a_way_back(sent: Harness) -> None:
    h = sent
    [path] = links_in(digest_mail(h), "/u/")[:1]
    page = h.client.get(path)
    assert "Unsubscribe" in page.text and "Pause" in page.text and "one digest a week" in page.text
    paused = h.client.post(path + "/pause", data={"weeks": "2"})
    assert paused.status_code == 200 and "Paused" in paused.text
    row = h.reader(READER)
    assert row is not None and row.status == "paused" and row.paused_until is not None
    # no digest while paused; the planner resumes the reader when the pause is over
    h.clock.advance(days=1)
    mails = len(h.mails(READER))
    h.send_edition()
    assert len(h.mails(READER)) == mails
    assert h.reader(READER).status == "paused"  # type: ignore[union-attr]
    h.clock.advance(weeks=2)
    plan_edition(h.rt)
    assert h.reader(READER).status == "active"  # type: ignore[union-attr]

    weekly = h.client.post(path + "/weekly")
    assert weekly.status_code == 200 and h.reader(READER).frequency == "weekly"  # type: ignore[union-attr]

    assert h.client.post(path).status_code == 200
    welcome_count = len(h.mails(READER))
    back = h.client.post(path + "/resubscribe")
    assert back.status_code == 200 and "Welcome back" in back.text
    row = h.reader(READER)
    assert row is not None and row.status == "active" and row.consent_source == "resubscribe"
    # resubscribing replaced every old link, and the welcome email carries the new ones
    assert h.client.get(path).status_code == 410
    assert len(h.mails(READER)) == welcome_count + 1
    fresh = links_in(h.last_mail(READER), "/u/")
    assert fresh and fresh[0] != path and h.client.get(fresh[0]).status_code == 200


def test_preferences_change_every_interest_and_need_the_form_token(sent: Harness) -> None:
    h = sent
    [path] = links_in(digest_mail(h), "/p/")
    page = h.client.get(path)
    assert page.status_code == 200 and "reasoning in large language models" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    form = {
        "name": "Ada L.",
        "topics": "program synthesis\ntheorem proving",
        "require": "proof",
        "exclude": "medical, biology",
        "authors": "Terence Tao",
        "categories": ["cs.LO", "math.LO"],
        "liked": "2505.22942",
        "disliked": "2505.22914",
        "frequency": "weekly",
        "weekday": "2",
        "delivery_hour": "18",
        "timezone": "Asia/Tokyo",
    }
    before = h.snapshot()
    assert h.client.post(path, data=form).status_code == 403  # no token
    assert h.client.post(path, data={**form, "csrf": "forged"}).status_code == 403
    other = re.search(
        r'name="csrf" value="([^"]+)"',
        h.client.get(links_in(digest_mail(h, "grace@example.org"), "/p/")[0]).text,
    )
    assert other and h.client.post(path, data={**form, "csrf": other.group(1)}).status_code == 403
    assert h.snapshot() == before

    saved = h.client.post(path, data={**form, "csrf": csrf.group(1)}, follow_redirects=False)
    assert saved.status_code == 303
    assert "Saved." in h.client.get(saved.headers["location"]).text
    row = h.reader(READER)
    assert row is not None
    kinds: dict[str, list[str]] = {}
    for interest in row.interests:
        kinds.setdefault(interest.kind, []).append(interest.value)
    assert kinds == {
        "topic": ["program synthesis", "theorem proving"],
        "require": ["proof"],
        "exclude": ["medical", "biology"],
        "author": ["Terence Tao"],
        "category": ["cs.LO", "math.LO"],
        "liked": ["2505.22942"],
        "disliked": ["2505.22914"],
    }
    assert (row.name, row.frequency, row.weekday, row.delivery_hour, row.timezone) == (
        "Ada L.",
        "weekly",
        2,
        18,
        "Asia/Tokyo",
    )
    assert row.email == READER and row.status == "active"

    bad = h.client.post(path, data={**form, "csrf": csrf.group(1), "timezone": "Nowhere/City"})
    assert bad.status_code == 400 and "Unknown timezone" in bad.text
    assert h.reader(READER).timezone == "Asia/Tokyo"  # type: ignore[union-attr]


def test_pause_sign_out_and_delete_from_preferences(sent: Harness) -> None:
    h = sent
    [path] = links_in(digest_mail(h), "/p/")

    def token(form: str) -> str:
        page = h.client.get(path).text
        found = re.search(
            rf'action="{re.escape(path)}{form}".*?name="csrf" value="([^"]+)"', page, re.S
        )
        assert found, form
        return found.group(1)

    assert h.client.post(path + "/pause", data={"weeks": "4"}).status_code == 403
    h.client.post(path + "/pause", data={"weeks": "4", "csrf": token("/pause")})
    assert h.reader(READER).status == "paused"  # type: ignore[union-attr]
    h.client.post(path + "/pause", data={"weeks": "resume", "csrf": token("/pause")})
    assert h.reader(READER).status == "active"  # type: ignore[union-attr]

    archive = h.client.get(path + "/archive")
    assert archive.status_code == 200
    [view] = re.findall(r'href="https://digest\.test(/v/[^"]+)"', archive.text)
    assert h.client.get(view).status_code == 200

    old_links = links_in(digest_mail(h))
    out = h.client.post(path + "/signout", data={"csrf": token("/signout")})
    assert out.status_code == 200 and "replaced" in out.text
    for link in old_links:
        assert h.client.get(link).status_code == 410, link
    new_mail = h.last_mail(READER)
    assert "new" in str(new_mail["Subject"]).lower()
    [new_path] = links_in(new_mail, "/p/")
    assert h.client.get(new_path).status_code == 200

    def new_token(form: str) -> str:
        page = h.client.get(new_path).text
        found = re.search(
            rf'action="{re.escape(new_path)}{form}".*?name="csrf" value="([^"]+)"', page, re.S
        )
        assert found
        return found.group(1)

    reader_id = h.reader(READER).id  # type: ignore[union-attr]
    with h.rt.db.session() as session:
        feedback.add_feedback(session, reader_id, "2505.22942", "up", h.clock())
    tables = ("deliveries", "sent_papers", "interests", "feedback_events")
    counts = {
        t: h.count(f"SELECT count(*) FROM {t} WHERE subscriber_id = :i", i=reader_id)
        for t in tables
    }
    assert all(counts.values()), counts
    refused = h.client.post(new_path + "/delete", data={"csrf": new_token("/delete")})
    assert refused.status_code == 400 and h.reader(READER) is not None
    deleted = h.client.post(
        new_path + "/delete", data={"csrf": new_token("/delete"), "confirm": "yes"}
    )
    assert deleted.status_code == 200 and "deleted" in deleted.text
    assert h.reader(READER) is None
    for table in tables:
        sql = f"SELECT count(*) FROM {table} WHERE subscriber_id = :i"
        assert h.count(sql, i=reader_id) == 0, table
    assert h.client.get(new_path).status_code == 410
    assert h.reader("grace@example.org") is not None


def test_feedback_records_only_on_post_and_can_be_undone(sent: Harness) -> None:
    h = sent
    ups = links_in(digest_mail(h), "/f/")
    up = next(p for p in ups if p.endswith("/up"))
    assert "." not in up.split("/")[2] and len(BASE + up) <= 60, up  # the short form
    down = up[: -len("/up")] + "/down"
    page = h.client.get(up)
    assert page.status_code == 200 and "More papers like this?" in page.text
    assert "feedback.js" in page.text
    assert h.count("SELECT count(*) FROM feedback_events") == 0

    recorded = h.client.post(up)
    assert recorded.status_code == 200 and "more like this" in recorded.text
    assert h.client.post(up).status_code == 200  # the same vote again adds nothing
    rows = h.count("SELECT count(*) FROM feedback_events WHERE kind = 'up'")
    assert rows == 1
    h.client.post(down)
    with h.rt.db.session() as session:
        row = h.reader(READER)
        assert row is not None
        link_id, paper = feedback_of(h, up)
        assert link_id == row.link_id
        assert accounts.latest_vote(session, row.id, paper) == "down"
        undone = h.client.post(up[: -len("/up")] + "/undo")
        assert undone.status_code == 200 and "Undone" in undone.text
        assert accounts.latest_vote(session, row.id, paper) == "up"
    assert h.client.get(up[: -len("/up")] + "/sideways").status_code == 400
    assert h.count("SELECT count(*) FROM feedback_events") == 1


def test_old_long_feedback_links_still_work(sent: Harness) -> None:
    """Emails sent before short links carry ``/f/<json>.<tag>/up``: the same pages, the
    vote recorded only on POST, undo, and revoked with the reader's link id."""
    h = sent
    reader = h.reader(READER)
    assert reader is not None
    _, paper = feedback_of(h, links_in(digest_mail(h), "/f/")[0])
    token = h.rt.signer.token("feedback", [reader.link_id, paper])  # the old format, as is
    assert "." in token
    up, down = f"/f/{token}/up", f"/f/{token}/down"
    before = h.snapshot()
    page = h.client.get(up)
    assert page.status_code == 200 and "More papers like this?" in page.text
    assert f'action="/f/{token}/up"' in page.text  # the button POSTs to the same link
    assert h.snapshot() == before  # a GET records nothing
    assert h.client.post(down).status_code == 200
    with h.rt.db.session() as session:
        assert accounts.latest_vote(session, reader.id, paper) == "down"
    assert h.client.post(f"/f/{token}/undo").status_code == 200
    with h.rt.db.session() as session:
        assert accounts.latest_vote(session, reader.id, paper) is None
    with h.rt.db.session() as session:
        row = find_subscriber(session, READER)
        assert row is not None
        accounts.rotate_link_id(row, h.clock())
    assert h.client.get(up).status_code == 410
    assert h.client.post(up).status_code == 410
    assert h.count("SELECT count(*) FROM feedback_events") == 0


def test_view_in_browser_is_the_digest_as_sent(sent: Harness) -> None:
    h = sent
    mail = digest_mail(h)
    [view] = links_in(mail, "/v/")
    page = h.client.get(view)
    assert page.status_code == 200
    sent_html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert page.text == sent_html.replace("\r\n", "\n")
    assert "script-src" not in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # another reader's edition path with this token, or a token for another path: refused
    other = view.replace("daily%3A", "weekly%3A")
    assert h.client.get(other).status_code == 400
    assert "Ada" in body_text(mail)


@pytest.mark.parametrize("prefix", ["/u/", "/p/", "/f/", "/v/"])
def test_tampered_and_wrong_purpose_tokens_are_refused(sent: Harness, prefix: str) -> None:
    h = sent
    [path] = links_in(digest_mail(h), prefix)[:1]
    if prefix == "/f/":  # the email's short form first, then the long form of older emails
        short_tokens_tampered_are_refused(h, path)
        path = h.rt.signer.feedback(*feedback_of(h, path), "up").removeprefix(BASE)
        assert h.client.get(path).status_code == 200
    parts = path.split("/")
    token_index = 3 if prefix == "/v/" else 2
    token = parts[token_index]
    body, tag = token.split(".")
    # a valid token with characters that base64 decoding would skip: refused too
    stray = (f"{token}%3Cb%3E", f"{body}.{tag[:10]}!{tag[10:]}", f"{token}==")
    for bad in (f"{body}.{tag[::-1]}", f"{body[:-2]}AA.{tag}", "garbage", "x.y", *stray):
        tampered = "/".join([*parts[:token_index], bad, *parts[token_index + 1 :]])
        assert h.client.get(tampered).status_code == 400, tampered
        if prefix in ("/u/", "/f/"):
            assert h.client.post(tampered).status_code == 400, tampered
    # the same reader's preferences token used as an unsubscribe token, and the reverse
    [pref] = links_in(digest_mail(h), "/p/")
    [unsub] = links_in(digest_mail(h), "/u/")[:1]
    assert h.client.post("/u/" + pref.split("/")[2]).status_code == 400
    assert h.client.get("/p/" + unsub.split("/")[2]).status_code == 400
    assert h.reader(READER).status == "active"  # type: ignore[union-attr]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def short_tokens_tampered_are_refused(h: Harness, path: str) -> None:
    """Every change to a short feedback token: the invalid-link page (400) on GET and
    POST, nothing recorded; one that names a delivery that does not exist: the
    no-longer-works page (410), as for a deleted reader."""
    token = path.split("/")[2]
    assert "." not in token and len(path) < 30, path
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    position, hint, delivery, tag = raw[0], raw[1], raw[2:-8], raw[-8:]

    def flip(data: bytes, at: int) -> bytes:
        return data[:at] + bytes((data[at] ^ 1,)) + data[at + 1 :]

    bad = [
        b64(raw[:-8] + flip(tag, 7)),  # the tag
        b64(raw[:-8] + flip(tag, 0)),
        b64(bytes((position ^ 1,)) + raw[1:]),  # another paper of the same digest
        b64(bytes((200,)) + raw[1:]),  # past the digest's papers
        b64(bytes((position, hint ^ 1)) + raw[2:]),  # the link-id hint
        b64(raw[:2] + b"\x00" + raw[2:]),  # the same delivery with a leading zero
        token[:-1],  # cut short
        token + "==",
        token[:5] + "!" + token[5:],
        f"{token}%3Cb%3E",
        "garbage",
        "A" * 15,
    ]
    last = token[-1]  # a last character with stray low bits decodes to the same bytes
    stray = {"A": "B", "Q": "R", "g": "h", "w": "x"}.get(last)
    if stray:
        bad.append(token[:-1] + stray)
    for forged in bad:
        for method in ("GET", "POST"):
            response = h.client.request(method, f"/f/{forged}/up")
            assert response.status_code == 400, (method, forged)
            assert "This link is not valid" in response.text
    # a delivery that does not exist (deleted with its reader, pruned, or made up): gone
    gone = b64(bytes((position, hint)) + int.to_bytes(10**6, 3, "big") + tag)
    for forged in (gone, token + "A"):  # one more byte: a longer delivery id
        for method in ("GET", "POST"):
            response = h.client.request(method, f"/f/{forged}/up")
            assert response.status_code == 410, (method, forged)
            assert "This link no longer works" in response.text
    assert h.client.get(f"/f/{b64(raw[:2] + delivery + tag)}/up").status_code == 200
    assert h.count("SELECT count(*) FROM feedback_events") == 0


def test_one_click_storm_is_committed_in_groups_and_each_post_answered(harness: Harness) -> None:
    """Many one-click POSTs at once (as after a big edition), mixed with repeats and a
    revoked link: every reader is unsubscribed, every POST answered for its own link."""
    h = harness
    readers = [h.add(f"storm{n}@example.org") for n in range(60)]
    paths = [h.rt.signer.unsubscribe_url(r.link_id).removeprefix(BASE) for r in readers]
    revoked = h.rt.signer.unsubscribe_url("no-such-link-id").removeprefix(BASE)

    async def storm() -> list[int]:
        transport = httpx.ASGITransport(app=h.client.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            requests = [*paths, *paths[:10], revoked]
            answers = await asyncio.gather(
                *(client.post(p, data={"List-Unsubscribe": "One-Click"}) for p in requests)
            )
        return [a.status_code for a in answers]

    codes = asyncio.run(storm())
    assert codes == [200] * 70 + [410]
    assert h.count("SELECT count(*) FROM subscribers WHERE status = 'unsubscribed'") == 60
