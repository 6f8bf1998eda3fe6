"""The "Also trending" section: a personalised reader's digest with fewer matches than
DIGEST_TOP_K gets a few of the day's most trending papers in a separate, last section that
says it is not picked for them; a reader with no match gets an email of only that section,
whose subject and intro do not claim their topics. Both parts, fast path = whole templates."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from mailcheck import (
    assert_text_lines,
    body,
    parse,
    render_digest,
    sample_papers,
)

from digest.domain import Paper, Pick, SubscriberInfo
from digest.render import EditionInfo
from digest.render.headline import SUBJECT_LIMIT
from digest.render.view import ALSO_TRENDING_SECTION, ALSO_TRENDING_WEEK_SECTION

READER = SubscriberInfo(3, "r@example.org", "Ada Lovelace")
WEEK = EditionInfo("weekly:2025-W22", date(2025, 5, 26))
NOTE = "Not picked for your interests"


def _setup() -> tuple[dict[str, Paper], list[Pick], list[Pick]]:
    papers = sample_papers()
    ids = sorted(papers)
    mine = [
        Pick(ids[0], 0.9, "'privacy' in the title", "privacy of AI systems"),
        Pick(ids[1], 0.8, "'privacy' in the abstract", "privacy of AI systems"),
    ]
    hot = []
    for n, pid in enumerate(ids[10:13]):
        papers[pid] = replace(papers[pid], upvotes=90 - n * 10)
        why = f"trending: {90 - n * 10} upvotes"
        hot.append(Pick(pid, 1.0, why, "Also trending", shown=False, match=0.0, trending=True))
    return papers, mine, hot


def _parts(email) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    message = parse(email.data)
    return body(message, "html"), body(message, "plain")


def test_two_matches_then_a_separate_trending_section_in_both_parts() -> None:
    papers, mine, hot = _setup()
    email = render_digest(READER, papers, [*hot[:1], *mine, *hot[1:]])  # fill goes last
    html, text = _parts(email)
    assert_text_lines(text)
    heading = ALSO_TRENDING_SECTION.upper()
    assert text.count(heading) == 1 and text.count(NOTE) == 1
    before, also_part = text.split(heading)
    index, mine_part = before.split(mine[0].section.upper())  # the index lists every title
    assert all(papers[p.paper_id].title[:30] in index for p in [*mine, *hot])
    for pick in mine:
        assert papers[pick.paper_id].title[:30] in mine_part
    for pick in hot:
        assert papers[pick.paper_id].title[:30] in also_part
        assert papers[pick.paper_id].title[:30] not in mine_part
    assert "Trending: 90 upvotes" in also_part
    flat = " ".join(text.split())
    assert "here are 2 new papers picked for your interests, plus 3 trending today." in flat
    assert html.count(ALSO_TRENDING_SECTION) == 1 and html.count(NOTE) == 1
    assert html.index(">privacy of AI systems</h2>") < html.index(f">{ALSO_TRENDING_SECTION}</h2>")
    # the subject claims the topic for the reader's own papers only
    assert email.subject.endswith(" + 1 more, + 3 trending")  # no room for the topic here
    assert "4 more" not in email.subject
    assert len(email.subject) <= SUBJECT_LIMIT
    reference = render_digest(READER, papers, [*mine, *hot], reference_build=True)
    assert (email.html, email.text) == (reference.html, reference.text)


def test_nothing_matched_gives_only_the_trending_section_and_an_honest_subject() -> None:
    papers, _, hot = _setup()
    email = render_digest(READER, papers, hot)
    html, text = _parts(email)
    assert_text_lines(text)
    flat = " ".join(text.split())
    assert (
        "Hi Ada, no new paper matched your interests today, so here are the 3 most popular "
        "new papers instead." in flat
    )
    assert "picked for your interests." not in flat.split(NOTE)[0]
    assert "on privacy" not in email.subject and " more picked for you" not in email.subject
    assert email.subject.endswith("” + 2 more trending today")
    assert len(email.subject) <= SUBJECT_LIMIT
    assert text.count(ALSO_TRENDING_SECTION.upper()) == 1 and NOTE in html
    reference = render_digest(READER, papers, hot, reference_build=True)
    assert (email.html, email.text) == (reference.html, reference.text)


def test_weekly_says_this_week_and_does_not_mark_a_trending_paper() -> None:
    papers, mine, hot = _setup()
    weekly = replace(READER, frequency="weekly")
    email = render_digest(weekly, papers, [*mine, *hot], edition=WEEK)
    html, text = _parts(email)
    assert ALSO_TRENDING_WEEK_SECTION.upper() in text and ALSO_TRENDING_WEEK_SECTION in html
    assert "the most popular new papers this week" in " ".join(text.split())
    assert "Most upvoted this week" not in text  # the badge marks the reader's own papers
    assert email.subject.endswith(" + 1 more this week, + 3 trending")
    assert len(email.subject) <= SUBJECT_LIMIT
    short = replace(papers[mine[0].paper_id], title="Private training")
    papers = {**papers, short.id: short}
    own = [replace(pick, section="privacy") for pick in mine]
    email = render_digest(weekly, papers, [*own, *hot], edition=WEEK)
    assert email.subject == "“Private training” + 1 more this week on privacy, + 3 trending"
