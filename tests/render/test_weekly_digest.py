"""The weekly edition: "this week" in the subject, heading and intro, sections per
interest, and the reader's most upvoted paper of the week marked; the compiled fast path
gives what the whole templates give, and each reader's mark stays theirs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from mailcheck import (
    WHEN,
    body,
    make_renderer,
    make_signer,
    parse,
    picks_for,
    render_digest,
    sample_papers,
)

from digest.domain import Paper, Pick, SubscriberInfo
from digest.render import EditionInfo, digest_view
from digest.render.headline import SUBJECT_LIMIT
from digest.render.layout import columns
from digest.render.view import FULL_CARDS, NOT_TOPICS, WEEK_BADGE, WEEK_HEADING

WEEK = EditionInfo("weekly:2025-W22", date(2025, 5, 26))
DAY = EditionInfo("daily:2025-05-30", date(2025, 5, 30))
READER = SubscriberInfo(3, "r@example.org", "Ada Lovelace", frequency="weekly")
LONG = (
    "DeepTheorem: Advancing LLM Reasoning for Theorem Proving Through Natural Language "
    "and Reinforcement Learning"
)
HEBREW = "מודלים גדולים של שפה לומדים לחשוב באמצעות למידת חיזוק מבוססת תגמול ומשוב אנושי מפורט"


def _papers(upvotes: dict[int, int], count: int = 6, title: str = "") -> dict[str, Paper]:
    return {
        f"2505.{i:05d}": Paper(
            f"2505.{i:05d}",
            title or f"Paper {i}",
            "We propose a method. It works.",
            ("A. Author",),
            ("cs.CL",),
            upvotes=upvotes.get(i),
        )
        for i in range(count)
    }


def _picks(papers: dict[str, Paper], sections: tuple[str, ...] = ("LLMs", "speech")) -> list[Pick]:
    return [
        Pick(pid, 1 - n / 100, f"matches '{sections[n % len(sections)]}'", sections[n % 2])
        for n, pid in enumerate(papers)
    ]


def _view(papers, picks, edition=WEEK, **kw):  # type: ignore[no-untyped-def]
    signer = make_signer()
    return digest_view(
        READER,
        edition,
        picks,
        papers,
        signer.for_recipient(3, edition.key),
        signer.feedback_links(3),
        **kw,
    )


def _marked(view) -> list[str]:  # type: ignore[no-untyped-def]
    return [i.card.paper_id for s in view["sections"] for i in s.items if i.card.badge]


def test_the_most_upvoted_of_the_readers_papers_is_marked_once() -> None:
    papers = _papers({1: 4, 3: 40, 4: 40, 5: 9})
    view = _view(papers, _picks(papers))
    assert _marked(view) == ["2505.00003"]  # of two equals, the first in the ranking
    assert [s.title for s in view["sections"]] == ["LLMs", "speech"]  # per interest
    assert " ".join(view["intro"].split()) == (
        "Hi Ada, here are the 6 best new papers of your week, picked for your interests."
    )
    assert WEEK.heading == WEEK_HEADING == "This week's best papers"
    assert DAY.heading == DAY.label == "Friday, 30 May 2025"


def test_nothing_is_marked_without_upvotes_in_a_daily_or_one_paper_digest() -> None:
    none = _papers({})
    assert _marked(_view(none, _picks(none))) == []
    papers = _papers({2: 30})
    assert _marked(_view(papers, _picks(papers), edition=DAY)) == []
    assert _marked(_view(papers, _picks(papers)[2:3])) == []
    # a reader without interests gets the week's most upvoted anyway: said, not marked
    cold = _view(papers, _picks(papers), cold_start=True)
    assert _marked(cold) == []
    assert [s.title for s in cold["sections"]] == ["Trending on Hugging Face this week"]
    assert "Trending on Hugging Face this week" in NOT_TOPICS
    intro = " ".join(cold["intro"].split())
    assert intro.endswith("the 6 most upvoted new papers on Hugging Face this week.")


def test_a_brief_card_can_carry_the_mark_and_cards_stay_shared() -> None:
    papers = _papers({FULL_CARDS + 1: 50}, count=FULL_CARDS + 3)
    cards: dict = {}
    view = _view(papers, _picks(papers), cards=cards)
    [item] = [i for s in view["sections"] for i in s.items if i.card.badge]
    assert item.card.brief and item.card.badge == WEEK_BADGE
    plain = _view(papers, _picks(papers), edition=DAY, cards=cards)  # the same paper, unmarked
    same = [i for s in plain["sections"] for i in s.items if i.card.paper_id == item.card.paper_id]
    assert not same[0].card.badge and same[0].card.key != item.card.key


def test_the_weekly_email_says_this_week_and_shows_the_mark() -> None:
    papers = sample_papers()
    picks = picks_for(papers)
    top = picks[4].paper_id
    papers[top] = replace(papers[top], upvotes=77)
    email = render_digest(READER, papers, picks, edition=WEEK)
    message = parse(email.data)
    html, text = body(message, "html"), body(message, "plain")
    assert email.subject.startswith("“") and " + 9 more this week" in email.subject
    assert len(email.subject) <= SUBJECT_LIMIT
    assert html.count(WEEK_HEADING.replace("'", "&#39;")) == 1
    assert html.count(WEEK_BADGE) == 1 and "Week of" not in text.splitlines()[0]
    assert text.splitlines()[0] == f"Paper Digest · {WEEK_HEADING}"
    assert text.count(f"[{WEEK_BADGE}]") == 1
    card = text.split(papers[top].title[:30])[-1].split("Why:")[0]  # [1]: the index
    assert WEEK_BADGE in card and "77 upvotes" in card  # on the card of that paper
    assert max(columns(line) for line in text.splitlines() if "://" not in line) <= 78
    reference = render_digest(READER, papers, picks, edition=WEEK, reference_build=True)
    assert (email.html, email.text) == (reference.html, reference.text)  # same bytes


@pytest.mark.parametrize("title", [LONG, HEBREW, "Short"])
def test_weekly_subjects_fit_and_say_this_week(title: str) -> None:
    for count, sections in (
        (1, ("LLMs",)),
        (5, ("LLMs",)),
        (5, ("LLMs", "speech")),
        (5, ("A", "B", "C")),
    ):
        papers = _papers({}, count=count, title=title)
        picks = [
            Pick(pid, 1 - n / 10, "why", sections[n % len(sections)])
            for n, pid in enumerate(papers)
        ]
        subject = render_digest(READER, papers, picks, edition=WEEK).subject
        assert len(subject) <= SUBJECT_LIMIT, subject
        assert "this week" in subject, subject
        if title == "Short" and count > 1:  # room for the topics
            named = {
                ("LLMs",): "on LLMs",
                ("LLMs", "speech"): "on LLMs and speech",
                ("A", "B", "C"): "on A and more",
            }[sections]
            assert subject == f"“Short” + 4 more this week {named}"
        daily = render_digest(READER, papers, picks, edition=DAY).subject
        assert "this week" not in daily


def test_each_reader_keeps_their_own_mark_in_one_edition() -> None:
    """Two readers share paper X; X is the first reader's most upvoted, not the second's:
    the compiled blocks (cached per card) must not carry the mark across."""
    papers = _papers({0: 10, 1: 90}, count=4)
    ids = sorted(papers)
    prepared = make_renderer().edition(WEEK, papers)
    signer = make_signer()

    def render(reader: SubscriberInfo, chosen: list[str]) -> str:
        picks = [Pick(pid, 1 - n / 10, "why", "LLMs") for n, pid in enumerate(chosen)]
        email = prepared.render(
            reader,
            picks,
            signer.for_recipient(reader.id, WEEK.key),
            signer.feedback_links(reader.id),
            message_id=f"<{reader.id}@x>",
            when=WHEN,
        )
        return body(parse(email.data), "plain")

    first = render(READER, [ids[0], ids[2], ids[3]])  # X = ids[0] is their most upvoted
    second = render(SubscriberInfo(4, "s@example.org", "Bo"), [ids[0], ids[1], ids[2]])
    again = render(READER, [ids[0], ids[2], ids[3]])
    assert first == again
    assert first.count(WEEK_BADGE) == 1
    assert first.split(f"[{WEEK_BADGE}]")[0].rsplit("Paper ", 1)[1].startswith("0")
    assert second.count(WEEK_BADGE) == 1
    assert second.split(f"[{WEEK_BADGE}]")[0].rsplit("Paper ", 1)[1].startswith("1")
