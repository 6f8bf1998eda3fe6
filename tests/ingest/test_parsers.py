"""Each parser against fixtures in its real format, and against bad input."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from digest.errors import ParseError
from digest.ingest.parse_arxiv import parse_arxiv_api
from digest.ingest.parse_arxiv_feed import parse_arxiv_feed
from digest.ingest.parse_feed import parse_feed
from digest.ingest.parse_hf import parse_daily_papers
from digest.ingest.parse_jsonl import parse_file, parse_jsonl

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingest"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -- Hugging Face Daily Papers -----------------------------------------------------------
def test_daily_papers_day() -> None:
    result = parse_daily_papers(fixture("daily_papers.json"), source="hf")
    items = json.loads(fixture("daily_papers.json"))
    assert result.errors == []
    assert [p.id for p in result.records] == [i["paper"]["id"] for i in items]
    first, raw = result.records[0], items[0]
    assert first.title == raw["paper"]["title"]
    assert first.authors == tuple(a["name"] for a in raw["paper"]["authors"])
    assert first.upvotes == raw["paper"]["upvotes"]
    assert first.num_comments == raw["numComments"]
    assert first.github_stars == raw["paper"]["githubStars"]
    assert first.links["github"] == raw["paper"]["githubRepo"]
    assert first.links["project"] == raw["paper"]["projectPage"]
    assert first.links["hf"] == f"https://huggingface.co/papers/{first.id}"
    assert first.featured_on == date(2025, 5, 30)
    assert all(p.featured_on == date(2025, 5, 30) for p in result.records)
    assert first.published == date(2025, 5, 28)
    assert first.ai_summary and first.keywords
    assert first.source == "hf"


def test_daily_papers_fixture_has_the_real_apis_shape() -> None:
    """The shape of huggingface.co/api/daily_papers items: `submittedOnDailyAt` belongs to
    `paper` (the top level has title, summary, publishedAt, numComments, thumbnail,
    submittedBy, ...). A fixture with it at the top level hid a parser reading it there."""
    for item in json.loads(fixture("daily_papers.json")):
        assert "submittedOnDailyAt" not in item
        assert {"paper", "title", "summary", "publishedAt", "numComments"} <= set(item)
        assert {"id", "title", "summary", "authors", "upvotes", "publishedAt"} <= set(item["paper"])
        assert "submittedOnDailyAt" in item["paper"]


def test_daily_papers_featured_day_is_read_from_the_paper() -> None:
    item = {
        "paper": {"id": "2506.00001", "title": "T", "summary": "S", "authors": [],
                  "upvotes": 3, "publishedAt": "2025-06-01T10:00:00.000Z",
                  "submittedOnDailyAt": "2025-06-03T08:12:00.000Z"},
        "title": "T", "summary": "S", "publishedAt": "2025-06-01T10:00:00.000Z",
        "numComments": 2, "thumbnail": "https://example.org/t.png",
    }  # fmt: skip
    (paper,) = parse_daily_papers(json.dumps([item]).encode()).records
    assert paper.featured_on == date(2025, 6, 3)
    item["paper"]["submittedOnDailyAt"] = "soon"
    result = parse_daily_papers(json.dumps([item]).encode())
    assert "paper.submittedOnDailyAt" in result.errors[0][1]


def test_daily_papers_bad_items_are_reported_and_skipped() -> None:
    items = json.loads(fixture("daily_papers.json"))[:3]
    bad = [
        {"paper": {"title": "no id"}},
        {"paper": {"id": "2505.00001", "title": "bad date", "publishedAt": "yesterday"}},
        {"paper": {"id": "2505.00002", "title": "bad upvotes", "upvotes": "many"}},
        {"paper": {"id": "2505.00003"}},
        "not an object",
        {"nopaper": 1},
        {"paper": {"id": ["list"], "title": "x"}},
        items[0],  # a duplicate within one response
    ]
    result = parse_daily_papers(json.dumps(items + bad).encode())
    assert [p.id for p in result.records] == [i["paper"]["id"] for i in items]
    assert [n for n, _ in result.errors] == list(range(4, 12))
    assert "duplicate" in result.errors[-1][1]
    assert "invalid publishedAt" in dict(result.errors)[5]


@pytest.mark.parametrize(
    "data", [b"", b"{", b"not json", b'{"a": 1}', b"42", b"\xff\xfe\x00garbage", b"[" * 100_000]
)
def test_daily_papers_unreadable_document(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_daily_papers(data)


# -- arXiv API ---------------------------------------------------------------------------
def test_arxiv_api_pages() -> None:
    page1 = parse_arxiv_api(fixture("arxiv_api_page1.xml"), source="arxiv")
    page2 = parse_arxiv_api(fixture("arxiv_api_page2.xml"), source="arxiv")
    assert page1.total == page2.total == 8
    assert len(page1.records) == 5 and len(page2.records) == 3
    assert page1.errors == page2.errors == []
    paper = page1.records[1]
    assert paper.version == 2 and "v" not in paper.id
    assert paper.primary_category == paper.categories[0]
    assert paper.affiliations == ("University 0",)
    assert paper.published == date(2025, 5, 28)
    assert paper.links["abs"] == f"https://arxiv.org/abs/{paper.id}"
    with_doi = [p for p in page1.records + page2.records if p.doi]
    assert with_doi and all(p.journal_ref and p.links["doi"] for p in with_doi)


def test_arxiv_api_error_entry_is_a_parse_error() -> None:
    doc = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
      <entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234</id>
      <title>Error</title><summary>incorrect id format for 1234</summary></entry></feed>"""
    with pytest.raises(ParseError, match="incorrect id format"):
        parse_arxiv_api(doc)


def test_arxiv_api_bad_entries() -> None:
    doc = fixture("arxiv_api_page2.xml").decode()
    entry_start = doc.index("<entry>")
    entry = doc[entry_start : doc.index("</entry>") + len("</entry>")]
    broken = [
        entry.replace("<published>2025-05-28T17:59:50Z", "<published>not a date"),
        entry.replace(entry[entry.index("<id>") : entry.index("</id>")], "<id>tag:x.org,2025:1"),
        entry.replace(entry[entry.index("<title>") : entry.index("</title>") + 8], ""),
    ]
    doc = doc.replace("</feed>", "".join(broken) + "</feed>")
    result = parse_arxiv_api(doc.encode())
    assert len(result.records) == 3
    problems = [p for _, p in result.errors]
    assert len(problems) == 3
    assert any("invalid published date" in p for p in problems)
    assert any("no arXiv id" in p for p in problems)
    assert any("missing title" in p for p in problems)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<feed",
        b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><entry></feed>",
        b"<html><body>Rate limited</body></html>",
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaa">]><feed>&a;</feed>',
        b'<?xml version="1.0" encoding="no-such-codec"?><feed/>',
    ],
)
def test_arxiv_api_malformed_xml(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_arxiv_api(data)


def test_xml_declarations_are_refused_wherever_they_are() -> None:
    """A DTD or entity after a long comment (past any prefix a guard might scan) is refused
    like one at the start: nothing is ever expanded."""
    atom = b'<feed xmlns="http://www.w3.org/2005/Atom">&a;</feed>'
    entity = b'<!DOCTYPE feed [<!ENTITY a "' + b"x" * 1000 + b'">]>'
    for padding in (b"", b"<!-- " + b"c" * 10_000 + b" -->\n"):
        data = b'<?xml version="1.0"?>\n' + padding + entity + atom
        for parse in (parse_arxiv_api, parse_arxiv_feed):
            with pytest.raises(ParseError, match="DOCTYPE or ENTITY declaration is refused"):
                parse(data)


@pytest.mark.parametrize(
    "page",
    [
        b"<!DOCTYPE html><html><body>Rate limited</body></html>",
        b"\xef\xbb\xbf  <!doctype HTML>\n<html lang=en>",
        b"<?xml version='1.0'?><!-- proxy --><html><body>503</body></html>",
    ],
)
def test_an_html_page_is_not_reported_as_a_dtd(page: bytes) -> None:
    for parse in (parse_arxiv_api, parse_arxiv_feed):
        with pytest.raises(ParseError, match=r"^expected RSS or Atom, got an HTML page$"):
            parse(page)


# -- arXiv announcement feeds ------------------------------------------------------------
@pytest.mark.parametrize("name", ["arxiv_rss.xml", "arxiv_atom.xml"])
def test_announcement_feed_announce_types(name: str) -> None:
    everything = parse_arxiv_feed(fixture(name), source="feed")
    assert everything.errors == [] and len(everything.records) == 10
    assert everything.feed_date == date(2025, 5, 30)
    only_new = parse_arxiv_feed(fixture(name), keep={"new"})
    new_and_cross = parse_arxiv_feed(fixture(name), keep={"new", "cross"})
    assert 0 < len(only_new.records) < len(new_and_cross.records) < 10
    replaced = [p for p in everything.records if p.version and p.version > 1]
    assert replaced  # replace / replace-cross entries carry their new version
    paper = everything.records[0]
    assert paper.authors and all("," not in a for a in paper.authors)
    assert paper.abstract and not paper.abstract.startswith(("arXiv:", "Abstract:"))
    assert paper.announced == date(2025, 5, 30)
    assert paper.categories


def test_rss_creator_is_split_and_replace_has_doi() -> None:
    result = parse_arxiv_feed(fixture("arxiv_rss.xml"))
    raw = fixture("arxiv_rss.xml").decode()
    creator = raw[raw.index("<dc:creator>") + 12 : raw.index("</dc:creator>")]
    assert result.records[0].authors == tuple(a.strip() for a in creator.split(","))
    replaced = [p for p in result.records if p.doi]
    assert replaced and replaced[0].journal_ref == "Proc. Examples 2025"


def test_empty_weekend_feed_is_no_announcement() -> None:
    result = parse_arxiv_feed(fixture("arxiv_rss_empty.xml"))
    assert result.records == [] and result.errors == []
    assert result.feed_date == date(2025, 5, 31)


def test_announcement_feed_duplicates_and_versions() -> None:
    raw = fixture("arxiv_rss.xml").decode()
    start = raw.index("<item>")
    item = raw[start : raw.index("</item>") + 7]
    newer = item.replace("v1 Announce", "v2 Announce").replace("v1</guid>", "v2</guid>")
    doc = raw.replace("</channel>", item + newer + "</channel>")
    result = parse_arxiv_feed(doc.encode())
    assert len(result.records) == 10
    assert sum("duplicate" in p for _, p in result.errors) == 2
    kept = next(p for p in result.records if p.id in item)
    assert kept.version == 2


def test_feed_in_another_encoding() -> None:
    raw = fixture("arxiv_rss.xml").decode()
    raw = raw.replace("encoding='UTF-8'", "encoding='ISO-8859-1'")
    raw = raw.replace("<item>\n<title>", "<item>\n<title>Caf\u00e9 ", 1)
    result = parse_arxiv_feed(raw.encode("latin-1", "replace"))
    assert result.records[0].title.startswith("Café ")
    generic = (
        fixture("generic_rss.xml").decode().replace('encoding="UTF-8"', 'encoding="windows-1252"')
    )
    generic = generic.replace("<title>Example", "<title>\u201cQuoted\u201d Example")
    parsed = parse_feed(generic.encode("cp1252", "replace"))
    assert len(parsed.records) == 8


# -- generic RSS / Atom ------------------------------------------------------------------
def test_generic_rss() -> None:
    result = parse_feed(fixture("generic_rss.xml"), source="blog")
    assert result.errors == [] and len(result.records) == 8
    by_title = {p.title: p for p in result.records}
    doi_paper = by_title["A Journal Article Known Only By DOI"]
    assert doi_paper.id == "doi:10.5555/example.2025.42"
    assert doi_paper.abstract == "An abstract with markup & entities."
    arxiv = [p for p in result.records if "." in p.id and ":" not in p.id]
    assert len(arxiv) == 1 and arxiv[0].links["abs"].startswith("https://arxiv.org/abs/")
    titled = [p for p in result.records if p.id.startswith("title:")]
    assert len(titled) == 6 and all(p.abstract and "<p>" not in p.abstract for p in titled)
    assert titled[0].published == date(2025, 3, 11)
    assert titled[0].categories == ("Machine Learning",)


@pytest.mark.parametrize("data", [b"", b"just text", b"{}", b"\x00\x01\x02", b"<html><p>hi</p>"])
def test_generic_feed_not_a_feed(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_feed(data)


def test_generic_feed_bad_items() -> None:
    doc = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><title>Good</title><link>https://x.org/1</link></item>
      <item><link>https://x.org/no-title</link></item>
      <item><title>Bad date</title><pubDate>the 45th of Smarch</pubDate></item>
      <item><title>Good</title><link>https://x.org/1</link></item>
      </channel></rss>"""
    result = parse_feed(doc)
    assert [p.title for p in result.records] == ["Good"]
    assert [n for n, _ in result.errors] == [2, 3, 4]


# -- JSONL / JSON files ------------------------------------------------------------------
def test_jsonl_plain_gzip_and_json_array_agree() -> None:
    plain = parse_file(fixture("papers.jsonl"))
    packed = parse_file(fixture("papers.jsonl.gz"))
    rows = [json.loads(line) for line in fixture("papers.jsonl").splitlines()]
    array = parse_file(json.dumps(rows, indent=2).encode())
    wrapped = parse_file(gzip.compress(json.dumps({"papers": rows}).encode()))
    assert len(plain.records) == 10
    for other in (packed, array, wrapped):
        assert [p.id for p in other.records] == [p.id for p in plain.records]
        assert other.records[0].abstract == plain.records[0].abstract


def test_jsonl_bad_lines() -> None:
    good = fixture("papers.jsonl").splitlines()[:2]
    lines = [
        good[0],
        b"{not json",
        b'{"id": "2501.00001"}',
        b'{"id": "2501.00002", "title": "T", "day": "2025-02-30"}',
        b'{"id": "2501.00003", "title": "T", "authors": 5}',
        b"[1, 2]",
        b"",
        good[1],
        good[0],
    ]
    result = parse_jsonl(lines)
    assert len(result.records) == 2
    assert [n for n, _ in result.errors] == [2, 3, 4, 5, 6, 9]


def test_jsonl_lines_json_reads_differently_from_orjson() -> None:
    """Lines orjson refuses or reads otherwise give what the standard json module gives."""
    big = "123456789012345678901234567890"  # beyond 64 bits: orjson would give a float
    lines = [
        b'{"id": "2501.00001", "title": "T", "upvotes": NaN}',
        b'\xef\xbb\xbf{"id": "2501.00002", "title": "BOM"}',
        b'{"id": "2501.00003", "title": %s}' % big.encode(),
        b'{"id": "2501.00004", "title": "T", "categories": [%s, 1.5, "cs.LG"]}' % big.encode(),
        b'{"id": "2501.00005", "title": "bad \xff utf-8"}',
        b'{"id": "2501.00006", "title": "lone \\ud800 escape"}',
        b"\xc2\xa0",  # a no-break space alone: a blank line
        b'{"id": "2501.00007", "title": "T", "published": %s}' % big.encode(),
        b"[" * 5000,
        b'{"id": "2501.00008", "title": "T", "upvotes": 3.7}',
    ]
    result = parse_jsonl(lines)
    got = {p.id: p for p in result.records}
    assert got["2501.00003"].title == big
    assert got["2501.00004"].categories == (big, "cs.LG")
    assert got["2501.00005"].title == "bad \ufffd utf-8"
    assert got["2501.00006"].title == "lone \ud800 escape"
    assert got["2501.00008"].upvotes == 3
    assert result.errors == [
        (1, "expected a count, got 'nan'"),
        (2, "not valid JSON (Unexpected UTF-8 BOM (decode using utf-8-sig))"),
        (8, f"invalid published date '{big}'"),
        (9, "not valid JSON (nested too deeply)"),
    ]


def test_truncated_gzip_is_a_parse_error() -> None:
    data = fixture("papers.jsonl.gz")
    with pytest.raises(ParseError, match="truncated"):
        parse_file(data[: len(data) // 2])
