"""A reader's whole journey through the subscription site, in a real headless Chromium.

Everything is real: a `digest web` server process, `digest run` processes that send the
digests, the other `digest` commands run in-process, an aiosmtpd server that receives
every email, a SQLite database, Chromium driven by Selenium. The test proves that a
reader can

1. see the day's papers on the home page and subscribe from its box (the browser's time
   zone, Pacific/Kiritimati, is prefilled by site.js);
2. confirm from the emailed link, and that the GET of that link confirms nothing (only
   the button does), after which the welcome email arrives;
3. change topics, a category (found with the filter box) and the hour on the preferences
   page from the welcome email, and the CLI sees the change;
4. receive a digest from `digest run`, press 👍 under a paper (headless Selenium has
   navigator.webdriver=true, so the page's auto-submit stays off and the button is
   pressed); a browser without that flag records a 👎 on page load without a click, and
   that vote is undone from the page;
5. get a next digest (new papers, a new local day after a time-zone change made on the
   preferences page) that shows the 👍: picks "close to '...', which you rated 👍";
6. unsubscribe from the digest's footer (the GET only shows the button), after which a
   run sends nothing although a digest is due and has papers; and that the RFC 8058
   one-click POST of another reader's List-Unsubscribe header works without cookies.

Every page is screenshotted at 375 and 1280 px (full height) into test-artifacts/web/,
and no page scrolls sideways. The server's log is checked for tracebacks and 500s.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from digest.demo import sample_papers_path
from tests.conftest import SmtpSink, free_port, missing_service
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
FIXTURES = ROOT / "tests" / "fixtures" / "web"
DIGEST = Path(sys.executable).with_name("digest")
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
WIDTHS = (375, 1280)

READER = "ada@example.org"
OTHER = "grace@example.org"  # only for the one-click POST
TOPIC = "medical image segmentation"
LIKED = "2505.22762"  # MIAS-SAM, in the sample; more_papers.jsonl has papers close to it
# A daily reader gets one edition per local day: these two zones are 25 hours apart, so
# their local dates always differ, and moving the reader from one to the other makes a
# new edition due at once.
FIRST_ZONE, SECOND_ZONE = "Pacific/Kiritimati", "Pacific/Pago_Pago"
MAIL_TIMEOUT = 10.0


# -- the site, the CLI, the mail ------------------------------------------------------------
@dataclass
class Site:
    url: str
    env: dict[str, str]
    db_path: Path
    log: Path
    capsys: pytest.CaptureFixture[str]

    def cli(self, *args: str) -> str:
        """`digest ARGS...` in this process (same environment as the server); its stdout.
        The CLI imports the whole ranking stack at start, seconds per subprocess, so the
        quick commands run here; `digest run` and `digest web` run as processes."""
        result = run_cli(self.capsys, *args)
        assert result.code == 0, f"digest {' '.join(args)}: exit {result.code}\n{result.err}"
        return result.out

    def reader(self, email: str = READER) -> dict[str, Any]:
        return json.loads(self.cli("subscribers", "show", email, "--json"))

    def run_digest(self, email: str = READER) -> dict[str, Any]:
        """`digest run --email EMAIL --json` as its own process."""
        done = subprocess.run(
            [str(DIGEST), "run", "--email", email, "--json"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"digest run: exit {done.returncode}\n{done.stderr}"
        return json.loads(done.stdout)

    def votes(self) -> list[tuple[str, str]]:
        """(paper id, kind) of every stored 👍/👎, oldest first."""
        with sqlite3.connect(self.db_path) as conn:
            rows = conn.execute("SELECT paper_id, kind FROM feedback_events ORDER BY id")
            return [(str(p), str(k)) for p, k in rows]


@pytest.fixture
def site(
    digest_env: dict[str, str],
    smtp_server: SmtpSink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Site]:
    """`digest web` on a free port, over a database holding the sample papers."""
    port = free_port()
    db_path = tmp_path / "digest.db"
    settings = {
        **digest_env,
        "DIGEST_DATABASE_URL": f"sqlite:///{db_path}",
        "DIGEST_SMTP_URL": smtp_server.url,
        "DIGEST_BASE_URL": f"http://127.0.0.1:{port}",
        "DIGEST_ALLOW_HTTP_LINKS": "1",
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)  # for the CLI run in this process
    env = dict(os.environ)
    log = tmp_path / "web.log"
    running = Site(f"http://127.0.0.1:{port}", env, db_path, log, capsys)
    running.cli("ingest", "jsonl", str(sample_papers_path()))
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(DIGEST), "web", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(running.url, server, log)
            yield running
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            print(f"--- digest web log ({log}), last lines:")
            print("\n".join(log.read_text(errors="replace").splitlines()[-40:]))


def wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"digest web exited with {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"digest web did not answer /healthz within 30 s:\n{log.read_text()}")


def mails_to(smtp: SmtpSink, to: str) -> list[EmailMessage]:
    return [m for m in smtp.messages() if to in str(m["To"])]


def wait_for_mail(smtp: SmtpSink, to: str, count: int) -> EmailMessage:
    """The ``count``-th email to ``to``, once it has arrived."""
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        found = mails_to(smtp, to)
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.1)
    subjects = [str(m["Subject"]) for m in mails_to(smtp, to)]
    pytest.fail(f"email #{count} to {to} did not arrive in {MAIL_TIMEOUT} s; got {subjects}")


def text_of(msg: EmailMessage) -> str:
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return text.replace("\r\n", "\n")


def link_in(msg: EmailMessage, path_prefix: str) -> str:
    """The first link in the text part whose path starts with ``path_prefix``."""
    for url in re.findall(r"https?://\S+", text_of(msg)):
        if urlsplit(url).path.startswith(path_prefix):
            return url
    pytest.fail(f"no {path_prefix} link in {msg['Subject']!r}:\n{text_of(msg)}")


def votes_in(msg: EmailMessage) -> dict[str, tuple[str, str]]:
    """A digest's papers: arXiv id -> (👍 link, 👎 link), in the order of the email."""
    items = re.findall(
        r"Abstract: https://arxiv\.org/abs/(\S+)\n(?:.*\n)*?"
        r" +More like this:\n +(\S+)\n +Less like this:\n +(\S+)",
        text_of(msg),
    )
    return {paper: (up, down) for paper, up, down in items}


def paper_ids(path: Path) -> set[str]:
    return {json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()}


# -- the browser ------------------------------------------------------------------------
def chrome(tmp_path: Path, name: str, *extra: str) -> WebDriver:
    """A headless Chromium from the system packages (given both paths, Selenium Manager
    never runs)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (*CHROME_ARGS, *extra, f"--user-data-dir={tmp_path / f'chrome-{name}'}"):
        options.add_argument(arg)
    service = Service(str(CHROMEDRIVER), log_output=str(tmp_path / f"chromedriver-{name}.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_window_size(1280, 900)
    return driver


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            missing_service(
                f"{path} not installed (Debian packages chromium, chromium-driver: "
                "run scripts/install-system-deps)"
            )
    driver = chrome(tmp_path, "main")
    try:
        yield driver
    finally:
        driver.quit()


def wait_text(driver: WebDriver, selector: str, expected: str, timeout: float = 10) -> None:
    """Wait until the element at ``selector`` reads ``expected`` (after a click, the old
    page may still be showing)."""

    def text(d: WebDriver) -> str:
        return d.find_element(By.CSS_SELECTOR, selector).text.strip()

    try:
        WebDriverWait(
            driver,
            timeout,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        ).until(lambda d: text(d) == expected)
    except TimeoutException:
        page = driver.find_element(By.TAG_NAME, "body").text[:1500]
        pytest.fail(f"no {selector} {expected!r} at {driver.current_url}; the page says:\n{page}")


def heading(driver: WebDriver, expected: str) -> None:
    wait_text(driver, "h1", expected)


def button(driver: WebDriver, label: str) -> WebElement:
    return driver.find_element(
        By.XPATH, f"//button[normalize-space()={json.dumps(label, ensure_ascii=False)}]"
    )


def css(driver: WebDriver, selector: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, selector)


def shoot(driver: WebDriver, name: str) -> None:
    """Full-height screenshots at each width into test-artifacts/web/NAME-WIDTHpx.png;
    fails when the page is wider than the window (a sideways scroll)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    wide: list[str] = []
    for width in WIDTHS:
        driver.set_window_size(width, 900)
        chrome_height = driver.execute_script("return outerHeight - innerHeight")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, height + chrome_height)
        (ARTIFACTS / f"{name}-{width}px.png").write_bytes(driver.get_screenshot_as_png())
        inner, scroll = driver.execute_script(
            "return [innerWidth, document.documentElement.scrollWidth]"
        )
        if scroll > inner:
            wide.append(f"{width} px: content is {scroll} px wide")
    driver.set_window_size(1280, 900)
    assert not wide, f"{name} scrolls sideways: {wide}"


# -- the journey ------------------------------------------------------------------------
def test_subscribe_confirm_tune_vote_and_leave_in_a_browser(
    browser: WebDriver, site: Site, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    driver = browser

    def mail(count: int) -> EmailMessage:
        return wait_for_mail(smtp_server, READER, count)

    # 1. The home page lists the sample papers under a subscribe box. The browser lives in
    # Kiritimati: site.js puts that zone in the form.
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": FIRST_ZONE})
    driver.get(site.url + "/")
    heading(driver, "Get trending papers in your email inbox")
    assert len(driver.find_elements(By.CSS_SELECTOR, "li.paper")) == 30  # a page of 51
    assert css(driver, ".count").text == "51 papers · page 1 of 2"
    assert css(driver, "#timezone").get_attribute("value") == FIRST_ZONE
    shoot(driver, "home")
    css(driver, "#email").send_keys(READER)
    css(driver, "#topics").send_keys(TOPIC)
    button(driver, "Subscribe").click()
    heading(driver, "Check your inbox")
    assert urlsplit(driver.current_url).path == "/subscribe/sent"
    shoot(driver, "subscribe-sent")

    # 2. The confirmation email's link shows a button; only the button confirms.
    confirmation = mail(1)
    confirm_url = link_in(confirmation, "/c/")
    driver.get(confirm_url)
    heading(driver, "Confirm your subscription")
    assert READER in css(driver, "main").text
    shoot(driver, "confirm")
    pending = site.reader()
    assert pending["status"] == "pending", "the GET of the confirm link confirmed"
    assert (pending["timezone"], pending["topics"]) == (FIRST_ZONE, [TOPIC])
    assert len(mails_to(smtp_server, READER)) == 1
    button(driver, "Yes, confirm my subscription").click()
    heading(driver, "You are subscribed")
    shoot(driver, "confirmed")
    assert site.reader()["status"] == "active"
    welcome = mail(2)
    assert "Welcome" in text_of(welcome)

    # 3. Preferences from the welcome email: a second topic, a category found with the
    # filter box, another hour.
    driver.get(link_in(welcome, "/p/"))
    heading(driver, "Your preferences")
    shoot(driver, "preferences")
    topics = css(driver, "#topics")
    assert topics.get_attribute("value") == TOPIC
    topics.clear()
    topics.send_keys(f"{TOPIC}\nradiology report generation")
    css(driver, "#category-filter").send_keys("eess.IV")
    category = css(driver, 'input[name="categories"][value="eess.IV"]')
    assert category.is_displayed(), "the filter did not open the category's group"
    category.click()
    Select(css(driver, "#delivery_hour")).select_by_value("9")
    button(driver, "Save my preferences").click()
    wait_text(driver, ".notice", "Saved.")
    shoot(driver, "preferences-saved")
    tuned = site.reader()
    assert tuned["topics"] == [TOPIC, "radiology report generation"]
    assert (tuned["categories"], tuned["delivery_hour"]) == (["eess.IV"], 9)
    assert (tuned["status"], tuned["timezone"]) == ("active", FIRST_ZONE)

    # 4. A digest, and 👍 on one of its papers: the page asks, the button records.
    first_run = site.run_digest()
    assert first_run["summary"]["sent now"] == 1, first_run
    first = mail(3)
    assert "List-Unsubscribe" in first
    votes = votes_in(first)
    assert LIKED in votes, f"{LIKED} is not in the first digest:\n{text_of(first)}"
    driver.get(votes[LIKED][0])
    heading(driver, "More papers like this?")
    assert driver.execute_script("return navigator.webdriver") is True  # no auto-submit
    shoot(driver, "feedback-ask")
    assert site.votes() == [], "the GET of a 👍 link recorded a vote"
    button(driver, "👍 Yes, more like this").click()
    heading(driver, "Thanks: more like this")
    assert "MIAS-SAM" in css(driver, "main").text
    shoot(driver, "feedback-recorded")
    assert site.votes() == [(LIKED, "up")]

    # A browser that does not announce automation: the 👎 page records on load, no click.
    # Undone at once, so it does not steer the next digest.
    disliked = [p for p in votes if p != LIKED][-1]
    person = chrome(tmp_path, "person", "--disable-blink-features=AutomationControlled")
    try:
        person.get(votes[disliked][1])
        heading(person, "Thanks: less like this")
        assert person.execute_script("return navigator.webdriver") is False
        assert site.votes() == [(LIKED, "up"), (disliked, "down")]
        button(person, "Undo").click()
        heading(person, "Undone")
        assert site.votes() == [(LIKED, "up")]
    finally:
        person.quit()

    # 5. New papers, a new local day (the time zone changed on the preferences page), and
    # the next digest leans toward the 👍 paper.
    site.cli("ingest", "jsonl", str(FIXTURES / "more_papers.jsonl"))
    driver.get(link_in(first, "/p/"))
    heading(driver, "Your preferences")
    zone = css(driver, "#timezone")
    assert zone.get_attribute("value") == FIRST_ZONE
    zone.clear()
    zone.send_keys(SECOND_ZONE)
    button(driver, "Save my preferences").click()
    wait_text(driver, ".notice", "Saved.")
    assert site.reader()["timezone"] == SECOND_ZONE
    second_run = site.run_digest()
    assert second_run["summary"]["sent now"] == 1, second_run
    assert second_run["outcomes"][0]["edition"] != first_run["outcomes"][0]["edition"]
    second = mail(4)
    second_text = text_of(second)
    assert set(votes_in(second)) <= paper_ids(FIXTURES / "more_papers.jsonl"), "old papers"
    assert "which you rated 👍" in second_text, second_text
    assert "Close to 'MIAS-SAM" in second_text

    # 6a. RFC 8058 one-click, as a mailbox provider sends it: no cookie, no redirect.
    site.cli("subscribers", "add", OTHER, "--topic", "anomaly detection")
    assert site.run_digest(OTHER)["summary"]["sent now"] == 1
    other = wait_for_mail(smtp_server, OTHER, 1)
    assert other["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = re.search(r"<(https?://[^>]+)>", str(other["List-Unsubscribe"]))
    assert one_click is not None, other["List-Unsubscribe"]
    answer = httpx.post(
        one_click.group(1), data={"List-Unsubscribe": "One-Click"}, follow_redirects=False
    )
    assert answer.status_code == 200, answer.status_code
    assert "location" not in answer.headers and "set-cookie" not in answer.headers
    assert "You are unsubscribed" in answer.text
    assert site.reader(OTHER)["status"] == "unsubscribed"

    # 6b. Unsubscribe from the digest's footer: the GET only asks, the button leaves.
    driver.get(link_in(second, "/u/"))
    heading(driver, "Unsubscribe from digest?")
    shoot(driver, "unsubscribe")
    assert site.reader()["status"] == "active", "the GET of the unsubscribe link unsubscribed"
    button(driver, "Unsubscribe").click()
    heading(driver, "You are unsubscribed")
    shoot(driver, "unsubscribed")
    assert site.reader()["status"] == "unsubscribed"

    # A new edition (weekly, a key never sent) with new papers to fill it: a digest would
    # go out (preview renders one), but the run sends nothing to the address.
    site.cli("subscribers", "update", READER, "--frequency", "weekly")
    site.cli("ingest", "jsonl", str(FIXTURES / "later_papers.jsonl"))
    preview = site.cli("preview", READER, "--out", str(tmp_path / "preview"))
    assert "subject:" in preview, preview
    sent_before = len(mails_to(smtp_server, READER))
    last_run = site.run_digest()
    assert last_run["summary"]["sent now"] == 0, last_run
    time.sleep(0.5)  # `digest run` sends before it returns; this is for anything stray
    assert len(mails_to(smtp_server, READER)) == sent_before == 4

    # The server met no error on the way.
    log = site.log.read_text(errors="replace")
    assert "Traceback" not in log, log
    assert not re.search(r'" 5\d\d\b', log), log
