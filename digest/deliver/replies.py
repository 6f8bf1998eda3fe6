"""What an SMTP reply says about the address it refused. Pure.

RFC 3463 enhanced status codes name the subject of a failure: ``5.1.x`` the address
(no such mailbox, bad domain), ``5.2.1`` a disabled mailbox, ``5.7.x`` policy (spam
filters, authentication), ``4.x.x`` anything temporary. Only a permanent failure of the
address itself is a hard bounce: the reader is suppressed so the next edition does not
mail a dead address again. A policy refusal says nothing about the address and a
temporary one is retried, so neither suppresses anybody.
"""

from __future__ import annotations

import re

ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# Without an enhanced code, these basic replies mean the mailbox or its address is bad.
HARD_BASIC = frozenset({550, 551, 553})


def enhanced_status(text: str) -> str | None:
    """The first RFC 3463 code in a reply's text (``"5.1.1"``), if any."""
    found = ENHANCED.search(text)
    return ".".join(found.groups()) if found else None


def is_hard_bounce(code: int | None, text: str) -> bool:
    """True when the reply says the address itself can never receive mail."""
    status = enhanced_status(text)
    if status is not None:
        return status.startswith("5.1.") or status == "5.2.1"
    return code in HARD_BASIC
