"""What the operator sees, pure: grouping failures by SMTP reply, rates, freshness.

`digest stats`, `digest editions` and `digest doctor` read plain rows from
``digest.db.stats`` and hand them to these functions; nothing here touches the database,
the network or the clock (``now`` is passed in).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from digest.db.models import DELIVERY_STATUSES

# "550 5.1.1", "421-4.7.0", "550", with or without an enhanced status code (RFC 3463)
_REPLY = re.compile(r"(?<![\d.])([245]\d\d)(?:[ -]+([245]\.\d{1,3}\.\d{1,3}))?(?![\d.])")
_NOISE = re.compile(r"<[^>]*>|\S+@\S+|\w+://\S+|\d+")


def reply_group(error: str | None) -> str:
    """The group of a failure's text: its SMTP reply code (and enhanced status code) when
    it has one, else its first six words, addresses, URLs and numbers replaced by ``…``.

    ``"server replied 550 5.1.1 <a@x.org>: user unknown"`` -> ``"550 5.1.1"``;
    ``"connection to smtp://relay:25 lost: timed out"`` -> ``"connection to … lost: timed out"``.
    """
    text = (error or "").strip()
    if not text:
        return "(no error recorded)"
    match = _REPLY.search(text)
    if match:
        code, enhanced = match.groups()
        return f"{code} {enhanced}" if enhanced else code
    words = _NOISE.sub(" … ", text).split()
    words = [w for i, w in enumerate(words) if w != "…" or i == 0 or words[i - 1] != "…"]
    return " ".join(words[:6])


@dataclass(frozen=True, slots=True)
class FailureGroup:
    reply: str  # what reply_group gave
    count: int
    statuses: dict[str, int]  # the ledger states of its rows (failed, retry, ...)
    example: str  # one full error text of the group

    def to_json(self) -> dict[str, object]:
        return {
            "reply": self.reply,
            "count": self.count,
            "statuses": self.statuses,
            "example": self.example,
        }


def group_failures(rows: Iterable[tuple[str, str | None]]) -> list[FailureGroup]:
    """``(status, error)`` rows grouped by :func:`reply_group`, the largest group first."""
    counts: Counter[str] = Counter()
    statuses: dict[str, Counter[str]] = {}
    examples: dict[str, str] = {}
    for status, error in rows:
        group = reply_group(error)
        counts[group] += 1
        statuses.setdefault(group, Counter())[status] += 1
        examples.setdefault(group, (error or "").strip()[:300])
    return [
        FailureGroup(group, count, dict(sorted(statuses[group].items())), examples[group])
        for group, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def state_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Every ledger state in its usual order, zero when absent, plus ``total``."""
    ordered = {state: int(counts.get(state, 0)) for state in DELIVERY_STATUSES}
    ordered.update({k: int(v) for k, v in counts.items() if k not in ordered})
    ordered["total"] = sum(v for k, v in ordered.items() if k != "total")
    return ordered


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 places; None when nothing was sent to compare with."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True, slots=True)
class Window:
    """What happened in the last ``days`` days: messages sent and what came back."""

    days: int
    sent: int
    bounces: int  # hard + soft
    complaints: int
    unsubscribes: int

    def to_json(self) -> dict[str, object]:
        return {
            "days": self.days,
            "sent": self.sent,
            "bounces": self.bounces,
            "complaints": self.complaints,
            "unsubscribes": self.unsubscribes,
            "bounce_rate": rate(self.bounces, self.sent),
            "complaint_rate": rate(self.complaints, self.sent),
            "unsubscribe_rate": rate(self.unsubscribes, self.sent),
        }


def is_fresh(last_success: datetime | None, now: datetime, max_age: timedelta) -> bool:
    return last_success is not None and now - last_success <= max_age


def age_text(then: datetime | None, now: datetime) -> str:
    """``"3h 20m ago"``, ``"2d 4h ago"``, ``"never"``."""
    if then is None:
        return "never"
    seconds = max(int((now - then).total_seconds()), 0)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h ago"
    if hours:
        return f"{hours}h {minutes}m ago"
    return f"{minutes}m ago"
