"""Property tests: any text from a feed or a subscriber gives a well-formed message, and the
fast builder parses back exactly like the email package's build."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mailcheck import (
    assert_structure,
    assert_wire_format,
    body,
    comparable,
    make_renderer,
    parse,
    render_digest,
)

from digest.domain import Paper, Pick, SubscriberInfo
from digest.render.headers import clean

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),  # any code point but surrogates
    max_size=120,
)
RENDERER = make_renderer()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=TEXT, title=TEXT, abstract=TEXT, author=TEXT, why=TEXT, section=TEXT)
def test_any_text_gives_a_well_formed_message(
    name: str, title: str, abstract: str, author: str, why: str, section: str
) -> None:
    paper = Paper(id="2501.00001", title=title, abstract=abstract, authors=(author,))
    papers = {paper.id: paper}
    picks = [Pick(paper.id, 1.0, why, section)]
    sub = SubscriberInfo(1, "reader@example.org", name)
    fast = render_digest(sub, papers, picks, renderer=RENDERER)
    slow = render_digest(sub, papers, picks, renderer=RENDERER, reference_build=True)

    assert_wire_format(fast.data)
    msg = parse(fast.data)
    assert_structure(msg)
    assert [k.lower() for k in msg].count("to") == 1
    assert msg["To"].addresses[0].addr_spec == "reader@example.org"
    assert msg["To"].addresses[0].display_name.replace(" ", "") == clean(name)[:100].replace(
        " ", ""
    )
    text = body(msg, "plain")
    assert clean(title) in " ".join(text.split())
    assert body(msg, "html") == fast.html

    # Same headers and parts as the EmailMessage build, except To: the email package
    # splits long non-ASCII names inside a character and leaves "=?...?=" unencoded.
    fast_view, slow_view = comparable(msg), comparable(parse(slow.data))
    fast_view["headers"] = [h for h in fast_view["headers"] if h[0] != "to"]
    slow_view["headers"] = [h for h in slow_view["headers"] if h[0] != "to"]
    assert fast_view == slow_view
