"""The text part: every line within 78 columns, but links, which stay whole and alone."""

from __future__ import annotations

import random
import re
import string

from mailcheck import (
    EDITION,
    WHEN,
    assert_text_lines,
    body,
    make_renderer,
    make_signer,
    parse,
    picks_for,
    render_digest,
    sample_papers,
)

from digest.domain import Paper, Pick, SubscriberInfo
from digest.render import EditionInfo
from digest.render.layout import columns, wrap

NAMES = ["Ada Lovelace", "Bartholomew-Maximilian", "山田 太郎", "محمد الخوارزمي", None, "Zoë"]
TOPICS = [
    "reasoning in large language models",
    "automatic speech recognition for low-resource languages and dialects",
    "3D",
    "大型语言模型的推理与数学定理证明以及强化学习",
    "שפה",
]
REASONS = [
    "matches your topic '{t}' (title)",
    "by Jürgen Schmidhuber-Hochreiter and Ada Lovelace-Byron, whom you follow",
    "close to 'A Very Long Title Of A Paper You Liked Earlier This Month', which you rated 👍",
    "x" * 140,
    "trending: 1234 upvotes",
]


def _hard_papers() -> dict[str, Paper]:
    """Papers that are hard to lay out: long words, wide characters, long links."""
    hard = [
        Paper(
            "2501.90001",
            "Supercalifragilistic" * 8,
            "A" * 400 + " and then words.",
            tuple(f"Author{'x' * 30} {i}" for i in range(5)),
            ("cs.CL", "cs.AI", "cs.LG", "stat.ML"),
            links={"abs": "https://example.org/" + "p" * 120},
            upvotes=1234,
            github_stars=98765,
        ),
        Paper(
            "2501.90002",
            "大型语言模型的推理能力研究：一种基于强化学习的新方法以及它在数学定理证明中的应用与评估",
            "大型语言模型。" * 40,
            ("山田 太郎", "محمد الخوارزمي", "דוד בן־גוריון", "Zoë Ångström"),
            ("cs.CL",),
        ),
        Paper(
            "2501.90003",
            "מודלים גדולים של שפה לומדים לחשוב באמצעות למידת חיזוק מבוססת תגמול ומשוב אנושי",
            "Short.",
            ("דוד",),
        ),
    ]
    return {p.id: p for p in hard}


def _link_id(rng: random.Random) -> str:
    """As long as a real one (``secrets.token_urlsafe(16)``)."""
    return "".join(rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(22))


def test_every_line_fits_over_many_digests() -> None:
    papers = {**sample_papers(), **_hard_papers()}
    pool = sorted(papers)
    renderer = make_renderer(
        site_name="The Extremely Long Name Of A Research Paper Digest Newsletter",
        contact_line="Sent by the Example Lab, " * 6,
        postal_address="1 Example Street, 12345 Example City, " * 4,
    )
    signer = make_signer()
    rng = random.Random(16)
    editions = [EDITION, EditionInfo("weekly:2025-W22", EDITION.day)]
    prepared = [renderer.edition(edition, papers) for edition in editions]
    for i in range(60):
        count = rng.choice([1, 2, 10, 25, len(pool)])
        chosen = rng.sample(pool, count)
        topics = rng.sample(TOPICS, rng.randint(1, 3))
        picks = []
        for k, pid in enumerate(chosen):
            topic = topics[k % len(topics)]
            why = rng.choice(REASONS).format(t=topic)
            picks.append(Pick(pid, 1 - k / 100, why, topic))
        link = _link_id(rng)
        reader = SubscriberInfo(i, f"reader.{'x' * (i % 40)}{i}@example.org", NAMES[i % 6])
        edition = prepared[i % 2]
        email = edition.render(
            reader,
            picks,
            signer.for_recipient(link, edition.edition.key),
            signer.feedback_links(link),
            message_id=f"<t.{i}@example.org>",
            when=WHEN,
            cold_start=i % 7 == 0,
        )
        text = body(parse(email.data), "plain")
        assert text == email.text
        assert_text_lines(text)


def test_transactional_text_parts_fit_too() -> None:
    renderer = make_renderer(site_name="The Extremely Long Name Of A Research Paper Digest Mail")
    signer = make_signer()
    link = "AbCdEfGhIjKlMnOpQrStUv"
    links = signer.for_recipient(link, "welcome")
    reader = SubscriberInfo(1, "a.rather.long.address.of.a.reader@example.org", "Bartholomew")
    emails = [
        renderer.welcome(
            reader,
            links,
            first_delivery="tomorrow at 07:00 (America/Argentina/ComodRivadavia)",
            topics=["graph neural networks for molecules and materials " * 3],
            message_id="<w@example.org>",
            when=WHEN,
        ),
        renderer.confirmation(
            to_name=reader.name,
            to_address=reader.email,
            confirm_url=signer.confirm_url(link),
            message_id="<c@example.org>",
            when=WHEN,
        ),
        *(
            renderer.manage(reader, links, reason=reason, message_id="<m@x.org>", when=WHEN)
            for reason in ("already_subscribed", "signed_out")
        ),
    ]
    for email in emails:
        assert_text_lines(email.text)


def test_wrap() -> None:
    text = "one two three four five six seven eight nine ten"
    assert wrap(text, 20) == "one two three four\nfive six seven eight\nnine ten"
    hanging = "one two three four\n  five six seven\n  eight nine ten"
    assert wrap(text, 20, "  ", first="") == hanging
    assert wrap("a b", 10, "    ", first="", used=8) == "a\n    b"
    url = "https://example.org/" + "x" * 100
    assert wrap(f"see {url} now", 30, "  ") == f"  see\n  {url}\n  now"
    assert wrap("x" * 25, 10) == "xxxxxxxxxx\nxxxxxxxxxx\nxxxxx"
    wide = wrap("中" * 30, 20, "  ")
    assert all(columns(line) <= 20 for line in wide.split("\n"))
    assert wide.replace("\n", "").replace(" ", "") == "中" * 30
    assert wrap("", 10) == "" and wrap("   ", 10, "  ") == "  "


def test_feedback_links_of_a_sent_digest_fit_78_columns() -> None:
    """With a ledger row (every digest sent), each 👍/👎 URL is short: with the base URL
    https://digest.example.org its line fits 78 columns, and the URL 60 characters, even
    for the largest delivery id the column holds."""
    papers = sample_papers()
    renderer = make_renderer()
    signer = make_signer()
    assert signer.base_url == "https://digest.example.org"
    prepared = renderer.edition(EDITION, papers)
    picks = [
        Pick(pid, 1 - k / 100, "matches your topic 'x' (title)", "x")
        for k, pid in enumerate(sorted(papers)[:15])
    ]
    link = _link_id(random.Random(78))
    for delivery in (1, 70_000, 2**31 - 1):
        email = prepared.render(
            SubscriberInfo(1, "ada@example.org", "Ada"),
            picks,
            signer.for_recipient(link, EDITION.key),
            signer.feedback_links(link, delivery_id=delivery, papers=[p.paper_id for p in picks]),
            message_id=f"<t.{delivery}@example.org>",
            when=WHEN,
        )
        text = body(parse(email.data), "plain")
        feedback = [line for line in text.splitlines() if "/f/" in line]
        assert len(feedback) == 2 * len(picks)
        for line in feedback:
            assert columns(line) <= 78, line
            url = line.strip()
            assert url.startswith("https://digest.example.org/f/") and " " not in url
            assert len(url) <= 60, url
        assert_text_lines(text)


def test_the_text_part_opens_with_an_index_of_numbered_titles() -> None:
    """Like the HTML's "In this issue": every paper's number and title, in the cards'
    order, one line each within 78 columns, before the first section."""
    papers = {**sample_papers(), **_hard_papers()}
    picks = picks_for(papers, count=len(papers))
    email = render_digest(SubscriberInfo(3, "ada@example.org", "Ada Lovelace"), papers, picks)
    text = body(parse(email.data), "plain")
    before, _, after = text.partition("\n\n\nIN THIS ISSUE\n")
    assert after and "Hi Ada" in before
    index, _, cards = after.partition("\n\n\n")
    lines = index.splitlines()
    shown = re.findall(r"^([ \d]\d)\. ", cards, re.M)  # the cards' own numbers
    assert len(lines) == len(shown) >= 10
    for n, line in enumerate(lines, 1):
        assert line.startswith(f"{n:2d}. ") and columns(line) <= 78, line
        card = re.search(rf"^{n:2d}\. (.+)$", cards, re.M)
        assert card, n
        title = line[4:].removesuffix("…")
        assert card.group(1).startswith(title[:20]), (line, card.group(0))
    assert any(line.endswith("…") for line in lines)  # long titles are cut, with an ellipsis
    assert_text_lines(text)
