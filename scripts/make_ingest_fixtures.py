"""Build the ingestion test fixtures (tests/fixtures/ingest/) from the shared data.

Run once by a developer; the output is committed so the tests run on a clone without
../shared. Real papers of the arXiv dump are written out in each real source format:
a Hugging Face Daily Papers day, two arXiv API Atom pages, arXiv announcement feeds in RSS
and Atom (with cross, replace and replace-cross entries), an empty weekend feed, a generic
RSS 2.0 feed of the seed's trending papers, and a small JSONL file.
"""

# ruff: noqa: E501 - XML templates read better unwrapped
from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DUMP = SHARED / "data" / "arxiv-2025-04-05.jsonl.gz"
SEED = SHARED / "seed" / "trending-papers.jsonl"
OUT = ROOT / "tests" / "fixtures" / "ingest"
DAY = "2025-05-30"


def papers() -> list[dict]:
    with gzip.open(DUMP, "rt") as fh:
        rows = [json.loads(line) for line in fh]
    return [r for r in rows if r["day"] == DAY][:40]


def daily_papers(rows: list[dict], rng: random.Random) -> list[dict]:
    items = []
    for i, r in enumerate(rows[:12]):
        paper = {
            "id": r["id"],
            "title": r["title"],
            "summary": r["abstract"],
            "authors": [
                {"_id": f"a{i}{j}", "name": n, "hidden": False} for j, n in enumerate(r["authors"])
            ],
            "upvotes": rng.randint(0, 120),
            "publishedAt": f"2025-05-28T17:59:0{i % 10}.000Z",
            "discussionId": f"d{i}",
        }
        if i % 3 == 0:
            paper["ai_summary"] = "A short machine summary of: " + r["title"]
            paper["ai_keywords"] = [w for w in r["title"].split()[:4] if w.isalpha()]
        if i % 4 == 0:
            paper["githubRepo"] = f"https://github.com/example/repo{i}"
            paper["githubStars"] = rng.randint(0, 900)
        if i % 5 == 0:
            paper["projectPage"] = f"https://example.org/project{i}"
        items.append(
            {
                "paper": paper,
                "publishedAt": paper["publishedAt"],
                "title": r["title"],
                "summary": r["abstract"],
                "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{r['id']}.png",
                "numComments": rng.randint(0, 9),
                "submittedBy": {"name": "someone"},
                "submittedOnDailyAt": f"{DAY}T03:{10 + i:02d}:00.000Z",
                "isAuthorParticipating": False,
            }
        )
    return items


def api_entry(r: dict, version: int) -> str:
    pid = r["id"]
    authors = "".join(
        f"<author><name>{escape(n)}</name>"
        + (f"<arxiv:affiliation>University {k}</arxiv:affiliation>" if k == 0 else "")
        + "</author>"
        for k, n in enumerate(r["authors"])
    )
    cats = "".join(
        f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in r["categories"]
    )
    doi = ""
    if pid.endswith(("1", "7")):
        doi = (
            f"<arxiv:doi>10.1000/example.{pid}</arxiv:doi>"
            f'<link title="doi" href="http://dx.doi.org/10.1000/example.{pid}" rel="related"/>'
            "<arxiv:journal_ref>Journal of Examples 12 (2025) 1-10</arxiv:journal_ref>"
        )
    return f"""
  <entry>
    <id>http://arxiv.org/abs/{pid}v{version}</id>
    <updated>2025-05-29T17:59:5{version}Z</updated>
    <published>2025-05-28T17:59:50Z</published>
    <title>{escape(r["title"])}</title>
    <summary>  {escape(r["abstract"])}
</summary>
    {authors}
    <arxiv:comment>{escape(r["comment"] or "")}</arxiv:comment>{doi}
    <link href="http://arxiv.org/abs/{pid}v{version}" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{pid}v{version}" rel="related" type="application/pdf"/>
    <arxiv:primary_category term="{r["categories"][0]}" scheme="http://arxiv.org/schemas/atom"/>
    {cats}
  </entry>"""


def api_page(rows: list[dict], start: int, total: int) -> str:
    entries = "".join(api_entry(r, 1 + (i % 2)) for i, r in enumerate(rows))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query%3Dcat%3Acs.LG%26id_list%3D%26start%3D{start}%26max_results%3D5" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=cat:cs.LG&amp;id_list=&amp;start={start}&amp;max_results=5</title>
  <id>http://arxiv.org/api/cHxbiOdZaP56ODnBPIenZhzg5f8</id>
  <updated>2025-05-30T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{total}</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{start}</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">5</opensearch:itemsPerPage>{entries}
</feed>
""".replace(
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">',
    )


TYPES = ["new", "new", "new", "cross", "replace", "replace-cross", "new", "cross"]


def rss_feed(rows: list[dict]) -> str:
    items = []
    for i, r in enumerate(rows):
        kind = TYPES[i % len(TYPES)]
        version = 2 if kind.startswith("replace") else 1
        extra = ""
        if kind == "replace":
            extra = f"<arxiv:DOI>10.1000/example.{r['id']}</arxiv:DOI><arxiv:journal_reference>Proc. Examples 2025</arxiv:journal_reference>"
        cats = "".join(f"<category>{c}</category>" for c in r["categories"])
        items.append(
            f"""<item>
<title>{escape(r["title"])}</title>
<link>https://arxiv.org/abs/{r["id"]}</link>
<description>{escape(f"arXiv:{r['id']}v{version} Announce Type: {kind} ")}
{escape("Abstract: " + r["abstract"])}</description>
<guid isPermaLink="false">oai:arXiv.org:{r["id"]}v{version}</guid>
{cats}
<pubDate>Fri, 30 May 2025 00:00:00 -0400</pubDate>
<arxiv:announce_type>{kind}</arxiv:announce_type>
<dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
<dc:creator>{escape(", ".join(r["authors"]))}</dc:creator>{extra}
</item>"""
        )
    return rss_channel("\n".join(items), "Fri, 30 May 2025 00:00:00 -0400")


def rss_channel(items: str, date: str) -> str:
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">
<channel>
<title>cs.LG, cs.CL updates on arXiv.org</title>
<link>http://rss.arxiv.org/rss/cs.LG+cs.CL</link>
<description>cs.LG, cs.CL updates on the arXiv.org e-print archive.</description>
<atom:link href="http://rss.arxiv.org/rss/cs.LG+cs.CL" rel="self" type="application/rss+xml"/>
<docs>http://www.rssboard.org/rss-specification</docs>
<language>en-us</language>
<lastBuildDate>{date}</lastBuildDate>
<managingEditor>rss-help@arxiv.org</managingEditor>
<pubDate>{date}</pubDate>
<skipDays>
<day>Saturday</day>
<day>Sunday</day>
</skipDays>
{items}
</channel>
</rss>
"""


def atom_feed(rows: list[dict]) -> str:
    entries = []
    for i, r in enumerate(rows):
        kind = TYPES[(i + 3) % len(TYPES)]
        version = 3 if kind.startswith("replace") else 1
        cats = "".join(
            f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>'
            for c in r["categories"]
        )
        authors = "".join(f"<author><name>{escape(n)}</name></author>" for n in r["authors"])
        entries.append(
            f"""  <entry>
    <id>oai:arXiv.org:{r["id"]}v{version}</id>
    <title>{escape(r["title"])}</title>
    <updated>2025-05-30T00:00:00-04:00</updated>
    <link href="https://arxiv.org/abs/{r["id"]}" rel="alternate" type="text/html"/>
    <summary>{escape(f"arXiv:{r['id']}v{version} Announce Type: {kind} ")}
{escape("Abstract: " + r["abstract"])}</summary>
    {cats}
    <published>2025-05-30T00:00:00-04:00</published>
    <arxiv:announce_type>{kind}</arxiv:announce_type>
    <rights>http://creativecommons.org/licenses/by/4.0/</rights>
    {authors}
  </entry>"""
        )
    body = "\n".join(entries)
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xml:lang="en-us">
  <id>http://rss.arxiv.org/atom/cs.LG+cs.CL</id>
  <title>cs.LG, cs.CL updates on arXiv.org</title>
  <updated>2025-05-30T04:00:00.000000+00:00</updated>
  <link href="http://rss.arxiv.org/atom/cs.LG+cs.CL" rel="self" type="application/atom+xml"/>
  <subtitle>cs.LG, cs.CL updates on the arXiv.org e-print archive.</subtitle>
{body}
</feed>
"""


def generic_rss(seed: list[dict], rows: list[dict]) -> str:
    items = []
    for i, s in enumerate(seed[:6]):
        items.append(
            f"""<item>
<title>{escape(s["title"])}</title>
<link>https://papers.example.org/item/{i}</link>
<description>{escape("<p>" + s["abstract"] + "</p>")}</description>
<guid>https://papers.example.org/item/{i}</guid>
<category>Machine Learning</category>
<pubDate>Tue, 11 Mar 2025 0{i}:00:00 GMT</pubDate>
<author>editor@example.org (Example Editor)</author>
</item>"""
        )
    r = rows[0]
    items.append(
        f"""<item>
<title>{escape(r["title"])}</title>
<link>https://arxiv.org/abs/{r["id"]}v1</link>
<description>{escape(r["abstract"])}</description>
<guid>{quoteattr(r["id"])[1:-1]}</guid>
<pubDate>Wed, 28 May 2025 12:00:00 GMT</pubDate>
</item>
<item>
<title>A Journal Article Known Only By DOI</title>
<link>https://doi.org/10.5555/Example.2025.42</link>
<description>An abstract with &lt;b&gt;markup&lt;/b&gt; &amp;amp; entities.</description>
<guid>https://doi.org/10.5555/Example.2025.42</guid>
<pubDate>Thu, 29 May 2025 12:00:00 GMT</pubDate>
</item>"""
    )
    body = "\n".join(items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
<channel>
<title>Example trending papers</title>
<link>https://papers.example.org/</link>
<description>Papers people talk about.</description>
<lastBuildDate>Thu, 29 May 2025 12:00:00 GMT</lastBuildDate>
{body}
</channel>
</rss>
"""


def main() -> None:
    rng = random.Random(20250530)
    rows = papers()
    seed = [json.loads(line) for line in SEED.open()]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "daily_papers.json").write_text(
        json.dumps(daily_papers(rows, rng), indent=1, ensure_ascii=False)
    )
    (OUT / "arxiv_api_page1.xml").write_text(api_page(rows[12:17], 0, 8))
    (OUT / "arxiv_api_page2.xml").write_text(api_page(rows[17:20], 5, 8))
    (OUT / "arxiv_rss.xml").write_text(rss_feed(rows[20:30]))
    (OUT / "arxiv_atom.xml").write_text(atom_feed(rows[24:34]))
    (OUT / "arxiv_rss_empty.xml").write_text(rss_channel("", "Sat, 31 May 2025 00:00:00 -0400"))
    (OUT / "generic_rss.xml").write_text(generic_rss(seed, rows))
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[30:40])
    (OUT / "papers.jsonl").write_text(lines)
    with gzip.open(OUT / "papers.jsonl.gz", "wt") as fh:
        fh.write(lines)
    for path in sorted(OUT.iterdir()):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
