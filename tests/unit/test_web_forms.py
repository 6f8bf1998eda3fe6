"""The site's form rules (pure): what a form sends, what it becomes, and the errors."""

from __future__ import annotations

from digest.subscriber_spec import SubscriberSpec
from digest.taxonomy import archive_of, canonical, groups
from digest.web.forms import (
    MAX_FIELD,
    form_values,
    is_bot,
    parse_interest_form,
    split_values,
)
from digest.web.ratelimit import MemoryRateLimiter


def test_a_full_form_becomes_a_spec_and_back() -> None:
    form = {
        "email": [" Ada@Example.org "],
        "name": ["Augusta Ada King"],
        "greeting_name": ["  Ada "],
        "topics": ["graph neural networks\r\n\r\n  diffusion models  \n"],
        "require": ["proof, lemma"],
        "exclude": ["medical\nbiology;chemistry"],
        "authors": ["Yoshua Bengio\nGeoffrey Hinton"],
        "categories": ["cs.lg", "math.LO", "cs.LG"],
        "frequency": ["weekly"],
        "weekday": ["fri"],
        "delivery_hour": ["18"],
        "timezone": ["Europe/Berlin"],
    }
    result = parse_interest_form(form, email_field=True)
    assert result.ok, result.errors
    spec = result.spec
    assert spec is not None
    assert spec.email == "Ada@example.org"
    assert spec.topics == ("graph neural networks", "diffusion models")
    assert spec.require == ("proof", "lemma")
    assert spec.exclude == ("medical", "biology", "chemistry")
    assert spec.categories == ("cs.LG", "math.LO")
    assert (spec.frequency, spec.weekday, spec.delivery_hour) == ("weekly", 4, 18)
    assert (spec.name, spec.greeting_name) == ("Augusta Ada King", "Ada")
    shown = form_values(spec)
    again = parse_interest_form(
        {k: v if isinstance(v, list) else [v] for k, v in shown.items()}, email_field=True
    )
    assert again.spec == spec


def test_each_bad_field_gets_its_own_message() -> None:
    result = parse_interest_form(
        {
            "email": ["nope"],
            "topics": ["x" * (MAX_FIELD + 1)],
            "categories": ["cs.XX"],
            "timezone": ["Atlantis/Capital"],
            "delivery_hour": ["-1"],
            "frequency": ["monthly"],
            "greeting_name": ["x" * 61],
        },
        email_field=True,
    )
    assert not result.ok
    assert set(result.errors) == {
        "email",
        "topics",
        "categories",
        "timezone",
        "delivery_hour",
        "frequency",
        "greeting_name",
    }
    assert result.errors["greeting_name"] == "Greeting name must be at most 60 characters, got 61."
    assert len(str(result.values["topics"])) == MAX_FIELD  # shown again, but bounded


def test_the_preferences_form_keeps_liked_papers_and_the_subscribe_form_ignores_them() -> None:
    form = {"liked": ["2505.12345, 2505.99999\n2401.00001"], "disliked": ["bad id!"]}
    prefs = parse_interest_form(form, email_field=False)
    assert "disliked" in prefs.errors
    ok = parse_interest_form({"liked": form["liked"]}, email_field=False)
    assert ok.spec is not None and ok.spec.liked == ("2505.12345", "2505.99999", "2401.00001")
    sub = parse_interest_form({**form, "email": ["a@b.org"]}, email_field=True)
    assert sub.spec is not None and sub.spec.liked == () and sub.spec.disliked == ()


def test_honeypot_and_splitting() -> None:
    assert is_bot({"website": ["http://x"]}) and not is_bot({"website": ["  "]}) and not is_bot({})
    assert split_values("a, b;c\n d", "lines_or_commas") == ["a", "b", "c", "d"]
    assert split_values("a, b;c\n d", "lines") == ["a, b;c", "d"]
    assert split_values("2505.1 2505.2,2505.3", "words") == ["2505.1", "2505.2", "2505.3"]
    assert form_values(SubscriberSpec(email=""))["frequency"] == "daily"


def test_taxonomy() -> None:
    assert canonical("CS.lg") == "cs.LG" and canonical("cs.nope") is None
    assert canonical("hep-th") == "hep-th"
    assert archive_of("hep-th") == "hep" and archive_of("math-ph") == "math"
    assert archive_of("q-bio.NC") == "q-bio"
    names = [g.name for g in groups()]
    assert names[0] == "Astrophysics" and "Computer Science" in names
    assert sum(len(g.categories) for g in groups()) == 155


def test_memory_rate_limiter_counts_per_key_and_window() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    assert [limiter.hit("a", 2, 60) for _ in range(3)] == [True, True, False]
    assert limiter.hit("b", 2, 60)
    now[0] += 60
    assert limiter.hit("a", 2, 60)
