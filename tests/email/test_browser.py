"""A real browser: headless Chromium lays the emails out at 375 and 600 px.

No horizontal overflow, readable contrast (WCAG AA, 4.5:1) in light and dark mode, and a
dark background when the reader prefers dark. Screenshots are kept in
``test-artifacts/email/`` (one PNG per email, width and colour scheme) to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import missing_service
from mailcheck import WHEN, make_renderer, make_signer, render_digest, sample_papers

from digest.domain import Paper, Pick, SubscriberInfo
from digest.render.browser import Chromium, find_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "email"
WIDTHS = (375, 600)


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    if find_chromium() is None:
        missing_service(
            "headless Chromium not installed (Debian packages chromium, chromium-driver: "
            "run scripts/install-system-deps)"
        )
    with Chromium() as chromium:
        yield chromium


def _emails() -> dict[str, str]:
    papers = sample_papers()
    hard = Paper(
        id="2505.00001",
        title="Supercalifragilisticexpialidocious" * 4 + " 中文标题很长很长 عنوان طويل جدا 🚀",
        abstract="https://example.org/" + "a" * 300 + " " + "长" * 200,
        authors=("Zoë Ångström-Øvergård-Lindqvist-Bernadotte", "山田 太郎", "محمد الخوارزمي"),
        categories=("cs.CL", "cs.LG", "stat.ML", "q-bio.NC"),
        upvotes=1234,
        github_stars=98765,
    )
    papers_hard = {**papers, hard.id: hard}
    first = [Pick(hard.id, 1.0, "matches your topic '" + "x" * 120 + "' (title)", "Ünïcödé " * 8)]
    renderer = make_renderer()
    signer = make_signer()
    sub = SubscriberInfo(1, "ada@example.org", "Ada Lovelace")
    return {
        "digest": render_digest(sub, papers).html,
        "digest-hard": render_digest(sub, papers_hard, first + render_digest_picks(papers)).html,
        "digest-cold-start": render_digest(sub, papers, cold_start=True).html,
        "confirmation": renderer.confirmation(
            to_name="Ada",
            to_address="ada@example.org",
            confirm_url=signer.confirm_url(1),
            expires="7 days, until Friday, 6 June at 09:00 (America/Argentina/ComodRivadavia)",
            message_id="<c@example.org>",
            when=WHEN,
        ).html,
        "welcome": renderer.welcome(
            sub,
            signer.for_recipient(1, "welcome"),
            first_delivery="tomorrow at 07:00",
            topics=["reasoning in large language models", "speech recognition"],
            message_id="<w@example.org>",
            when=WHEN,
        ).html,
        "welcome-no-topics": renderer.welcome(
            sub,
            signer.for_recipient(1, "welcome"),
            first_delivery="tomorrow at 07:00",
            cold_start=True,
            message_id="<w@example.org>",
            when=WHEN,
        ).html,
    }


def render_digest_picks(papers: dict[str, Paper]) -> list[Pick]:
    from mailcheck import picks_for

    return picks_for(papers, count=4)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("html")
    out = {}
    for name, html in _emails().items():
        path = folder / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        out[name] = path
    return out


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    "name",
    ["digest", "digest-hard", "digest-cold-start", "confirmation", "welcome", "welcome-no-topics"],
)
def test_layout_fits_and_reads(
    browser: Chromium, pages: dict[str, Path], name: str, width: int, dark: bool
) -> None:
    shot = browser.shoot(pages[name], width, dark=dark)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    artifact = ARTIFACTS / f"{name}-{width}px{'-dark' if dark else ''}.png"
    artifact.write_bytes(shot.png)
    print(f"{artifact.name}: {shot.inner_width}x{shot.height}, contrast {shot.contrast}")

    assert shot.inner_width == width
    assert shot.scroll_width <= shot.inner_width, f"overflows: {shot.overflowing}"
    assert not shot.overflowing
    assert shot.contrast >= 4.5, f"low contrast {shot.contrast}: {shot.low_contrast_text!r}"
    assert shot.png.startswith(b"\x89PNG") and shot.height > 300
    red, green, blue = (int(v) for v in shot.background[4:-1].split(",")[:3])
    if dark:
        assert red + green + blue < 3 * 60, shot.background
    else:
        assert red + green + blue > 3 * 200, shot.background
