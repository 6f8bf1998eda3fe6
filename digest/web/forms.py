"""The subscribe and preferences forms: submitted fields in, a validated spec or per-field
errors out. Pure (no request, no database), so every rule is unit-tested.

The same rules as the CLI apply (``digest.subscriber_spec``); the web adds what a public
form needs: per-field messages, a length cap on every field before anything is parsed, and
categories checked against arXiv's taxonomy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from digest import taxonomy
from digest.errors import InputError
from digest.subscriber_spec import (
    LIST_LABEL,
    SubscriberSpec,
    check_greeting_name,
    check_hour,
    check_timezone,
    check_weekday,
    clean_list,
    clean_text,
    normalize_email,
)

MAX_FIELD = 10_000  # characters in any one field: 100 KB of topics is an error, not work
MAX_TOPICS = 20
HONEYPOT = "website"  # a field people never see and bots fill in

# textarea fields: how their values are separated
LIST_FIELDS = {
    "topics": "lines",
    "require": "lines_or_commas",
    "exclude": "lines_or_commas",
    "authors": "lines",
    "liked": "words",
    "disliked": "words",
}
FIELD_LABELS = {
    "email": "Email address",
    "name": "Name",
    "greeting_name": "What should we call you?",
    "topics": "Topics",
    "require": "Required keywords",
    "exclude": "Excluded keywords",
    "authors": "Authors",
    "categories": "Categories",
    "liked": "Liked papers",
    "disliked": "Disliked papers",
    "frequency": "Frequency",
    "weekday": "Day of the week",
    "delivery_hour": "Delivery hour",
    "timezone": "Time zone",
}

Form = Mapping[str, Sequence[str]]  # a field's submitted values, in order


@dataclass
class FormResult:
    spec: SubscriberSpec | None
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, object] = field(default_factory=dict)  # to show the form again

    @property
    def ok(self) -> bool:
        return self.spec is not None


def split_values(text: str, how: str) -> list[str]:
    if how == "lines":
        parts = text.splitlines()
    elif how == "lines_or_commas":
        parts = re.split(r"[\r\n,;]+", text)
    else:  # paper ids: any whitespace or commas
        parts = re.split(r"[\s,;]+", text)
    return [p.strip() for p in parts if p.strip()]


def _first(form: Form, name: str) -> str:
    values = form.get(name) or ()
    return str(values[0]) if values else ""


def is_bot(form: Form) -> bool:
    """The honeypot field was filled in: a bot, answered like anyone but ignored."""
    return bool(_first(form, HONEYPOT).strip())


def parse_interest_form(form: Form, *, email_field: bool) -> FormResult:
    """Validate a subscribe (``email_field=True``) or preferences form. The subscribe form
    has no liked/disliked papers; if a request sends them anyway, they are ignored."""
    errors: dict[str, str] = {}
    values: dict[str, object] = {}

    def text_of(name: str) -> str:
        raw = _first(form, name)
        values[name] = raw[:MAX_FIELD]
        if len(raw) > MAX_FIELD:
            errors[name] = f"{FIELD_LABELS[name]}: at most {MAX_FIELD:,} characters, please."
            return ""
        return raw

    email = ""
    if email_field:
        raw_email = text_of("email").strip()
        if "email" not in errors:
            if not raw_email:
                errors["email"] = "Please enter your email address."
            else:
                try:
                    email = normalize_email(raw_email)
                except InputError:
                    errors["email"] = (
                        "This does not look like an email address (for example ada@example.org)."
                    )

    name = ""
    raw_name = text_of("name")
    if "name" not in errors and raw_name.strip():
        try:
            name = clean_text("name", raw_name, 200)
        except InputError as exc:
            errors["name"] = _sentence(exc)

    greeting: str | None = None
    raw_greeting = text_of("greeting_name")
    if "greeting_name" not in errors:
        try:
            greeting = check_greeting_name(raw_greeting)
        except InputError as exc:
            errors["greeting_name"] = _sentence(exc)

    lists: dict[str, tuple[str, ...]] = {}
    for key, how in LIST_FIELDS.items():
        if email_field and key in ("liked", "disliked"):
            lists[key] = ()
            continue
        raw = text_of(key)
        if key in errors:
            continue
        try:
            lists[key] = clean_list(LIST_LABEL[key], split_values(raw, how))
        except InputError as exc:
            errors[key] = _sentence(exc)
    if "topics" in lists and len(lists["topics"]) > MAX_TOPICS:
        errors["topics"] = f"At most {MAX_TOPICS} topics, one per line."

    chosen = [str(c) for c in form.get("categories") or ()][:200]
    values["categories"] = chosen
    categories: list[str] = []
    unknown: list[str] = []
    for code in chosen:
        known = taxonomy.canonical(code)
        if known is None:
            unknown.append(code[:40])
        elif known not in categories:
            categories.append(known)
    if unknown:
        errors["categories"] = "Unknown arXiv categories: " + ", ".join(unknown[:5]) + "."

    frequency = text_of("frequency").strip().lower() or "daily"
    if frequency not in ("daily", "weekly"):
        errors["frequency"] = "Choose daily or weekly."
    weekday = 0
    try:
        weekday = check_weekday(text_of("weekday") or "0")
    except InputError:
        errors["weekday"] = "Choose a day of the week."
    hour = 7
    try:
        hour = check_hour(text_of("delivery_hour") or "7")
    except InputError:
        errors["delivery_hour"] = "Choose an hour between 0 and 23."
    timezone = "UTC"
    raw_zone = text_of("timezone").strip()
    if "timezone" not in errors:
        try:
            timezone = check_timezone(raw_zone or "UTC")
        except InputError as exc:
            errors["timezone"] = _sentence(exc)

    if errors:
        return FormResult(None, errors, values)
    spec = SubscriberSpec(
        email=email or "form@invalid",  # the preferences form keeps the stored address
        name=name or None,
        greeting_name=greeting,
        timezone=timezone,
        frequency=frequency,
        delivery_hour=hour,
        weekday=weekday,
        topics=lists["topics"],
        require=lists["require"],
        exclude=lists["exclude"],
        authors=lists["authors"],
        categories=tuple(categories),
        liked=lists["liked"],
        disliked=lists["disliked"],
    )
    return FormResult(spec, {}, values)


def form_values(spec: SubscriberSpec) -> dict[str, object]:
    """A stored spec as the form shows it (the inverse of :func:`parse_interest_form`)."""
    return {
        "email": spec.email,
        "name": spec.name or "",
        "greeting_name": spec.greeting_name or "",
        "topics": "\n".join(spec.topics),
        "require": "\n".join(spec.require),
        "exclude": "\n".join(spec.exclude),
        "authors": "\n".join(spec.authors),
        "liked": "\n".join(spec.liked),
        "disliked": "\n".join(spec.disliked),
        "categories": list(spec.categories),
        "frequency": spec.frequency,
        "weekday": str(spec.weekday),
        "delivery_hour": str(spec.delivery_hour),
        "timezone": spec.timezone,
    }


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
