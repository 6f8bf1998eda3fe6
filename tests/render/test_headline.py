"""Subjects and preheaders: the first title quoted, the rest named, 70 characters at most."""

from __future__ import annotations

import re

import pytest
from mailcheck import parse, picks_for, render_digest, sample_papers

from digest.domain import Paper, Pick, SubscriberInfo
from digest.rank import ranker
from digest.render.headline import FSI, PDI, SUBJECT_LIMIT, headline, preheader
from digest.render.layout import columns, shorten
from digest.render.view import DEFAULT_SECTION, NOT_TOPICS

LONG = (
    "DeepTheorem: Advancing LLM Reasoning for Theorem Proving Through Natural Language "
    "and Reinforcement Learning"
)
CJK = (
    "大型语言模型的推理能力研究：一种基于强化学习的新方法"
    "以及它在数学定理证明中的应用与评估结果的系统分析报告"
)
HEBREW = "מודלים גדולים של שפה לומדים לחשוב באמצעות למידת חיזוק מבוססת תגמול ומשוב אנושי מפורט"
ARABIC = "نماذج اللغة الكبيرة تتعلم الاستدلال الرياضي عبر التعلم المعزز مع مكافآت قابلة للتحقق"
DATE = re.compile(r"\b(19|20)\d\d\b|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday")


def _reader(i: int = 1) -> SubscriberInfo:
    return SubscriberInfo(i, f"r{i}@example.org", "Ada Lovelace")


def _paper(pid: str, title: str) -> Paper:
    return Paper(pid, title, "We propose a method. It works.", ("A. Author",), ("cs.CL",))


def _subject(titles: list[str], sections: list[str] | None = None, **kw: object) -> str:
    papers = {f"2501.{i:05d}": _paper(f"2501.{i:05d}", t) for i, t in enumerate(titles)}
    sections = sections or ["reasoning in LLMs"] * len(titles)
    picks = [Pick(pid, 1.0, "why", s) for pid, s in zip(papers, sections, strict=True)]
    return render_digest(_reader(), papers, picks, **kw).subject  # type: ignore[arg-type]


def test_the_issue_example() -> None:
    subject = _subject([LONG] + [f"Paper {i}" for i in range(6)])
    assert subject == "“DeepTheorem: Advancing LLM Reasoning…” + 6 more on reasoning in LLMs"
    assert len(subject) <= SUBJECT_LIMIT


@pytest.mark.parametrize("title", [LONG, CJK, HEBREW, ARABIC, "x" * 200, "Short", LONG * 3])
@pytest.mark.parametrize("count", [1, 2, 7, 100])
def test_at_most_70_characters_cut_at_a_word_with_an_ellipsis(title: str, count: int) -> None:
    sections = [["reasoning in large language models", "speech"][i % 2] for i in range(count)]
    subject = _subject([title] + [f"Paper {i}" for i in range(count - 1)], sections)
    assert len(subject) <= SUBJECT_LIMIT, subject
    assert not DATE.search(subject)
    quoted = subject[1 : subject.index("”")].strip(FSI + PDI)
    if quoted != title:
        assert quoted.endswith("…")
        kept = quoted[:-1]
        assert title.startswith(kept)
        if " " in title[: len(kept) + 1]:  # a title with spaces is cut between words
            assert title[len(kept)] == " ", subject
    if count == 1:
        assert subject.endswith("”")  # one paper: its title alone
    else:
        assert f" + {count - 1} more" in subject


def test_right_to_left_titles_are_isolated_so_the_ending_keeps_its_place() -> None:
    for title in (HEBREW, ARABIC):
        subject = _subject([title, "Paper 1"])
        assert subject.startswith(f"“{FSI}") and f"{PDI}” + 1 more on reasoning in LLMs" in subject
    assert FSI not in _subject([LONG, "Paper 1"])


def test_the_ending_gives_way_to_the_title() -> None:
    long_topics = ["reasoning in large language models", "automatic speech recognition"]
    two = _subject([LONG, "B", "C"], [long_topics[0], long_topics[1], long_topics[0]])
    assert two.endswith("” + 2 more")  # the topics would leave the title < 24 characters
    short = _subject([LONG, "B", "C"], ["LLMs", "speech", "LLMs"])
    assert short.endswith("” + 2 more on LLMs and speech")
    many = _subject(["Title", "B", "C", "D"], ["LLMs", "speech", "vision", "LLMs"])
    assert many == "“Title” + 3 more on LLMs and more"
    ranked = _subject(["Title", "B"], [DEFAULT_SECTION, "Authors you follow"])
    assert ranked == "“Title” + 1 more picked for you"


def test_subjects_differ_per_reader_and_name_their_top_paper() -> None:
    papers = sample_papers()
    subjects, tops = set(), set()
    for seed in range(8):
        picks = picks_for(papers, seed=seed)
        email = render_digest(_reader(seed + 1), papers, picks)
        top = papers[picks[0].paper_id].title
        assert email.subject.startswith("“" + top[:10])
        assert str(parse(email.data)["Subject"]) == email.subject
        subjects.add(email.subject)
        tops.add(top)
    assert len(subjects) == len(tops) > 4


def test_cold_start_subject_is_truthful() -> None:
    papers = sample_papers()
    cold = render_digest(_reader(), papers, cold_start=True)
    assert cold.subject.endswith("” + 9 more new papers")
    hot = {pid: Paper(p.id, p.title, p.abstract, upvotes=5) for pid, p in papers.items()}
    trending = render_digest(_reader(), hot, picks_for(hot), cold_start=True)
    assert trending.subject.endswith(" + 9 more trending on Hugging Face")


def test_preheader_lists_the_next_titles() -> None:
    papers = sample_papers()
    picks = picks_for(papers)
    email = render_digest(_reader(), papers, picks)
    hidden = email.html.split('class="preheader"', 1)[1].split(">", 1)[1].split("</div>")[0]
    # The sections group the picks: reading order is the first section's picks first.
    order = sorted(picks, key=lambda p: p.section != picks[0].section)
    second, third = (papers[p.paper_id].title for p in order[1:3])
    assert hidden.strip().startswith(f"Also: {second} · {third[:20]}")
    assert papers[order[0].paper_id].title not in hidden
    assert "new papers" not in hidden
    one = render_digest(_reader(), papers, picks[:1])
    assert "Also:" not in one.html  # one paper: the start of what it says instead


def test_pure_helpers() -> None:
    assert headline("Short") == "“Short”"
    assert headline("A title", " + 1 more on x") == "“A title” + 1 more on x"
    assert preheader(()) == ""
    assert preheader(("A", "B")) == "Also: A · B"
    assert len(preheader(tuple([LONG] * 5))) <= 140
    assert shorten("one two three", 9) == "one two…"
    assert shorten("onetwothree", 6) == "onetw…"
    assert shorten("👩🏽‍🔬👩🏽‍🔬", 7, by_columns=False) == "👩🏽‍🔬…"  # never inside a joined emoji
    assert columns("中文ab") == 6 and columns("e\u0301") == 1


def test_ranker_sections_that_name_no_interest_are_known() -> None:
    for name in (
        ranker.AUTHOR_SECTION,
        ranker.TRENDING_SECTION,
        ranker.LIKED_SECTION,
        ranker.LEARNED_SECTION,
    ):
        assert name in NOT_TOPICS
