"""What an inbound report says: a bounce (DSN), a complaint (ARF), or nothing. Pure.

``parse_report(raw, envelope_to)`` reads one message as it arrived at the bounce mailbox
and returns a :class:`BounceReport`. The standard formats are read field by field:

- **DSN** (RFC 3464): ``multipart/report; report-type=delivery-status`` with a
  ``message/delivery-status`` part (one block per message, then one per recipient:
  ``Final-Recipient``, ``Action``, ``Status``, ``Diagnostic-Code``) and the returned
  message (``message/rfc822``) or its headers (``text/rfc822-headers``). Postfix, Exim
  (4.8x and later), Gmail, Microsoft 365 and most others send this.
- **ARF** (RFC 5965): ``multipart/report; report-type=feedback-report`` with a
  ``message/feedback-report`` part (``Feedback-Type: abuse``...): a reader pressed
  "this is spam" at a mailbox provider that runs a feedback loop (Yahoo, Microsoft, ...).
- **Plain-text bounces** (old Exim, qmail): from ``MAILER-DAEMON``/postmaster, or with
  Exim's ``X-Failed-Recipients``; the first RFC 3463 code of the text decides.

Classification (RFC 3463 codes, as ``digest.deliver.replies`` reads synchronous replies):

- ``hard``: Action ``failed`` with ``5.1.x`` (bad mailbox or domain; ``5.1.10`` null MX)
  or ``5.2.1`` (mailbox disabled), or a bare 550/551/553: the reader is suppressed at once;
- ``policy``: ``5.7.x`` (spam filter, DMARC, blocked): a refusal of our mail, not of the
  address: recorded only;
- ``soft``: ``4.x.x``, Action ``delayed``, ``5.2.2`` mailbox full, any other failure:
  counts toward the reader's bounce score;
- ``complaint``: ARF ``abuse``, ``fraud``, ``virus``, ``other``: the reader is unsubscribed;
- ``unrecognized``: auto-replies, read receipts, success notices, ARF ``not-spam``,
  anything else: ignored, never suppresses anybody.

A report with a status ``X.0.0`` (Postfix writes ``5.0.0`` when the remote server gave
no enhanced code of its own) is read from the code inside ``Diagnostic-Code`` when there
is one. The parser never raises: broken input is an ``unrecognized`` report.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Literal, TypedDict

from digest.deliver.replies import HARD_BASIC

Kind = Literal["hard", "soft", "complaint", "policy", "unrecognized"]
KINDS: tuple[Kind, ...] = ("hard", "soft", "complaint", "policy", "unrecognized")
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "other"})
_SEVERITY: dict[str, int] = {"hard": 3, "policy": 2, "soft": 1}
_DETAIL_CHARS = 300

_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_BASIC = re.compile(r"(?<![\d.])([245]\d\d)(?:[ -]|$)")
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,500}>")
_MESSAGE_ID_LINE = re.compile(r"^message-id:[ \t]*(<[^<>\s]{1,500}>)", re.I | re.M)
_WS = re.compile(r"\s+")
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster", "mail-daemon", "mailer_daemon")
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (status notification|failure|has failed|report)|"
    r"returned mail|failure notice|mail delivery (failed|failure|system)|"
    r"non[- ]?delivery|could not be delivered",
    re.I,
)
_AUTO_SUBJECT = re.compile(
    r"out of (the )?office|auto(matic)?[- ]?(reply|response|antwort)|vacation|abwesen|"
    r"absence|away from",
    re.I,
)
# Where a plain-text bounce starts quoting the returned message: codes after it are not
# the reporting MTA's.
_QUOTE_START = re.compile(
    r"^-+ ?(this is a copy of|below this line|original message|the header of the original)",
    re.I | re.M,
)


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One per-recipient block of a ``message/delivery-status`` part."""

    final_recipient: str | None = None
    original_recipient: str | None = None
    action: str | None = None  # lower case: failed, delayed, delivered, relayed, expanded
    status: str | None = None  # the RFC 3463 code that decides, e.g. "5.1.1"
    diagnostic_code: str | None = None
    kind: Kind = "unrecognized"


@dataclass(frozen=True, slots=True)
class BounceReport:
    kind: Kind
    detail: str = ""  # one line for the operator: the diagnostic, the feedback type, ...
    status: str | None = None  # the status code of the deciding recipient
    recipients: tuple[RecipientStatus, ...] = ()
    feedback_type: str | None = None  # ARF only
    original_message_id: str | None = None  # of the message that bounced or was reported
    original_return_path: str | None = None  # its Return-Path (our VERP address, if kept)
    original_to: str | None = None  # its To, or ARF's Original-Rcpt-To
    original_list_unsubscribe: str | None = None  # its List-Unsubscribe (a signed link)
    envelope_to: str | None = None  # where the report was delivered (the VERP address)
    addresses: tuple[str, ...] = ()  # every address the report may have been sent to
    report_id: str | None = None  # the report's own Message-ID
    reporting_mta: str | None = None

    @property
    def recipient(self) -> str | None:
        """The reader's address as the report names it (for a complaint, the original To)."""
        for entry in self.recipients:
            if entry.final_recipient or entry.original_recipient:
                return entry.final_recipient or entry.original_recipient
        return self.original_to

    @property
    def actionable(self) -> bool:
        return self.kind != "unrecognized"


class _Envelope(TypedDict):
    """What every report carries about its own delivery (``BounceReport`` fields)."""

    envelope_to: str | None
    addresses: tuple[str, ...]
    report_id: str | None


class _Original(TypedDict, total=False):
    """What a report says about the message it reports (``BounceReport`` fields)."""

    original_message_id: str | None
    original_return_path: str | None
    original_to: str | None
    original_list_unsubscribe: str | None


def parse_report(raw: bytes, envelope_to: str | None = None) -> BounceReport:
    """Read one inbound message; never raises (garbage is ``unrecognized``)."""
    try:
        return _parse(raw, envelope_to)
    except Exception:  # a pure parser of hostile input: any failure is "cannot read"
        return BounceReport(
            kind="unrecognized",
            detail="unreadable message",
            envelope_to=_clean_address(envelope_to),
            addresses=(a,) if (a := _clean_address(envelope_to)) else (),
        )


# -- the message ---------------------------------------------------------------------------
def _parse(raw: bytes, envelope_to: str | None) -> BounceReport:
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError("raw must be bytes")
    msg = email.message_from_bytes(bytes(raw), policy=policy.default)
    addresses = _delivery_addresses(msg, envelope_to)
    common: _Envelope = {
        "envelope_to": addresses[0] if addresses else None,
        "addresses": addresses,
        "report_id": _message_id(_header(msg, "Message-ID")),
    }
    report_type = ""
    if msg.get_content_type() == "multipart/report":
        report_type = str(msg.get_param("report-type", "") or "").lower()
    if report_type == "disposition-notification":
        return BounceReport(kind="unrecognized", detail="read receipt (MDN)", **common)
    parts = list(_parts(msg))
    for part in parts:
        ctype = part.get_content_type()
        if ctype == "message/feedback-report":
            return _arf(part, parts, common)
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            return _dsn(msg, part, parts, common)
    if _looks_like_bounce(msg):  # before auto-replies: bounces are auto-submitted too
        return _plain_bounce(msg, parts, common)
    if _is_auto_reply(msg):
        return BounceReport(kind="unrecognized", detail="auto-reply", **common)
    subject = _one_line(_header(msg, "Subject"))[:80]
    return BounceReport(kind="unrecognized", detail=f"not a report: {subject!r}", **common)


def _parts(msg: Message, depth: int = 0) -> Iterator[Message]:
    """Every part of the report itself, not descending into returned messages."""
    yield msg
    if depth > 10 or not msg.is_multipart() or msg.get_content_maintype() == "message":
        return
    for part in msg.get_payload():
        if isinstance(part, Message):
            yield from _parts(part, depth + 1)


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header policy.default cannot parse: take its raw text
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    return "" if value is None else str(value)


def _one_line(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


def _clean_address(text: str | None) -> str | None:
    """``rfc822; Jane@Example.org`` / ``<jane@example.org>`` -> ``Jane@Example.org``."""
    if not text:
        return None
    value = _one_line(str(text))
    if ";" in value:
        kind, _, rest = value.partition(";")
        if "@" not in kind:
            value = rest.strip()
    found = re.search(r"<([^<>\s]+@[^<>\s]+)>", value)
    if found:
        return found.group(1)
    value = value.strip("<> ")
    return value if "@" in value and " " not in value else None


def _message_id(value: str | None) -> str | None:
    if not value:
        return None
    found = _MESSAGE_ID.search(value)
    if found:
        return found.group(0)
    token = value.strip()
    return f"<{token}>" if token and " " not in token and len(token) < 500 else None


def _delivery_addresses(msg: Message, envelope_to: str | None) -> tuple[str, ...]:
    """The report's envelope recipient: given, else Delivered-To / X-Original-To / To."""
    found: list[str] = []
    if envelope_to:
        found.append(envelope_to)
    # X-Original-To (Postfix) is the address before any rewriting, Delivered-To after it
    for name in ("X-Original-To", "Delivered-To", "Envelope-To", "X-Envelope-To"):
        found.extend(str(v) for v in (msg.get_all(name) or []))
    found.extend(a for _, a in getaddresses([_header(msg, "To")]) if a)
    cleaned = (_clean_address(a) for a in found)
    return tuple(dict.fromkeys(a for a in cleaned if a))


# -- DSN (RFC 3464) ------------------------------------------------------------------------
def _field_blocks(part: Message) -> list[dict[str, str]]:
    """The header blocks of a ``message/delivery-status`` (or feedback-report) part."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                fields = {k.lower(): _one_line(str(v)) for k, v in block.items()}
                if fields:
                    blocks.append(fields)
        if blocks:
            return blocks
        payload = ""
    text = payload if isinstance(payload, str) else ""
    if not text:
        data = part.get_payload(decode=True)
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else ""
    return _text_blocks(text)


def _text_blocks(text: str) -> list[dict[str, str]]:
    """Header-style blocks separated by blank lines, read by hand (a broken part)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, ""
        elif line[:1] in " \t" and last:
            current[last] = _one_line(current[last] + " " + line)
        elif ":" in line:
            name, _, value = line.partition(":")
            last = name.strip().lower()
            current[last] = _one_line(value)
    if current:
        blocks.append(current)
    return blocks


def enhanced_code(text: str | None) -> str | None:
    found = _ENHANCED.search(text or "")
    return ".".join(found.groups()) if found else None


def _status(fields: dict[str, str]) -> str | None:
    """The deciding code: ``Status``, made precise by the diagnostic's own code when the
    status is only ``X.0.0``, or taken from the diagnostic when there is no status."""
    status = enhanced_code(fields.get("status"))
    diagnostic = enhanced_code(fields.get("diagnostic-code"))
    if status is None:
        return diagnostic
    if status.endswith(".0.0") and diagnostic and diagnostic[0] == status[0]:
        return diagnostic
    return status


def classify(action: str | None, status: str | None, diagnostic: str | None = None) -> Kind:
    """One recipient's fate: ``unrecognized`` for a success or nothing to go on."""
    action = (action or "").strip().lower()
    if action in ("delivered", "relayed", "expanded"):
        return "unrecognized"
    if status is None:  # no enhanced code: the basic reply code, else the action alone
        basic = _BASIC.search(_diagnostic_text(diagnostic))
        code = int(basic.group(1)) if basic else None
        if code is not None and code < 400:
            return "unrecognized"
        if action == "delayed" or (code is not None and code < 500):
            return "soft"
        if code in HARD_BASIC:
            return "hard"
        return "soft" if action == "failed" or code is not None else "unrecognized"
    if status[0] == "2":
        return "unrecognized"
    if action == "delayed" or status[0] == "4":
        return "soft"
    if status.startswith("5.7."):
        return "policy"
    if status.startswith("5.1.") or status == "5.2.1":
        return "hard"
    return "soft"  # 5.2.2 mailbox full, 5.2.3 too large, 5.3.x, 5.4.x, 5.5.x, 5.0.0


_CONTINUATION = re.compile(r"\s[245]\d\d[- ]\s*[245]\.\d{1,3}\.\d{1,3}(?=\s)")


def _diagnostic_text(diagnostic: str | None) -> str:
    """``smtp; 550-5.1.1 The account ... 550-5.1.1 does not exist`` -> ``550 5.1.1 The
    account ... does not exist``: without the type and the repeated multi-line codes."""
    text = diagnostic or ""
    kind, sep, rest = text.partition(";")
    if sep and " " not in kind.strip():
        text = rest.strip()
    head = re.match(r"([245]\d\d)-([245]\.\d{1,3}\.\d{1,3}\s)", text)
    if head:
        text = f"{head.group(1)} {head.group(2)}{text[head.end() :]}"
    return _one_line(text[:9] + _CONTINUATION.sub("", text[9:]))


def _dsn(msg: Message, part: Message, parts: list[Message], common: _Envelope) -> BounceReport:
    blocks = _field_blocks(part)
    per_message = blocks[0] if blocks and "final-recipient" not in blocks[0] else {}
    entries: list[RecipientStatus] = []
    for fields in blocks:
        if "final-recipient" not in fields and "action" not in fields:
            continue
        status = _status(fields)
        diagnostic = fields.get("diagnostic-code")
        entries.append(
            RecipientStatus(
                final_recipient=_clean_address(fields.get("final-recipient")),
                original_recipient=_clean_address(fields.get("original-recipient")),
                action=(fields.get("action") or "").lower() or None,
                status=status,
                diagnostic_code=_diagnostic_text(diagnostic) or None,
                kind=classify(fields.get("action"), status, diagnostic),
            )
        )
    original = _original_headers(parts)
    deciding = max(entries, key=lambda e: _SEVERITY.get(e.kind, 0), default=None)
    kind: Kind = deciding.kind if deciding is not None else "unrecognized"
    if deciding is None:
        detail = "delivery report without recipients"
    elif kind == "unrecognized":
        detail = f"delivery report: {deciding.action or 'no action'}"
    else:
        words = [deciding.action or "", deciding.diagnostic_code or deciding.status or ""]
        detail = ": ".join(w for w in words if w)
    return BounceReport(
        kind=kind,
        detail=detail[:_DETAIL_CHARS],
        status=deciding.status if deciding is not None else None,
        recipients=tuple(entries),
        reporting_mta=_clean_mta(per_message.get("reporting-mta")),
        **_original_fields(original, _body_text(msg, parts)),
        **common,
    )


def _clean_mta(value: str | None) -> str | None:
    if not value:
        return None
    kind, sep, rest = value.partition(";")
    return (rest if sep else kind).strip()[:200] or None


# -- the returned message ------------------------------------------------------------------
def _original_headers(parts: list[Message]) -> Message | None:
    for part in parts:
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers"):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                return BytesHeaderParser(policy=policy.default).parsebytes(data)
    return None


def _original_fields(original: Message | None, body: str) -> _Original:
    if original is None:  # a plain-text bounce may quote the headers in its text
        found = _MESSAGE_ID_LINE.search(body)
        return {"original_message_id": found.group(1) if found else None}
    to = [a for _, a in getaddresses([_header(original, "To")]) if a]
    return {
        "original_message_id": _message_id(_header(original, "Message-ID")),
        "original_return_path": _clean_address(_header(original, "Return-Path")),
        "original_to": to[0] if to else None,
        "original_list_unsubscribe": _one_line(_header(original, "List-Unsubscribe")) or None,
    }


def _body_text(msg: Message, parts: list[Message]) -> str:
    """The first text/plain part of the report (its human-readable explanation)."""
    for part in parts:
        if part.get_content_type() == "text/plain" and not part.is_multipart():
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                charset = part.get_content_charset() or "utf-8"
                try:
                    return data.decode(charset, "replace")[:100_000]
                except LookupError:
                    return data.decode("utf-8", "replace")[:100_000]
    return ""


# -- ARF (RFC 5965) ------------------------------------------------------------------------
def _arf(part: Message, parts: list[Message], common: _Envelope) -> BounceReport:
    blocks = _field_blocks(part)
    fields = blocks[0] if blocks else {}
    feedback_type = (fields.get("feedback-type") or "").lower() or None
    original = _original_fields(_original_headers(parts), "")
    rcpt_to = _clean_address(fields.get("original-rcpt-to"))
    if rcpt_to:
        original["original_to"] = rcpt_to
    kind: Kind = "complaint" if feedback_type in COMPLAINT_TYPES else "unrecognized"
    agent = _one_line(fields.get("user-agent"))[:80]
    detail = f"feedback report: {feedback_type or 'no type'}" + (f" ({agent})" if agent else "")
    return BounceReport(
        kind=kind,
        detail=detail[:_DETAIL_CHARS],
        feedback_type=feedback_type,
        reporting_mta=_clean_mta(fields.get("reporting-mta")),
        **original,
        **common,
    )


# -- auto-replies and plain-text bounces -------------------------------------------------
def _is_auto_reply(msg: Message) -> bool:
    """RFC 3834 ``Auto-Submitted: auto-replied`` and the vendor headers that predate it."""
    auto = _header(msg, "Auto-Submitted").strip().lower()
    if auto.startswith("auto-replied"):
        return True
    if any(msg.get(h) is not None for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response")):
        return True
    if _header(msg, "Precedence").strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.search(_header(msg, "Subject")))


def _looks_like_bounce(msg: Message) -> bool:
    if msg.get("X-Failed-Recipients") is not None:
        return True
    sender = "".join(a for _, a in getaddresses([_header(msg, "From")])).lower()
    by_daemon = sender.partition("@")[0] in _BOUNCE_SENDERS
    return by_daemon and bool(_BOUNCE_SUBJECT.search(_header(msg, "Subject")))


def _plain_bounce(msg: Message, parts: list[Message], common: _Envelope) -> BounceReport:
    body = _body_text(msg, parts)
    quoted = _QUOTE_START.search(body)
    explanation = body[: quoted.start()] if quoted else body
    status = enhanced_code(explanation)
    delayed = bool(re.search(r"delayed|will (be )?retr|warning", _header(msg, "Subject"), re.I))
    action = "delayed" if delayed else "failed"
    basic = None if status else _BASIC.search(explanation)
    kind = classify(action, status, basic.group(1) if basic else None)
    failed = [_clean_address(a) for a in (_header(msg, "X-Failed-Recipients").split(","))]
    line = next(
        (_one_line(x) for x in explanation.splitlines() if status and status in x),
        "",
    )
    entries = tuple(
        RecipientStatus(final_recipient=a, action=action, status=status, kind=kind)
        for a in failed
        if a
    )
    return BounceReport(
        kind=kind,
        detail=(f"{action}: {line}" if line else f"{action} (plain-text bounce)")[:_DETAIL_CHARS],
        status=status,
        recipients=entries,
        **_original_fields(_original_headers(parts), body),
        **common,
    )
