"""Paper sources: configuration and fetching (the adapter around the pure parsers).

Every kind implements one small protocol, ``harvest(client, state, since, today)``: fetch
what is new since the stored cursor, parse it with a ``parse_*`` module, and return the
records with the cursor and HTTP validators to store once they are safely written. A
harvest never writes the database itself, so a failure never advances a cursor.

Kinds and their options (``url`` has a sensible default where the service has one):

- ``hf_daily``: Hugging Face Daily Papers, one request per featured day (``limit``,
  ``max_days``); the cursor is the last day fetched, re-fetched next time because upvotes
  keep moving.
- ``arxiv_api``: the arXiv API (``query`` such as ``cat:cs.LG``, ``page_size``,
  ``max_pages``), newest submissions first, paging until the cursor's day is reached;
  ``delay`` defaults to the 3 s arXiv asks for.
- ``arxiv_feed``: an announcement feed (``url`` or ``categories`` plus ``format`` rss/atom,
  ``announce_types`` to keep); an empty feed is "no announcement today".
- ``feed``: any RSS/Atom feed (``url``).
- ``file``: a JSONL/JSON file, gzip allowed (``path`` or ``url``).

Every kind also takes the HTTP limits of :class:`~digest.ingest.http.HttpPolicy`, and a
``schedule`` (a cron line or an interval, see :mod:`digest.timetable`) saying when the
scheduler runs it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from digest.domain import Paper
from digest.errors import DigestError, FetchError, InputError, ParseError
from digest.ingest.http import HTTP_OPTIONS, HttpClient, HttpPolicy
from digest.ingest.parse_arxiv import parse_arxiv_api
from digest.ingest.parse_arxiv_feed import ANNOUNCE_TYPES, parse_arxiv_feed
from digest.ingest.parse_feed import parse_feed
from digest.ingest.parse_hf import parse_daily_papers
from digest.ingest.parse_jsonl import GZIP_MAGIC, gunzip, parse_file
from digest.ingest.parsing import ParseResult, is_html_page
from digest.timetable import check_schedule

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
RESERVED = frozenset({"jsonl", "run", "all"})
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """A validated source: its name, kind and options (defaults filled in)."""

    name: str
    kind: str
    options: Mapping[str, Any]
    origin: str = "cli"
    enabled: bool = True  # a disabled source runs only when named

    @property
    def policy(self) -> HttpPolicy:
        return HttpPolicy().with_options(self.options)

    @property
    def target(self) -> str:
        """What it reads, for listings."""
        opts = self.options
        return str(opts.get("url") or opts.get("path") or opts.get("query") or "")


@dataclass
class SourceState:
    cursor: str | None = None
    validators: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Harvest:
    """What one run of a source brought back, before anything is stored."""

    records: list[Paper] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one per rejected item
    lines: list[bytes] | None = None  # JSONL lines, parsed by the caller (hash skipping)
    cursor: str | None = None
    validators: dict[str, dict[str, str]] = field(default_factory=dict)
    note: str = ""  # "not modified", "no announcement today", ...
    failure: str | None = None  # set when part of the run failed: nothing advances

    def take(self, result: ParseResult, where: str = "") -> None:
        prefix = f"{where}: " if where else ""
        self.records.extend(result.records)
        self.errors.extend(f"{prefix}item {n}: {problem}" for n, problem in result.errors)


class Source(Protocol):
    def harvest(
        self,
        client: HttpClient,
        state: SourceState,
        *,
        since: date | None,
        today: date,
        progress: Progress,
    ) -> Harvest: ...


# -- option schemas ----------------------------------------------------------------------
def _positive_int(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("expected a whole number")
        number = int(value)
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}")
        return number

    return check


def _number(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError("expected a number")
        number = float(value)
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}")
        return number

    return check


def _url(value: Any) -> str:
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http:// or https:// URL")
    return str(value)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected non-empty text")
    return value.strip()


def _announce_types(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValueError(f"expected a list of {', '.join(ANNOUNCE_TYPES)}")
    kinds = [str(v).strip().lower() for v in items]
    unknown = [k for k in kinds if k not in ANNOUNCE_TYPES]
    if unknown:
        raise ValueError(f"unknown announce type(s) {', '.join(unknown)}")
    return kinds


def _format(value: Any) -> str:
    if value not in ("rss", "atom"):
        raise ValueError("expected rss or atom")
    return str(value)


HTTP_CHECKS: dict[str, Callable[[Any], Any]] = {
    "connect_timeout": _number(0.01, 600),
    "read_timeout": _number(0.01, 600),
    "total_timeout": _number(0.01, 3600),
    "max_bytes": _positive_int(1024, 1024**3),
    "retries": _positive_int(0, 10),
    "backoff": _number(0, 600),
    "max_backoff": _number(0, 3600),
    "max_retry_after": _number(0, 86400),
    "delay": _number(0, 600),
}
assert set(HTTP_CHECKS) == set(HTTP_OPTIONS)
# Options every kind takes besides the HTTP limits: when the scheduler runs it.
COMMON_CHECKS: dict[str, Callable[[Any], Any]] = {"schedule": check_schedule}

# kind -> (option -> check), required options, defaults
SCHEMAS: dict[str, tuple[dict[str, Callable[[Any], Any]], tuple[str, ...], dict[str, Any]]] = {
    "hf_daily": (
        {"url": _url, "limit": _positive_int(1, 1000), "max_days": _positive_int(1, 366)},
        (),
        {"url": "https://huggingface.co/api/daily_papers", "limit": 100, "max_days": 7},
    ),
    "arxiv_api": (
        {
            "url": _url,
            "query": _text,
            "page_size": _positive_int(1, 2000),
            "max_pages": _positive_int(1, 1000),
        },
        ("query",),
        {
            "url": "https://export.arxiv.org/api/query",
            "page_size": 100,
            "max_pages": 10,
            "delay": 3.0,
        },
    ),
    "arxiv_feed": (
        {"url": _url, "categories": _text, "format": _format, "announce_types": _announce_types},
        (),
        {"format": "rss", "announce_types": ["new", "cross"]},
    ),
    "feed": ({"url": _url}, ("url",), {}),
    "file": ({"path": _text, "url": _url}, (), {}),
}
KINDS = tuple(SCHEMAS)


def make_source(
    name: str,
    kind: str,
    options: Mapping[str, Any],
    *,
    origin: str = "cli",
    enabled: bool = True,
) -> SourceConfig:
    """Validate a source definition; every problem is one InputError naming the option."""
    if not NAME.match(name or "") or name in RESERVED:
        raise InputError(
            f"source name {name!r}: use 1-64 lower-case letters, digits, '-', '_' or '.'"
            + (f" (and not {', '.join(sorted(RESERVED))})" if name in RESERVED else "")
        )
    if kind not in SCHEMAS:
        raise InputError(f"source {name}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    checks, required, defaults = SCHEMAS[kind]
    checks = {**checks, **HTTP_CHECKS, **COMMON_CHECKS}
    unknown = sorted(set(options) - set(checks))
    if unknown:
        raise InputError(f"source {name}: unknown option(s) {', '.join(unknown)}")
    values = dict(defaults)
    for key, value in options.items():
        try:
            values[key] = checks[key](value)
        except (ValueError, TypeError) as exc:
            raise InputError(f"source {name}: option {key}: {exc}") from None
    missing = [key for key in required if key not in values]
    if kind == "arxiv_feed" and "url" not in values and "categories" not in values:
        missing.append("url or categories")
    if kind == "file" and ("path" in values) == ("url" in values):
        raise InputError(f"source {name}: give exactly one of path or url")
    if missing:
        raise InputError(f"source {name}: missing option(s) {', '.join(missing)}")
    return SourceConfig(name, kind, values, origin, enabled)


def parse_option(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line; the value is read as JSON when it is JSON."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"option {text!r}: expected key=value")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def source_for(config: SourceConfig) -> Source:
    kinds: dict[str, Callable[[SourceConfig], Source]] = {
        "hf_daily": HfDaily,
        "arxiv_api": ArxivApi,
        "arxiv_feed": ArxivFeed,
        "feed": Feed,
        "file": File,
    }
    return kinds[config.kind](config)


# -- the kinds ---------------------------------------------------------------------------
@dataclass
class _Base:
    config: SourceConfig
    expects = "RSS or Atom"  # what the URL should serve, for the message when it does not

    @property
    def name(self) -> str:
        return self.config.name

    def _get(
        self,
        client: HttpClient,
        state: SourceState,
        harvest: Harvest,
        url: str,
        params: Mapping[str, str | int] | None = None,
        *,
        conditional: bool = True,
    ) -> bytes | None:
        """GET with the validators remembered for this exact URL; None when not modified."""
        key = url + ("?" + urlencode(params) if params else "")
        known = state.validators.get(key) if conditional else None
        response = client.get(url, params=params, policy=self.config.policy, validators=known)
        if response.not_modified:
            harvest.validators[key] = dict(known or {})
            return None
        if response.validators:
            harvest.validators[key] = response.validators
        if is_html_page(response.content):  # an error or login page instead of the data
            raise ParseError(f"expected {self.expects}, got an HTML page from {key}")
        return response.content


class HfDaily(_Base):
    expects = "JSON"

    def harvest(
        self,
        client: HttpClient,
        state: SourceState,
        *,
        since: date | None,
        today: date,
        progress: Progress,
    ) -> Harvest:
        opts = self.config.options
        start = since or (date.fromisoformat(state.cursor) if state.cursor else today)
        start = max(start, today - timedelta(days=opts["max_days"] - 1)) if not since else start
        start = min(max(start, today - timedelta(days=366)), today)
        harvest = Harvest()
        unchanged = 0
        day = start
        while day <= today:
            progress(f"{day}")
            for page in range(10):
                params: dict[str, str | int] = {"date": day.isoformat(), "limit": opts["limit"]}
                if page:
                    params["p"] = page
                try:
                    data = self._get(client, state, harvest, opts["url"], params)
                    if data is None:
                        unchanged += 1
                        break
                    result = parse_daily_papers(data, source=self.name)
                except DigestError as exc:
                    if not harvest.records:
                        raise
                    harvest.failure = f"{day}: {exc}"  # keep what came, advance nothing
                    return harvest
                harvest.take(result, f"{day}")
                if len(result.records) + len(result.errors) < opts["limit"]:
                    break
            day += timedelta(days=1)
        harvest.cursor = today.isoformat()
        if unchanged and not harvest.records:
            harvest.note = "not modified"
        return harvest


class ArxivApi(_Base):
    expects = "Atom"

    def harvest(
        self,
        client: HttpClient,
        state: SourceState,
        *,
        since: date | None,
        today: date,
        progress: Progress,
    ) -> Harvest:
        opts = self.config.options
        # the cursor is the newest submission day seen; overlap one day, upserts are idempotent
        stop_at = since or (
            date.fromisoformat(state.cursor) - timedelta(days=1) if state.cursor else None
        )
        harvest = Harvest()
        newest = date.fromisoformat(state.cursor) if state.cursor else None
        start = 0
        for page in range(opts["max_pages"]):
            progress(f"page {page + 1}")
            params = {
                "search_query": opts["query"],
                "sortBy": "submittedDate",
                "sortOrder": "descending",
                "start": start,
                "max_results": opts["page_size"],
            }
            try:
                data = self._get(client, state, harvest, opts["url"], params, conditional=False)
                result = parse_arxiv_api(data or b"", source=self.name)
            except DigestError as exc:
                if not harvest.records:
                    raise
                harvest.failure = f"page {page + 1}: {exc}"  # keep what came, advance nothing
                return harvest
            harvest.take(result, f"page {page + 1}")
            days = [p.published for p in result.records if p.published]
            if days:
                newest = max(newest or days[0], max(days))
            start += len(result.records) + len(result.errors)
            if not result.records and not result.errors:
                break
            if result.total is not None and start >= result.total:
                break
            if stop_at and days and min(days) < stop_at:
                break
        else:
            if stop_at is not None:
                # newest first: moving the cursor now would skip what lies between
                harvest.failure = (
                    f"max_pages={opts['max_pages']} reached before {stop_at}; "
                    "raise max_pages (or use --since) to close the gap"
                )
                return harvest
            harvest.note = f"first run: newest {opts['max_pages']} page(s) only"
        harvest.cursor = newest.isoformat() if newest else state.cursor
        return harvest


class ArxivFeed(_Base):
    def url(self) -> str:
        opts = self.config.options
        if opts.get("url"):
            return str(opts["url"])
        return f"https://rss.arxiv.org/{opts['format']}/{opts['categories']}"

    def harvest(
        self,
        client: HttpClient,
        state: SourceState,
        *,
        since: date | None,
        today: date,
        progress: Progress,
    ) -> Harvest:
        harvest = Harvest()
        progress("feed")
        data = self._get(client, state, harvest, self.url(), conditional=since is None)
        if data is None:
            harvest.note = "not modified"
            harvest.cursor = state.cursor
            return harvest
        keep = self.config.options["announce_types"]
        result = parse_arxiv_feed(data, source=self.name, keep=keep)
        harvest.take(result)
        if not result.records and not result.errors:
            harvest.note = "no announcement today"
        harvest.cursor = result.feed_date.isoformat() if result.feed_date else state.cursor
        return harvest


class Feed(_Base):
    def harvest(
        self,
        client: HttpClient,
        state: SourceState,
        *,
        since: date | None,
        today: date,
        progress: Progress,
    ) -> Harvest:
        harvest = Harvest()
        progress("feed")
        data = self._get(client, state, harvest, self.config.options["url"], conditional=not since)
        if since is not None:  # a filtered run must not make the next one see "not modified"
            harvest.validators.clear()
        if data is None:
            harvest.note = "not modified"
            harvest.cursor = state.cursor
            return harvest
        result = parse_feed(data, source=self.name)
        if since is not None:
            result.records = [p for p in result.records if not p.published or p.published >= since]
        harvest.take(result)
        harvest.cursor = result.feed_date.isoformat() if result.feed_date else state.cursor
        if not result.records and not result.errors:
            harvest.note = "empty feed"
        return harvest


class File(_Base):
    expects = "JSON or JSON lines"

    def harvest(
        self,
        client: HttpClient,
        state: SourceState,
        *,
        since: date | None,
        today: date,
        progress: Progress,
    ) -> Harvest:
        harvest = Harvest()
        opts = self.config.options
        progress("read")
        if opts.get("url"):
            data = self._get(client, state, harvest, opts["url"])
            if data is None:
                harvest.note = "not modified"
                harvest.cursor = state.cursor
                return harvest
            stamp = None
        else:
            path = Path(opts["path"]).expanduser()
            try:
                stat = path.stat()
                stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
                if stamp == state.cursor and since is None:
                    harvest.note = "not modified"
                    harvest.cursor = stamp
                    return harvest
                data = path.read_bytes()
            except FileNotFoundError:
                raise FetchError(f"no such file: {path}", permanent=True) from None
            except OSError as exc:
                raise FetchError(f"cannot read {path}: {exc.strerror}", permanent=True) from None
        if data[:2] == GZIP_MAGIC:
            data = gunzip(data)
        head = data.lstrip()[:1]
        if head == b"[" or (head == b"{" and b'"papers"' in data[:4096]):
            harvest.take(parse_file(data, source=self.name))
        else:
            harvest.lines = data.splitlines()
        harvest.cursor = stamp
        return harvest


def describe(config: SourceConfig) -> dict[str, Any]:
    """A JSON-ready view of a source for listings."""
    return {
        "name": config.name,
        "kind": config.kind,
        "origin": config.origin,
        "enabled": config.enabled,
        **config.options,
    }
