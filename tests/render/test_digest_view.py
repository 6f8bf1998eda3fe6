"""digest_view: the pure shape of a digest (sections, numbering, cards, wording)."""

from __future__ import annotations

from datetime import date

from digest.domain import Paper, Pick, SubscriberInfo
from digest.links import LinkSigner
from digest.render import EditionInfo, digest_view
from digest.render.view import authors_line, card_for, greet_as, greeting_name

EDITION = EditionInfo("daily:2025-05-30", date(2025, 5, 30))
SIGNER = LinkSigner("test-secret-key-0123456789", "https://digest.example.org")


def _paper(i: int, **kw: object) -> Paper:
    return Paper(id=f"2505.{i:05d}", title=f"Paper {i}", abstract="A. B.", **kw)  # type: ignore[arg-type]


def _view(picks: list[Pick], papers: dict[str, Paper], **kw: object) -> dict[str, object]:
    sub = SubscriberInfo(5, "r@example.org", "  Ada \r\n Lovelace ")
    links = SIGNER.for_recipient(5, EDITION.key)
    return digest_view(sub, EDITION, picks, papers, links, SIGNER.feedback_links(5), **kw)  # type: ignore[arg-type]


def test_sections_in_order_of_first_pick_and_numbers_in_reading_order() -> None:
    papers = {p.id: p for p in (_paper(i) for i in range(5))}
    picks = [
        Pick("2505.00000", 0.9, "a", "LLMs"),
        Pick("2505.00001", 0.8, "b", "Speech"),
        Pick("2505.00002", 0.7, "c", "LLMs"),
        Pick("2505.00003", 0.6, "d", ""),
        Pick("2505.99999", 0.5, "missing paper is skipped", "LLMs"),
    ]
    view = _view(picks, papers)
    sections = view["sections"]
    assert [s.title for s in sections] == ["LLMs", "Speech", "Picked for you"]
    numbers = [(i.number, i.card.paper_id) for s in sections for i in s.items]
    assert numbers == [(1, "2505.00000"), (2, "2505.00002"), (3, "2505.00001"), (4, "2505.00003")]
    assert view["paper_count"] == 4
    assert view["intro"] == "Hi Ada, here are 4 new papers picked for your interests."
    assert view["preheader"] == "Also: Paper 2 · Paper 1 · Paper 3"  # the subject names Paper 0
    assert view["topics"] == ("LLMs", "Speech")  # "Picked for you" names no interest


def test_feedback_links_are_signed_per_reader_and_paper() -> None:
    papers = {"2505.00000": _paper(0)}
    item = _view([Pick("2505.00000", 1, "x")], papers)["sections"][0].items[0]
    up, down = item.feedback_up, item.feedback_down
    assert up.endswith("/up") and down.endswith("/down")
    token = up.removeprefix("https://digest.example.org/f/").removesuffix("/up")
    assert SIGNER.verify("feedback", token) == [5, "2505.00000"]
    assert down.rsplit("/", 2)[1] == token


def test_cards_are_shared_across_readers() -> None:
    papers = {"2505.00000": _paper(0, upvotes=12, github_stars=340)}
    cards: dict = {}
    first = _view([Pick("2505.00000", 1, "x")], papers, cards=cards)
    second = _view([Pick("2505.00000", 1, "y")], papers, cards=cards)
    card = first["sections"][0].items[0].card
    assert second["sections"][0].items[0].card is card
    assert (card.upvotes, card.stars) == (12, "")  # stars only beside a code link


def test_cold_start_says_what_it_shows() -> None:
    papers = {"2505.00000": _paper(0), "2505.00001": _paper(1, upvotes=7)}
    newest = _view([Pick("2505.00000", 1, "new today", "Trending today")], papers, cold_start=True)
    assert " ".join(newest["intro"].split()) == (
        "Hi Ada, you have not told us what you read yet, so here is the newest paper."
    )
    assert [s.title for s in newest["sections"]] == ["Newest papers"]
    picks = [Pick("2505.00001", 1, "trending: 7 upvotes", "Trending today")]
    picks.append(Pick("2505.00000", 0.5, "new today", "Trending today"))
    trending = _view(picks, papers, cold_start=True)
    assert [s.title for s in trending["sections"]] == ["Trending on Hugging Face today"]
    intro = " ".join(trending["intro"].split())
    assert intro.endswith("here are the 2 most upvoted new papers on Hugging Face today.")


def test_greeting_by_first_name_or_none_and_a_capital_first() -> None:
    assert greeting_name("  Ada \r\n Lovelace ") == "Ada"
    assert greeting_name("Lovelace, Ada") == "Ada"
    assert greeting_name("Dr. Grace Hopper") == "Grace"
    assert greeting_name('"Zoë" Ångström') == "Zoë"
    assert greeting_name("山田 太郎") == "山田"
    assert greeting_name("") == greeting_name(None) == greeting_name(" , ") == ""
    papers = {"2505.00000": _paper(0)}
    sub = SubscriberInfo(5, "r@example.org", None)
    links = SIGNER.for_recipient(5, EDITION.key)
    for cold in (False, True):
        view = digest_view(
            sub, EDITION, [Pick("2505.00000", 1, "x")], papers, links,
            SIGNER.feedback_links(5), cold_start=cold,
        )  # fmt: skip
        assert view["intro"][0].isupper() and "Hi" not in view["intro"]
        assert view["sections"][0].items[0].why == "X"


def test_greeting_name_when_set_else_derived_else_none() -> None:
    assert greet_as("  Ada\r\n ", "Augusta Ada King") == "Ada"
    assert greet_as(None, "Dr. Grace Hopper") == greet_as("", "Dr. Grace Hopper") == "Grace"
    assert greet_as(None, None) == greet_as(" ", "") == ""
    papers = {"2505.00000": _paper(0)}
    links = SIGNER.for_recipient(5, EDITION.key)
    for name, chosen, hi in (("Augusta Ada King", "Ada", "Hi Ada,"), ("Ada L", None, "Hi Ada,")):
        sub = SubscriberInfo(5, "r@example.org", name, greeting_name=chosen)
        view = digest_view(
            sub, EDITION, [Pick("2505.00000", 1, "x")], papers, links, SIGNER.feedback_links(5)
        )
        assert view["intro"].startswith(hi)
        assert view["recipient"]["name"] == name  # the To: header keeps the full name


def test_site_name_and_edition_label() -> None:
    papers = {"2505.00000": _paper(0)}
    view = _view([Pick("2505.00000", 1, "x")], papers, brand="Paper Radar")
    assert view["brand"] == "Paper Radar"
    assert EditionInfo("daily:2026-12-01", date(2026, 12, 1)).label == "Tuesday, 1 December 2026"


def test_card_links_each_only_when_known() -> None:
    bare = card_for(Paper("2505.00001", "T", "We propose X. It works."))
    assert (bare.abs_label, bare.abs_url, bare.pdf_url) == (
        "arXiv",
        "https://arxiv.org/abs/2505.00001",
        "https://arxiv.org/pdf/2505.00001",
    )
    assert (bare.hf_url, bare.code_url, bare.project_url, bare.stars) == ("", "", "", "")
    assert bare.url == bare.abs_url and bare.tldr == "We propose X. It works."
    hf = card_for(
        Paper(
            "2505.00002",
            "T",
            "Background. We propose Y.",
            links={
                "hf": "https://huggingface.co/papers/2505.00002",
                "github": "https://github.com/o/y",
                "project": "https://o.github.io/y",
                "bad": "javascript:alert(1)",
            },
            github_stars=1234,
            upvotes=56,
            ai_summary="Y makes models reason in fewer steps.",
        )
    )
    assert hf.url == hf.hf_url == "https://huggingface.co/papers/2505.00002"
    assert (hf.code_url, hf.code_label, hf.stars) == ("https://github.com/o/y", "GitHub", "1.2k")
    assert hf.project_url == "https://o.github.io/y" and hf.upvotes == 56
    assert hf.tldr == "Y makes models reason in fewer steps."
    from_text = card_for(
        Paper(
            "doi:10.1/x",
            "T",
            "We present Z. Our code is available at https://gitlab.com/grp/z.",
            comment="12 pages. Project page: https://z.example.org/.",
        )
    )
    assert (from_text.code_url, from_text.code_label) == ("https://gitlab.com/grp/z", "GitLab")
    assert from_text.project_url == "https://z.example.org/"
    assert from_text.abs_label == "Abstract" and from_text.pdf_url == ""


def test_authors_truncated_with_et_al() -> None:
    assert authors_line(["A", "B", "C", "D"]) == "A, B, C et al."
    assert authors_line(["A", "B"]) == "A and B"
    assert authors_line([]) == ""
