"""The weekday select of the subscribe and preferences forms, in headless Chromium: shown
to weekly readers only, by the stylesheet alone (no script runs on the page)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.render.browser import Chromium, find_chromium
from digest.subscriber_spec import SubscriberSpec
from digest.web.forms import form_values
from digest.web.pages import Pages
from tests.conftest import missing_service

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

# Visible = laid out with a size; then the reader switches to weekly and back to daily.
TOGGLE = """(() => {
  const field = document.querySelector('.weekday-field');
  const shown = () => field.getBoundingClientRect().height > 0;
  const pick = v => document.querySelector(`input[name=frequency][value=${v}]`).click();
  const seen = [shown()];
  pick('weekly'); seen.push(shown());
  pick('daily'); seen.push(shown());
  return seen;
})()"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    if find_chromium() is None:
        missing_service("headless Chromium not installed (Debian package chromium)")
    with Chromium() as chromium:
        yield chromium


def page_file(tmp_path: Path, frequency: str) -> Path:
    """The subscribe page as the site renders it, its stylesheet read from the tree."""
    pages = Pages(TEMPLATES, brand="Paper Digest", base_url="https://digest.test")
    values = form_values(SubscriberSpec(email="", frequency=frequency, weekday=4))
    html = pages.render_text("subscribe.html.j2", values=values, errors={})
    css = (TEMPLATES / "web" / "static" / "site.css").as_uri()
    html = html.replace(pages.static_url("site.css"), css)
    html = html.replace(pages.static_url("site.js"), "about:blank")  # no script: CSS only
    path = tmp_path / f"subscribe-{frequency}.html"
    path.write_text(html, encoding="utf-8")
    return path


@pytest.mark.parametrize(("frequency", "first"), [("daily", False), ("weekly", True)])
def test_the_weekday_is_asked_of_weekly_readers_only(
    browser: Chromium, tmp_path: Path, frequency: str, first: bool
) -> None:
    shot = browser.shoot(page_file(tmp_path, frequency), 375, screenshot=False, script=TOGGLE)
    assert shot.measured == [first, True, False], json.dumps(shot.measured)
    assert not shot.overflows


def test_the_stored_weekday_is_selected(tmp_path: Path) -> None:
    html = page_file(tmp_path, "weekly").read_text(encoding="utf-8")
    assert '<option value="4" selected>Friday</option>' in html
