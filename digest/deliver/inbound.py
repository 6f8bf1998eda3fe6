"""Inbound reports: bounces and complaints, read from a mailbox or received over LMTP/SMTP.

``process_report(inbound, raw, envelope_to)`` parses one message
(``digest.deliver.bounces``), finds the delivery it is about, applies the rules of
``digest.db.bounces`` in one transaction and returns an :class:`Outcome` (one line for the
log or the CLI). The delivery is found, most trusted first, by:

1. the **VERP token** of the address the report was sent to (``bounces+d123-...@``), or of
   the returned message's ``Return-Path``: signed, so it cannot be forged;
2. the **signed unsubscribe link** in the returned message's ``List-Unsubscribe`` (what a
   complaint usually carries, its recipient often redacted);
3. the returned message's **Message-ID** matching ``deliveries.message_id``, accepted only
   when the report names no recipient or names the reader's own address (Message-IDs of
   digests can be guessed, so this alone must not be enough to suppress a stranger).

A report that matches nothing is still recorded (without a reader) for the operator;
an ``unrecognized`` one (auto-replies, read receipts) is ignored. The same report read
twice (a mailbox read again by cron, an LMTP client retrying after a lost reply) is
recorded once.

``read_mailbox(path)`` yields the messages of an mbox file, a Maildir or one ``.eml``;
:class:`BounceHandler` is the aiosmtpd handler of ``digest bounces listen`` (LMTP or SMTP),
which accepts mail only for the bounce mailbox and its VERP addresses.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mailbox
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from digest.db import Database, accounts
from digest.db import bounces as store
from digest.deliver.bounces import BounceReport, parse_report
from digest.deliver.verp import Verp, is_bounce_address
from digest.errors import InputError, NotFoundError
from digest.links import LinkError, LinkSigner
from digest.settings import Settings

if TYPE_CHECKING:  # aiosmtpd loads only for `digest bounces listen`
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP as SMTPServer
    from aiosmtpd.smtp import Envelope
    from aiosmtpd.smtp import Session as SMTPSession

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a bounce carries one digest at most
_UNSUBSCRIBE_TOKEN = re.compile(r"/u/([A-Za-z0-9_-]{1,4096}\.[A-Za-z0-9_-]{22})(?=[>?#/\s]|$)")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Inbound:
    """What processing reports needs: settings, database, VERP key, link signer, clock.
    Built once per process (the CLI, the listener); cheaper than a full ``Runtime``."""

    settings: Settings
    db: Database
    clock: Callable[[], datetime] = utcnow
    verp: Verp = field(init=False)
    signer: LinkSigner = field(init=False)

    def __post_init__(self) -> None:
        self.verp = Verp.from_settings(self.settings)
        self.signer = LinkSigner(self.settings.secret_key, self.settings.base_url)


def as_inbound(target: Any) -> Inbound:
    """An :class:`Inbound` from itself or from anything with ``settings`` and ``db`` (a
    ``Runtime``)."""
    if isinstance(target, Inbound):
        return target
    return Inbound(target.settings, target.db, getattr(target, "clock", utcnow))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one report did."""

    kind: str  # the report's kind (digest.deliver.bounces.Kind)
    action: str  # what was done: "reader bounced", "score 1/5", "ignored", ...
    status: str | None = None
    email: str | None = None  # the reader it was about, when one matched
    delivery_id: int | None = None
    matched_by: str | None = None  # "verp", "unsubscribe link", "message-id"
    detail: str = ""

    @property
    def line(self) -> str:
        """One line for the log and the CLI."""
        words = [self.kind]
        if self.status:
            words.append(self.status)
        who = self.email or "no reader matched"
        if self.delivery_id is not None:
            who += f" (delivery {self.delivery_id})"
        text = f"{' '.join(words)} {who}: {self.action}"
        return f"{text} [{self.detail}]" if self.detail else text

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "status": self.status,
            "email": self.email,
            "delivery_id": self.delivery_id,
            "matched_by": self.matched_by,
            "action": self.action,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class _Match:
    subscriber_id: int
    email: str
    delivery_id: int | None
    via: str


def process_report(
    target: Any, raw: bytes, envelope_to: str | None = None, *, now: datetime | None = None
) -> Outcome:
    """Parse one inbound message, find its delivery, apply the rules; one transaction."""
    inbound = as_inbound(target)
    report = parse_report(raw, envelope_to)
    if report.kind == "unrecognized":
        return Outcome(report.kind, "ignored", report.status, detail=report.detail)
    when = now or inbound.clock()
    base_key = report.report_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    with inbound.db.session() as session:
        match = _match(session, inbound, report)
        key = f"{base_key}|{match.delivery_id if match else ''}"
        if store.report_seen(session, key):
            return _outcome(report, match, "already recorded")
        if match is None:
            unmatched = store.BounceEvent(
                report.kind,
                when,
                status=report.status,
                detail=_with_recipient(report),
                report_key=key,
            )
            store.record_event(session, unmatched)
            return _outcome(report, None, "recorded; no delivery of ours matched")
        return _outcome(report, match, _apply(session, inbound, report, match, key, when))


def _apply(
    session: Session,
    inbound: Inbound,
    report: BounceReport,
    match: _Match,
    key: str,
    now: datetime,
) -> str:
    event = store.BounceEvent(
        report.kind,
        now,
        subscriber_id=match.subscriber_id,
        delivery_id=match.delivery_id,
        status=report.status,
        detail=report.detail,
        report_key=key,
    )
    if report.kind == "hard":
        changed = store.record_hard_bounce(session, event)
        return "reader bounced" if changed else f"recorded (reader is {_status(session, match)})"
    if report.kind == "soft":
        return store.record_soft_bounce(session, event, inbound.settings).describe()
    if report.kind == "complaint":
        if store.record_complaint(session, event):
            return "reader unsubscribed (complaint)"
        return f"recorded (reader is {_status(session, match)})"
    store.record_event(session, event)
    return "recorded (policy refusal: nobody suppressed)"


def _status(session: Session, match: _Match) -> str:
    status = store.subscriber_status(session, match.subscriber_id)
    return f"already {status}" if status in ("bounced", "unsubscribed") else str(status)


def _outcome(report: BounceReport, match: _Match | None, action: str) -> Outcome:
    return Outcome(
        kind=report.kind,
        action=action,
        status=report.status,
        email=match.email if match else None,
        delivery_id=match.delivery_id if match else None,
        matched_by=match.via if match else None,
        detail=report.detail if match else _with_recipient(report),
    )


def _with_recipient(report: BounceReport) -> str:
    recipient = report.recipient
    return f"{recipient}: {report.detail}" if recipient else report.detail


# -- finding the delivery ------------------------------------------------------------------
def _match(session: Session, inbound: Inbound, report: BounceReport) -> _Match | None:
    candidates = [*report.addresses, report.original_return_path]
    for address in candidates:
        delivery_id = inbound.verp.delivery(address)
        if delivery_id is not None:
            by_verp = _by_delivery(session, "verp", delivery_id=delivery_id)
            if by_verp:
                return by_verp[0]
    by_link = _by_unsubscribe_link(session, inbound, report)
    if by_link is not None:
        return by_link
    if report.original_message_id:
        named = _named_recipients(report)
        for found in _by_delivery(session, "message-id", message_id=report.original_message_id):
            if not named or found.email.lower() in named:
                return found
    return None


def _by_delivery(
    session: Session, via: str, *, delivery_id: int | None = None, message_id: str | None = None
) -> list[_Match]:
    rows = store.deliveries_matching(session, delivery_id=delivery_id, message_id=message_id)
    return [_Match(subscriber_id=s, email=e, delivery_id=d, via=via) for d, s, e in rows]


def _by_unsubscribe_link(session: Session, inbound: Inbound, report: BounceReport) -> _Match | None:
    found = _UNSUBSCRIBE_TOKEN.search(report.original_list_unsubscribe or "")
    if found is None:
        return None
    try:
        link_id = inbound.signer.verify("unsubscribe", found.group(1))
    except LinkError:
        return None
    row = accounts.subscriber_by_link(session, link_id) if isinstance(link_id, str) else None
    if row is None:
        return None
    delivery_id = None
    if report.original_message_id:
        delivery_id = store.delivery_of_message(session, report.original_message_id, row.id)
    return _Match(row.id, row.email, delivery_id, "unsubscribe link")


def _named_recipients(report: BounceReport) -> set[str]:
    named = {
        a.lower()
        for entry in report.recipients
        for a in (entry.final_recipient, entry.original_recipient)
        if a
    }
    if report.original_to and not report.original_to.lower().startswith("redacted@"):
        named.add(report.original_to.lower())
    return named


# -- mailboxes -----------------------------------------------------------------------------
def read_mailbox(path: str | Path) -> Iterator[tuple[str, bytes]]:
    """``(label, raw message)`` for each message of an mbox file, a Maildir (``new/`` and
    ``cur/``) or a single message file (``.eml``). NotFoundError for a missing path,
    InputError for a folder that is not a Maildir."""
    where = Path(path)
    if not where.exists():
        raise NotFoundError(f"{where}: no such file or directory")
    if where.is_dir():
        if not ((where / "cur").is_dir() or (where / "new").is_dir()):
            raise InputError(f"{where}: a folder but not a Maildir (no cur/ or new/ in it)")
        box = mailbox.Maildir(where, factory=None, create=False)
        for key in sorted(box.iterkeys()):
            yield f"{where.name}/{key}", box.get_bytes(key)
        return
    try:
        with where.open("rb") as fh:
            head = fh.read(5)
    except OSError as exc:
        raise InputError(f"{where}: cannot read: {exc.strerror}") from None
    if head == b"From ":
        mbox = mailbox.mbox(where, factory=None, create=False)
        try:
            for index, key in enumerate(mbox.iterkeys(), start=1):
                yield f"{where.name}#{index}", mbox.get_bytes(key)
        finally:
            mbox.close()
        return
    yield where.name, where.read_bytes()


# -- the LMTP / SMTP listener --------------------------------------------------------------
class BounceHandler:
    """aiosmtpd handler: accept mail for the bounce mailbox and its valid VERP addresses
    only, and process each message once per recipient (off the event loop). LMTP answers
    after DATA once per recipient (RFC 2033); a failure to record is a 451, so the sending
    MTA keeps the report and tries again."""

    def __init__(self, inbound: Inbound, *, lmtp: bool = True):
        self.inbound = inbound
        self.lmtp = lmtp
        self.mailbox = inbound.verp.mailbox

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: SMTPSession,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not is_bounce_address(address, self.mailbox):
            return f"550 5.1.1 <{address}>: not a bounce address of this server"
        local = address.rpartition("@")[0]
        if "+" in local and self.inbound.verp.delivery(address) is None:
            return f"550 5.1.1 <{address}>: unknown or altered bounce address"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(
        self, server: SMTPServer, session: SMTPSession, envelope: Envelope
    ) -> str:
        content = envelope.original_content or envelope.content or b""
        data = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
        loop = asyncio.get_running_loop()
        replies = []
        for rcpt in envelope.rcpt_tos:
            try:
                outcome = await loop.run_in_executor(None, process_report, self.inbound, data, rcpt)
            except Exception as exc:  # the database is down, ...: the MTA will retry
                log.error("bounce for %s not recorded: %s: %s", rcpt, type(exc).__name__, exc)
                replies.append("451 4.3.0 cannot record the report now, try again later")
                continue
            log.info("%s", outcome.line)
            replies.append(f"250 2.0.0 {outcome.kind}: {outcome.action}"[:200])
        if self.lmtp:
            return "\r\n".join(replies)
        # SMTP: one reply for the message; a retry is harmless (recorded reports are skipped)
        return next((r for r in replies if r.startswith("451")), replies[0])


def start_listener(
    inbound: Inbound, host: str = "127.0.0.1", port: int = 8025, *, lmtp: bool = True
) -> Controller:
    """Start the LMTP (or SMTP) listener in a thread of its own; ``.stop()`` ends it."""
    # Lazy: aiosmtpd only for the listener, not for reading a mailbox.
    from aiosmtpd.controller import Controller
    from aiosmtpd.lmtp import LMTP
    from aiosmtpd.smtp import SMTP

    server_class = LMTP if lmtp else SMTP

    class _Controller(Controller):
        def factory(self) -> SMTP:
            return server_class(self.handler, **self.SMTP_kwargs)

    controller = _Controller(
        BounceHandler(inbound, lmtp=lmtp),
        hostname=host,
        port=port,
        server_hostname=inbound.verp.mailbox.rpartition("@")[2],
        data_size_limit=MAX_MESSAGE_BYTES,
        enable_SMTPUTF8=True,
    )
    controller.start()
    return controller
