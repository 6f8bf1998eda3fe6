"""Property-based: random bytes and random-but-valid structures never crash a parser.

Every parser must return records (and per-item errors) or raise ParseError/InputError
with a message; any other exception is a bug.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.errors import InputError
from digest.ingest.parse_arxiv import parse_arxiv_api
from digest.ingest.parse_arxiv_feed import parse_arxiv_feed
from digest.ingest.parse_feed import parse_feed
from digest.ingest.parse_hf import parse_daily_papers
from digest.ingest.parse_jsonl import parse_file
from digest.ingest.parsing import ParseResult

PARSERS = [parse_daily_papers, parse_arxiv_api, parse_arxiv_feed, parse_feed, parse_file]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(parser, data: bytes) -> ParseResult | None:  # type: ignore[no-untyped-def]
    try:
        result = parser(data)
    except InputError as exc:  # ParseError is one
        assert str(exc)
        return None
    assert isinstance(result, ParseResult)
    for paper in result.records:
        assert paper.id and paper.title
    for number, problem in result.errors:
        assert isinstance(number, int) and problem
    return result


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    for parser in PARSERS:
        outcome(parser, data)


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_inside_real_framing(data: bytes) -> None:
    text = data.decode("latin-1")
    for parser, doc in (
        (parse_daily_papers, b'[{"paper": {"id": "2501.01234", "title": "' + data + b'"}}]'),
        (parse_arxiv_api, f"<feed xmlns='http://www.w3.org/2005/Atom'>{text}</feed>".encode()),
        (parse_arxiv_feed, f"<rss><channel><item>{text}</item></channel></rss>".encode()),
        (parse_feed, f"<rss version='2.0'><channel><item>{text}</item></channel></rss>".encode()),
        (parse_file, b'{"id": "2501.01234", "title": "' + data + b'"}\n'),
    ):
        outcome(parser, doc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
arxiv_ids = st.sampled_from(
    ["2501.01234", "2501.01234v2", "arXiv:2501.01234", "hep-th/9901001v1", "", "x", "10.1/ab"]
)
ids = arxiv_ids | st.text(max_size=20)
dates = st.sampled_from(["2025-04-01", "2025-04-01T10:00:00.000Z", "", "soon", "2025-02-30"])


@st.composite
def hf_items(draw):  # type: ignore[no-untyped-def]
    paper = {
        "id": draw(ids | json_values),
        "title": draw(st.text(max_size=50) | json_values),
        "summary": draw(st.text(max_size=200)),
        "authors": draw(
            st.lists(st.fixed_dictionaries({"name": st.text(max_size=20)})) | json_values
        ),
        "upvotes": draw(st.integers(-5, 10**12) | json_values),
        "publishedAt": draw(dates | json_values),
        "ai_keywords": draw(st.lists(st.text(max_size=10)) | json_values),
        "githubRepo": draw(st.just("https://github.com/a/b") | json_values),
    }
    return {"paper": paper, "submittedOnDailyAt": draw(dates), "numComments": draw(json_values)}


@SETTINGS
@given(st.lists(hf_items(), max_size=8))
def test_random_daily_papers(items: list[dict]) -> None:
    result = outcome(parse_daily_papers, json.dumps(items).encode())
    assert result is not None
    assert len(result.records) + len(result.errors) == len(items)


JSONL_KEYS = ["id", "title", "abstract", "authors", "categories", "day", "upvotes", "links", "doi"]


@SETTINGS
@given(st.lists(st.dictionaries(st.sampled_from(JSONL_KEYS), json_values), max_size=8))
def test_random_jsonl_objects(rows: list[dict]) -> None:
    data = "\n".join(json.dumps(r) for r in rows).encode()
    result = outcome(parse_file, data)
    if result is not None and rows:
        assert len(result.records) + len(result.errors) == len(rows)


xml_text = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=60)


@st.composite
def atom_entries(draw):  # type: ignore[no-untyped-def]
    fields = {
        "id": draw(ids),
        "title": draw(xml_text),
        "summary": draw(xml_text),
        "published": draw(dates),
    }
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items() if draw(st.booleans()))
    authors = "".join(
        f"<author><name>{escape(n)}</name></author>" for n in draw(st.lists(xml_text, max_size=3))
    )
    return f"<entry>{body}{authors}</entry>"


@SETTINGS
@given(st.lists(atom_entries(), max_size=6))
def test_random_atom_documents(entries: list[str]) -> None:
    doc = (
        "<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom' "
        "xmlns:arxiv='http://arxiv.org/schemas/atom'>" + "".join(entries) + "</feed>"
    ).encode()
    for parser in (parse_arxiv_api, parse_arxiv_feed, parse_feed):
        outcome(parser, doc)


@st.composite
def rss_items(draw):  # type: ignore[no-untyped-def]
    kind = draw(st.sampled_from(["new", "cross", "replace", "replace-cross", "other", ""]))
    guid = draw(arxiv_ids | xml_text)
    description = f"arXiv:{guid} Announce Type: {kind}\nAbstract: {draw(xml_text)}"
    return (
        f"<item><title>{escape(draw(xml_text))}</title><guid>oai:arXiv.org:{escape(guid)}</guid>"
        f"<description>{escape(description)}</description>"
        f"<pubDate>{escape(draw(dates))}</pubDate><dc:creator>{escape(draw(xml_text))}</dc:creator>"
        f"<arxiv:announce_type>{kind}</arxiv:announce_type></item>"
    )


@SETTINGS
@given(st.lists(rss_items(), max_size=6))
def test_random_rss_documents(items: list[str]) -> None:
    doc = (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0' "
        "xmlns:arxiv='http://arxiv.org/schemas/atom' xmlns:dc='http://purl.org/dc/elements/1.1/'>"
        "<channel><title>t</title>" + "".join(items) + "</channel></rss>"
    ).encode()
    result = outcome(parse_arxiv_feed, doc)
    assert result is not None
    outcome(parse_feed, doc)
