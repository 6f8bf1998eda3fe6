"""The digest's page in a real browser: the index and the first TL;DR above the fold on a
phone, headings that read as headings, 44 px tap targets, compact cards, and the same
hierarchy with the ``<style>`` block removed (as Gmail does for some accounts).

Screenshots (375 and 600 px; light, dark, and without ``<style>``) are kept in
``test-artifacts/email/`` as ``digest-page-*.png``.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from conftest import missing_service
from mailcheck import picks_for, render_digest, sample_papers

from digest.domain import Paper, SubscriberInfo
from digest.render import EditionInfo
from digest.render.browser import Chromium, find_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "email"
FOLD = 812  # px: an iPhone's viewport at 375 px wide

MEASURE_PAGE = """(() => {
  const q = s => [...document.querySelectorAll(s)];
  const size = el => parseFloat(getComputedStyle(el).fontSize);
  const box = el => el.getBoundingClientRect();
  const bottom = el => box(el).bottom + window.scrollY;
  const cards = q('h3.card-title').map(h => {
    const cell = h.closest('td'), tldr = cell.querySelector('p.tldr');
    const up = [...cell.querySelectorAll('a')].find(a => a.textContent.includes('More like'));
    const down = [...cell.querySelectorAll('a')].find(a => a.textContent.includes('Less like'));
    return {
      height: box(cell).height, title: box(h).height, tldr: tldr ? box(tldr).height : 0,
      tldrBottom: tldr ? bottom(tldr) : null,
      taps: [...cell.querySelectorAll('p.actions a')].map(a => box(a).height),
      gap: box(up).top === box(down).top ? box(down).left - box(up).right : 99,
      titleSize: size(h), metaSize: size(cell.querySelector('p.meta')),
      tldrSize: tldr ? size(tldr) : 0,
    };
  });
  return {
    cards,
    sectionSizes: q('h2.section').map(size),
    indexBottom: bottom(document.querySelector('ol.index')),
    indexEntries: q('ol.index li').length,
  };
})()"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    if find_chromium() is None:
        missing_service(
            "headless Chromium not installed (Debian packages chromium, chromium-driver: "
            "run scripts/install-system-deps)"
        )
    with Chromium() as chromium:
        yield chromium


def _papers() -> dict[str, Paper]:
    """The sample papers; a few carry what Hugging Face adds (AI summary, links, counts)."""
    papers = sample_papers()
    for n, pid in enumerate(sorted(papers)[:20:3]):
        papers[pid] = replace(
            papers[pid],
            links={
                **papers[pid].links,
                "hf": f"https://huggingface.co/papers/{pid}",
                "github": f"https://github.com/example/repo-{n}",
                "project": f"https://example-{n}.github.io/",
            },
            upvotes=40 + n,
            github_stars=1234 * (n + 1),
            ai_summary="A method that makes the example papers show every link a card has.",
        )
    return papers


def _strip_style(html: str) -> str:
    return re.sub(r"<style\b[^>]*>.*?</style>", "", html, flags=re.S | re.I)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    papers = _papers()
    html = render_digest(
        SubscriberInfo(1, "ada@example.org", "Ada Lovelace"), papers, picks_for(papers, 12)
    ).html
    folder = tmp_path_factory.mktemp("page")
    out = {}
    for name, text in (("styled", html), ("no-style", _strip_style(html))):
        assert name == "styled" or "<style" not in text
        out[name] = folder / f"{name}.html"
        out[name].write_text(text, encoding="utf-8")
    return out


@pytest.mark.parametrize(
    ("variant", "dark"), [("styled", False), ("styled", True), ("no-style", False)]
)
@pytest.mark.parametrize("width", [375, 600])
def test_digest_page(
    browser: Chromium, pages: dict[str, Path], width: int, variant: str, dark: bool
) -> None:
    shot = browser.shoot(pages[variant], width, dark=dark, script=MEASURE_PAGE)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    suffix = "-dark" if dark else ("-no-style" if variant == "no-style" else "")
    artifact = ARTIFACTS / f"digest-page-{width}px{suffix}.png"
    artifact.write_bytes(shot.png)
    page = shot.measured
    cards = page["cards"]
    print(f"{artifact.name}: {shot.height}px, index ends at {page['indexBottom']:.0f}px")

    assert not shot.overflowing and shot.scroll_width <= width
    assert shot.contrast >= 4.5, (shot.contrast, shot.low_contrast_text)
    assert page["indexEntries"] == len(cards) == 12
    # Done when: the index and the first paper's TL;DR above the fold of a phone (as sent;
    # without <style> the page keeps its order and hierarchy but is longer).
    if width == 375 and variant == "styled":
        assert page["indexBottom"] < cards[0]["tldrBottom"] <= FOLD, page["indexBottom"]
    # The hierarchy holds with or without <style>: section > title > TL;DR > metadata.
    for card in cards:
        assert (
            min(page["sectionSizes"]) > card["titleSize"] > card["tldrSize"]
            or not (card["tldrSize"])
        )
        assert card["titleSize"] > card["metaSize"]
        if card["tldrSize"]:
            assert card["tldrSize"] > card["metaSize"]
        # Tap targets at least 44 px tall, 👍 and 👎 apart.
        assert min(card["taps"]) >= 44, card["taps"]
        assert card["gap"] >= 16, card["gap"]
    # Beyond its title and TL;DR a paper takes no more than a paper's worth of space.
    overheads = [c["height"] - c["title"] - c["tldr"] for c in cards[:10]]
    papers = [c["title"] + c["tldr"] for c in cards[:10]]
    print("overhead per card (px):", [round(o) for o in overheads], "title+TL;DR:", papers)
    assert max(overheads) <= 230, overheads
    assert statistics.median(overheads) <= statistics.median(papers) + 40, (overheads, papers)


WEEKLY_MEASURE = """(() => {
  const badges = [...document.querySelectorAll('span.badge')];
  return badges.map(b => ({
    text: b.textContent, height: b.getBoundingClientRect().height,
    card: b.closest('td').querySelector('h3.card-title').textContent.trim(),
    heading: document.body.innerText.includes("This week's best papers"),
  }));
})()"""


@pytest.mark.parametrize(
    ("variant", "dark"), [("styled", False), ("styled", True), ("no-style", False)]
)
def test_weekly_digest_page(browser: Chromium, tmp_path: Path, variant: str, dark: bool) -> None:
    """The weekly edition at 375 px: "this week" under the site name, the reader's most
    upvoted paper marked once (with and without <style>, light and dark), nothing wider."""
    papers = _papers()
    picks = picks_for(papers, 12)
    for pick, upvotes in zip(picks[2:5], (20, 90, 35), strict=True):
        papers[pick.paper_id] = replace(papers[pick.paper_id], upvotes=upvotes)
    top = papers[picks[3].paper_id]
    week = EditionInfo("weekly:2025-W22", date(2025, 5, 26))
    html = render_digest(
        SubscriberInfo(1, "ada@example.org", "Ada Lovelace", frequency="weekly"),
        papers,
        picks,
        edition=week,
    ).html
    page = tmp_path / "weekly.html"
    page.write_text(_strip_style(html) if variant == "no-style" else html, encoding="utf-8")
    shot = browser.shoot(page, 375, dark=dark, script=WEEKLY_MEASURE)
    suffix = "-dark" if dark else ("-no-style" if variant == "no-style" else "")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"digest-weekly-375px{suffix}.png").write_bytes(shot.png)
    assert not shot.overflowing and shot.scroll_width <= 375
    assert shot.contrast >= 4.5, (shot.contrast, shot.low_contrast_text)
    [badge] = shot.measured
    assert badge["text"] == "Most upvoted this week" and badge["heading"]
    assert " ".join(top.title.split())[:40] in badge["card"]
    assert 0 < badge["height"] < 30  # one line
