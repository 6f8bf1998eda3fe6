"""Every generated digest parsed back with ``email``: structure, headers, links, encodings."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

import pytest
from mailcheck import (
    EDITION,
    SENDER,
    WHEN,
    assert_structure,
    assert_text_lines,
    assert_wire_format,
    body,
    comparable,
    make_renderer,
    make_signer,
    nasty,
    parse,
    picks_for,
    render_digest,
    sample_papers,
)

from digest.domain import Pick, SubscriberInfo
from digest.render import Sender

NAMES = [
    "Ada Lovelace",
    "Zoë Ångström-Øvergård",
    "山田 太郎",
    "محمد الخوارزمي",
    "דוד בן־גוריון",
    "Emoji 🚀 Fan 👩🏽‍🔬",
    'Doe, "Jane" <jane@evil.example>',
    "",
]


@pytest.fixture(scope="module")
def papers():  # type: ignore[no-untyped-def]
    return sample_papers()


@pytest.mark.parametrize("name", NAMES)
def test_headers_structure_and_links(papers, name: str) -> None:  # type: ignore[no-untyped-def]
    sub = SubscriberInfo(42, "reader@example.org", name or None)
    email = render_digest(sub, papers)
    assert_wire_format(email.data)
    msg = parse(email.data)
    assert_structure(msg)

    (sender,) = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Paper Digest", "digest@example.org")
    (to,) = msg["To"].addresses
    assert to.addr_spec == "reader@example.org"
    assert to.display_name.split() == name.split()
    assert str(msg["Subject"]) == email.subject
    assert email.subject.startswith("“") and " + 9 more" in email.subject
    assert parsedate_to_datetime(str(msg["Date"])) == WHEN
    assert str(msg["Message-ID"]) == "<digest.42.daily.2025-05-30@example.org>"
    assert str(msg["List-Id"]) == "Paper Digest <digest.example.org>"
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert str(msg["Feedback-ID"]) == "daily-2025-05-30:digest:digest-example"
    assert str(msg["MIME-Version"]) == "1.0"

    links = make_signer().for_recipient(42, EDITION.key)
    assert str(msg["List-Unsubscribe"]) == (
        f"<{links.unsubscribe}>, "
        f"<mailto:unsubscribe@example.org?subject=unsubscribe%20{links.unsubscribe_token}>"
    )
    assert links.unsubscribe.startswith("https://digest.example.org/u/")
    text, html = body(msg, "plain"), body(msg, "html")
    for url in (links.unsubscribe, links.preferences, links.view_online):
        assert url in text
        assert url in html
    assert text == email.text and html == email.html


def test_no_mailto_when_not_configured(papers) -> None:  # type: ignore[no-untyped-def]
    sender = Sender("Paper Digest", "digest@example.org", "digest.example.org", "Paper Digest")
    email = render_digest(
        SubscriberInfo(1, "a@example.org", "A"), papers, renderer=make_renderer(sender)
    )
    value = str(parse(email.data)["List-Unsubscribe"])
    assert value.startswith("<https://digest.example.org/u/") and "mailto" not in value
    assert str(parse(email.data)["Feedback-ID"]).endswith(":digest:digest.example.org")


def test_same_result_as_the_email_package(papers) -> None:  # type: ignore[no-untyped-def]
    """The fast builder and the plain EmailMessage build parse back to the same message."""
    for i, name in enumerate(["Ada Lovelace", "Zoë Ångström", "Doe, Jane", None, "山田 太郎"]):
        sub = SubscriberInfo(i + 1, f"reader{i}@example.org", name)
        picks = picks_for(papers, seed=i)
        fast = parse(render_digest(sub, papers, picks).data)
        slow = parse(render_digest(sub, papers, picks, reference_build=True).data)
        assert comparable(fast) == comparable(slow)


def test_text_part_reads_on_its_own(papers) -> None:  # type: ignore[no-untyped-def]
    picks = picks_for(papers)
    email = render_digest(SubscriberInfo(7, "r@example.org", "Ada"), papers, picks)
    text = email.text
    assert "<" not in text.replace("<https", "")  # no markup
    for number, pick in enumerate(sorted(picks, key=lambda p: p.section != picks[0].section), 1):
        paper = papers[pick.paper_id]
        assert f"{number:2d}. " in text
        assert f"Abstract: {paper.abs_url}" in text
        assert f"PDF: {paper.pdf_url}" in text
        assert paper.title.split()[0] in text
    assert text.count("More like this:\n    https://digest.example.org/f/") == 10
    assert text.count("Less like this:\n    https://digest.example.org/f/") == 10
    assert_text_lines(text)


def test_html_part_is_accessible_and_responsive(papers) -> None:  # type: ignore[no-untyped-def]
    html = render_digest(SubscriberInfo(7, "r@example.org", "Ada"), papers).html
    assert '<html lang="en"' in html
    # one h2 for "In this issue", one per section; one h3 per paper
    assert html.count("<h1") == 1 and html.count("<h2") == 3 and html.count("<h3") == 10
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "prefers-color-scheme: dark" in html and 'name="color-scheme"' in html
    # No images at all: nothing to load from elsewhere, nothing a screen reader must
    # describe (an image added later needs its alt text and this line changed).
    assert "<img" not in html and "background-image" not in html
    assert "https://fonts.googleapis.com" not in html  # no remote loads


def test_index_links_every_card_in_order(papers) -> None:  # type: ignore[no-untyped-def]
    """The issue's index: the numbered titles, each an in-email link to its card's id."""
    import re

    html = render_digest(SubscriberInfo(7, "r@example.org", "Ada"), papers).html
    index = html[html.index("In this issue") : html.index("</ol>")]
    targets = re.findall(r'<li dir="auto"[^>]*><a href="#([^"]+)"', index)
    cards = re.findall(r'<h3 id="([^"]+)" class="card-title"', html)
    assert len(targets) == 10 and targets == cards
    labels = re.findall(r'<span class="meta"[^>]*>\s*(\d+)\.</span>', html)
    assert labels == [str(n) for n in range(1, 11)]  # the cards carry the numbers


def test_accents_cjk_rtl_and_emoji_in_content(papers) -> None:  # type: ignore[no-untyped-def]
    base = next(iter(papers.values()))
    paper = nasty(
        base,
        id="2505.99999",
        title="Ünïcödé 中文标题 عنوان עברית 🚀 title",
        abstract="Résumé: 大型语言模型。 نماذج اللغة الكبيرة. מודלים גדולים 👩🏽‍🔬.",
        authors=("Zoë Ångström", "山田 太郎", "محمد الخوارزمي", "דוד"),
    )
    papers = {**papers, paper.id: paper}
    pick = Pick(paper.id, 1.0, "because 🚀 نعم", "Ünïcödé section")
    email = render_digest(SubscriberInfo(3, "r@example.org", "Zoë 🚀"), papers, [pick])
    msg = parse(email.data)
    assert_wire_format(email.data)
    for part in (body(msg, "plain"), body(msg, "html")):
        assert "Ünïcödé 中文标题 عنوان עברית 🚀 title" in part
        assert "Zoë Ångström, 山田 太郎, محمد الخوارزمي et al." in part
        assert "נماذج" not in part  # no mojibake mixing
        assert "Because 🚀 نعم" in part
    assert 'dir="auto"' in email.html
    assert msg["To"].addresses[0].display_name == "Zoë 🚀"


def test_single_paper_and_cold_start_wording(papers) -> None:  # type: ignore[no-untyped-def]
    pid = next(iter(papers))
    one = render_digest(SubscriberInfo(1, "a@example.org", None), papers, [Pick(pid, 1, "x")])
    assert one.subject == f"“{papers[pid].title}”"
    assert "\nHere is 1 new paper picked for your interests." in one.text
    cold = render_digest(SubscriberInfo(1, "a@example.org", None), papers, cold_start=True)
    assert cold.subject.endswith("” + 9 more new papers")
    # The sample has no upvotes: the cold-start digest says it shows the newest papers,
    # with one button to choose interests.
    assert "so here are the 10 newest papers." in " ".join(cold.text.split())
    assert "NEWEST PAPERS" in cold.text and "Trending" not in cold.text
    assert cold.html.count(">Choose your interests<") == 1
    assert "Choose your interests" in cold.text


def test_weekly_label_and_lines_within_limits(papers) -> None:  # type: ignore[no-untyped-def]
    from digest.render import EditionInfo

    assert EditionInfo("weekly:2025-05-26", datetime(2025, 5, 26).date()).label == (
        "Week of Monday, 26 May 2025"
    )
    email = render_digest(SubscriberInfo(1, "a@example.org", "A" * 500), papers)
    assert_wire_format(email.data)
    for line in email.data.split(b"\r\n\r\n", 1)[1].split(b"\r\n"):
        assert len(line) <= 76  # quoted-printable bodies


def test_sender_values_are_validated() -> None:
    from digest.errors import InputError
    from digest.render.mime import MimeWriter

    with pytest.raises(InputError):
        MimeWriter(Sender("x", "not an address", "digest.example.org"))
    with pytest.raises(InputError):
        MimeWriter(Sender("x", "d@example.org", "digest.example.org\r\nX: y"))
    assert SENDER.unsubscribe_mailto == "unsubscribe@example.org"


@pytest.mark.parametrize(
    ("name", "greeting", "expected"),
    [
        ("Augusta Ada King", "Ada", "Hi Ada,"),  # the reader's own choice wins
        ("Dr. Grace Hopper", "Amazing Grace", "Hi Amazing Grace,"),
        ("Lovelace, Ada", None, "Hi Ada,"),  # none chosen: the derived first name
        (None, "山田さん", "Hi 山田さん,"),
        (None, None, None),  # neither: no greeting, a capital first
    ],
)
def test_the_digest_greets_by_the_greeting_name(
    name: str | None, greeting: str | None, expected: str | None
) -> None:
    reader = SubscriberInfo(7, "reader@example.org", name, greeting_name=greeting)
    email = render_digest(reader, sample_papers())
    msg = parse(email.data)
    text, html = body(msg, "plain"), body(msg, "html")
    if expected is None:
        assert "Hi " not in text and "Hi " not in html
        assert "Here are" in " ".join(text.split())
    else:
        assert expected in " ".join(text.split()) and expected in html
        if name:
            assert f"Hi {name}" not in text
