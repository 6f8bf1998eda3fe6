"""What an admin or an import file says about a subscriber, validated. Pure.

Every entry point (CLI options, CSV/JSONL import, later the web form) builds a
``SubscriberSpec`` through :func:`validate_spec`, so the same rules apply everywhere:
addresses checked by email-validator (syntax only, no DNS), no control characters (CR/LF
would allow header injection), known time zones, hours 0-23, bounded lengths.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import TypedDict, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from digest.domain import FREQUENCIES, SUBSCRIBER_STATUSES
from digest.errors import InputError

LIST_FIELDS = ("topics", "require", "exclude", "authors", "categories", "liked", "disliked")
INTEREST_KIND = {
    "topics": "topic",
    "require": "require",
    "exclude": "exclude",
    "authors": "author",
    "categories": "category",
    "liked": "liked",
    "disliked": "disliked",
}


class InterestLists(TypedDict):
    """A subscriber's interests as the list fields of ``SubscriberSpec`` and ``Profile``
    (the same names), to pass to either as ``**lists``."""

    topics: tuple[str, ...]
    require: tuple[str, ...]
    exclude: tuple[str, ...]
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    liked: tuple[str, ...]
    disliked: tuple[str, ...]


CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
CATEGORY = re.compile(r"^[a-z][a-z\-]*(\.[A-Za-z\-]+)?$")
PAPER_ID = re.compile(r"^[\w./:\-]{3,200}$")
MAX_NAME = 200
MAX_GREETING = 60
MAX_VALUE = 1000
MAX_ITEMS = 100


@dataclass(frozen=True, slots=True)
class SubscriberSpec:
    email: str
    name: str | None = None
    greeting_name: str | None = None  # what the greeting calls them; None: from ``name``
    status: str = "active"
    timezone: str = "UTC"
    frequency: str = "daily"
    delivery_hour: int = 7
    weekday: int = 0  # weekly readers' day: 0 = Monday ... 6 = Sunday
    topics: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def interests(self) -> list[tuple[str, str]]:
        """(kind, value) pairs as stored in the interests table."""
        return [(INTEREST_KIND[f], v) for f in LIST_FIELDS for v in getattr(self, f)]


SPEC_FIELDS = tuple(f.name for f in fields(SubscriberSpec) if f.name != "extra")


def normalize_email(address: str) -> str:
    address = (address or "").strip()
    if CONTROL.search(address):
        raise InputError(
            f"invalid email address {address!r}: contains a line break or control character"
        )
    # lazy: read-only commands (`subscribers list`) never validate, and it costs ~15 ms
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InputError(f"invalid email address {address!r}: {exc}") from None


def email_key(address: str) -> str:
    """The case-insensitive identity of an address (unique in the database)."""
    return address.casefold()


def clean_text(label: str, value: str, limit: int) -> str:
    if CONTROL.search(value):
        raise InputError(f"{label} must not contain line breaks or control characters: {value!r}")
    value = " ".join(value.split())
    if len(value) > limit:
        raise InputError(f"{label} is longer than {limit} characters")
    return value


def check_greeting_name(value: object) -> str | None:
    """What the greeting calls the reader ("Ada"): one line of at most 60 characters, no
    control characters, spaces collapsed; empty (or None) means "derive it from the name"."""
    if value is not None and not isinstance(value, str):
        raise InputError(f"greeting name must be text, got {value!r}")
    text = value or ""
    if CONTROL.search(text):
        raise InputError(f"greeting name must be one line without control characters, got {text!r}")
    text = " ".join(text.split())
    if len(text) > MAX_GREETING:
        raise InputError(
            f"greeting name must be at most {MAX_GREETING} characters, got {len(text)}"
        )
    return text or None


def check_timezone(name: str) -> str:
    name = (name or "").strip()
    if not name or name.startswith("/") or ".." in name:
        raise InputError(f"unknown timezone {name!r} (use an IANA name such as Europe/Berlin)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = ""
        lowered = {z.lower(): z for z in available_timezones()}
        if name.lower() in lowered:
            hint = f"; did you mean {lowered[name.lower()]}?"
        raise InputError(
            f"unknown timezone {name!r} (use an IANA name such as Europe/Berlin){hint}"
        ) from None
    return name


def check_hour(value: object) -> int:
    try:
        hour = int(str(value).strip())
    except ValueError:
        raise InputError(f"delivery hour must be a whole number 0-23, got {value!r}") from None
    if not 0 <= hour <= 23:
        raise InputError(f"delivery hour must be between 0 and 23, got {hour}")
    return hour


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def check_weekday(value: object) -> int:
    """0-6, or a day's name in English (``fri``, ``Friday``): the weekly reader's day."""
    text = str(value).strip().lower()
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    for number, name in enumerate(WEEKDAYS):
        if len(text) >= 3 and name.startswith(text):
            return number
    raise InputError(f"weekday must be a day's name (monday ... sunday) or 0-6, got {value!r}")


def check_choice(label: str, value: str, choices: Iterable[str]) -> str:
    value = (value or "").strip().lower()
    allowed = tuple(choices)
    if value not in allowed:
        raise InputError(f"{label} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def clean_list(label: str, values: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    seen: set[str] = set()
    for raw in values:
        value = clean_text(label, str(raw), MAX_VALUE)
        if not value:
            continue
        if label == "category" and not CATEGORY.match(value):
            raise InputError(
                f"category {value!r} does not look like an arXiv category (e.g. cs.LG)"
            )
        if label in ("liked paper", "disliked paper") and not PAPER_ID.match(value):
            raise InputError(f"{label} {value!r} is not a paper id (e.g. 2501.01234)")
        key = value.casefold()
        if key not in seen:
            seen.add(key)
            out.append(value)
    if len(out) > MAX_ITEMS:
        raise InputError(f"at most {MAX_ITEMS} values for {label}, got {len(out)}")
    return tuple(out)


LIST_LABEL = {
    "topics": "topic",
    "require": "required keyword",
    "exclude": "excluded keyword",
    "authors": "author",
    "categories": "category",
    "liked": "liked paper",
    "disliked": "disliked paper",
}


def validate_spec(data: Mapping[str, object]) -> SubscriberSpec:
    """Check and normalize one subscriber's fields; raise InputError naming the first problem."""
    unknown = set(data) - set(SPEC_FIELDS) - {"hour"}
    if unknown:
        raise InputError(f"unknown field(s): {', '.join(sorted(unknown))}")
    email = normalize_email(str(data.get("email") or ""))
    raw_name = data.get("name")
    name = clean_text("name", str(raw_name), MAX_NAME) if raw_name not in (None, "") else ""
    hour = data.get("delivery_hour", data.get("hour"))
    lists: dict[str, tuple[str, ...]] = {}
    for f in LIST_FIELDS:
        value = data.get(f) or ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            raise InputError(f"{f} must be a list of strings")
        lists[f] = clean_list(LIST_LABEL[f], value)
    return SubscriberSpec(
        email=email,
        name=name or None,
        greeting_name=check_greeting_name(data.get("greeting_name")),
        status=check_choice("status", str(data.get("status") or "active"), SUBSCRIBER_STATUSES),
        timezone=check_timezone(str(data.get("timezone") or "UTC")),
        frequency=check_choice("frequency", str(data.get("frequency") or "daily"), FREQUENCIES),
        delivery_hour=check_hour(7 if hour in (None, "") else hour),
        weekday=check_weekday(data.get("weekday") if data.get("weekday") not in (None, "") else 0),
        **cast(InterestLists, lists),  # every field of LIST_FIELDS, filled above
    )


_FIELD_OF = {kind: f for f, kind in INTEREST_KIND.items()}  # interests.kind -> spec field


def interest_lists(pairs: Iterable[tuple[str, str]]) -> InterestLists:
    """(kind, value) interest rows, in their stored order, as the spec's list fields
    (every field present): one grouping for the ORM rows and the column reads alike."""
    lists: dict[str, list[str]] = {f: [] for f in LIST_FIELDS}
    for kind, value in pairs:
        lists[_FIELD_OF[kind]].append(value)
    return cast(InterestLists, {f: tuple(values) for f, values in lists.items()})
