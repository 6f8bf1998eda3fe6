"""The size guard: whatever DIGEST_TOP_K, the HTML part stays under 90 KB (Gmail clips past
102 KB and hides the footer with the unsubscribe link); the web page shows every paper."""

from __future__ import annotations

from datetime import date

import pytest
from mailcheck import EDITION, WHEN, body, make_renderer, make_signer, parse, sample_papers

from digest.domain import Paper, Pick, SubscriberInfo
from digest.render import EditionInfo
from digest.render.view import FULL_CARDS, MAX_CARDS

LIMIT = 90 * 1024
TOP_K_MAX = 100  # what settings accept for DIGEST_TOP_K


def _worst_papers(n: int) -> dict[str, Paper]:
    """Papers as big as a card can get: every field long, every badge and link present."""
    papers = {}
    for i in range(n):
        pid = f"2501.{i:05d}"
        papers[pid] = Paper(
            pid,
            ("Ünïcödé & <escaped> words of a very long title " * 12)[:400],
            "An abstract sentence with <angle> & ampersands that goes on. " * 20,
            tuple("Maximilian-Alexander " * 4 + str(k) for k in range(8)),
            ("cs.CL", "cs.AI", "cs.LG", "stat.ML", "eess.AS"),
            links={
                "abs": f"https://arxiv.org/abs/{pid}?{'x' * 150}",
                "pdf": f"https://arxiv.org/pdf/{pid}?{'y' * 150}",
                "hf": f"https://huggingface.co/papers/{pid}?{'h' * 100}",
                "github": f"https://github.com/{'o' * 39}/{'r' * 100}",
                "project": f"https://{'p' * 60}.github.io/{'q' * 100}",
            },
            upvotes=12345,
            github_stars=123456,
        )
    return papers


WEEK = EditionInfo("weekly:2025-W22", date(2025, 5, 26))  # "this week", and a badge


def _render(
    papers: dict[str, Paper], count: int, *, whole: bool = False, edition=EDITION, trending: int = 0
):  # type: ignore[no-untyped-def]
    renderer = make_renderer(
        site_name="N" * 60,
        contact_line="Sent by the Example Lab, " * 8,
        postal_address="1 Example Street, 12345 Example City, " * 5,
    )
    topics = [f"a long interest of the reader number {k} " * 3 for k in range(5)]
    picks = [
        Pick(pid, 1 - k / 1000, "matches your topic '" + "a<&>b" * 24 + "' (title)", topics[k % 5])
        for k, pid in enumerate(list(papers)[:count])
    ]
    for k in range(count - trending, count):  # the "Also trending" fill: its own section
        picks[k] = Pick(picks[k].paper_id, 0.1, "trending: 12345 upvotes", trending=True)
    link = "AbCdEfGhIjKlMnOpQrStUv"  # as long as a real one
    signer = make_signer()
    return renderer.edition(edition, papers).render(
        SubscriberInfo(1, "a." + "x" * 60 + "@example.org", "Ü" * 100),
        picks,
        signer.for_recipient(link, edition.key),
        signer.feedback_links(link),
        message_id="<size@example.org>",
        when=WHEN,
        whole=whole,
    )


@pytest.mark.parametrize("edition", [EDITION, WEEK], ids=["daily", "weekly"])
@pytest.mark.parametrize("count", [1, FULL_CARDS, MAX_CARDS, MAX_CARDS + 1, TOP_K_MAX])
def test_html_under_90_kb_at_any_top_k_even_at_the_worst(count: int, edition) -> None:  # type: ignore[no-untyped-def]
    email = _render(_worst_papers(TOP_K_MAX), count, edition=edition)
    assert email.html.count("Most upvoted this week") == (edition is WEEK and count > 1)
    size = len(email.html.encode())
    assert size < LIMIT, f"{count} papers: {size / 1024:.1f} KB"
    text = body(parse(email.data), "plain")
    assert "Unsubscribe:" in text and "Unsubscribe</a>" in email.html  # the footer is there
    shown = min(count, MAX_CARDS)
    assert email.html.count('class="card-title"') == shown
    if count > MAX_CARDS:
        more = count - MAX_CARDS
        papers_word = "paper" if more == 1 else "papers"
        assert f"And {more} more {papers_word} on the web</a>" in email.html
        assert f"And {more} more {papers_word} on the web" in text
        assert f"“ + {count - 1} more" not in email.subject and f"+ {count - 1} more" in (
            email.subject
        )
    else:
        assert "more papers on the web" not in email.html


def test_cards_past_the_first_ten_are_brief_and_the_web_page_shows_all() -> None:
    papers = sample_papers()
    email = _render(papers, len(papers))
    whole = _render(papers, len(papers), whole=True)
    assert whole.html.count('class="card-title"') == len(papers)
    assert "on the web" not in whole.html and "on the web" not in whole.text
    assert len(whole.html.encode()) > LIMIT  # what the guard keeps out of the email
    assert email.subject == whole.subject  # the subject counts every paper
    numbered = [line for line in email.text.splitlines() if line[:4].strip()[:-1].isdigit()]
    assert len(numbered) == 2 * MAX_CARDS  # each in the index, then its card
    signer = make_signer()
    view = (
        make_renderer()
        .edition(EDITION, papers)
        .view(
            SubscriberInfo(1, "a@example.org", None),
            [Pick(pid, 1, "x", "s") for pid in papers],
            signer.for_recipient(1, EDITION.key),
            signer.feedback_links(1),
        )
    )
    items = [item for section in view["sections"] for item in section.items]
    assert [bool(item.card.tldr) for item in items] == [True] * FULL_CARDS + [False] * (
        MAX_CARDS - FULL_CARDS
    )
    assert view["more_count"] == len(papers) - MAX_CARDS
    full = _render(papers, FULL_CARDS)  # a full card shows its TL;DR in both parts
    first = next(iter(papers.values()))
    assert first.abstract.split(".")[0][:40] in " ".join(full.text.split())


def test_the_guard_can_fail_without_its_limits() -> None:
    """Without the guard, the worst case passes the limit: the test above means something."""
    email = _render(_worst_papers(TOP_K_MAX), 35, whole=True)
    assert len(email.html.encode()) > LIMIT


@pytest.mark.parametrize("edition", [EDITION, WEEK], ids=["daily", "weekly"])
@pytest.mark.parametrize("count", [4, MAX_CARDS, TOP_K_MAX])
def test_html_under_90_kb_with_an_also_trending_section(count: int, edition) -> None:  # type: ignore[no-untyped-def]
    email = _render(_worst_papers(TOP_K_MAX), count, edition=edition, trending=3)
    size = len(email.html.encode())
    assert size < LIMIT, f"{count} papers, 3 trending: {size / 1024:.1f} KB"
    assert email.html.count('class="card-title"') == min(count, MAX_CARDS)
    assert ("Not picked for your interests" in email.html) == (count <= MAX_CARDS)
