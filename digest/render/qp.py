"""Quoted-printable body encoding, exact and cheap enough to run per reader.

Quoted-printable is line-local: a hard line break resets it, so encoding a body line by
line gives exactly the bytes of encoding it whole (``binascii.b2a_qp`` with CRLF line
endings, what the ``email`` package writes; tested), but for one mend: where b2a_qp writes
a line of 77 octets (75 characters ending in a space), the line gets one more soft break,
since RFC 2045 allows 76 (:func:`qp_line`). That allows:

* encoding once what every reader shares (template markup, paper cards: see
  :mod:`digest.render.splice`), and per reader only the lines that differ;
* a cache of encoded lines, for lines that recur (section headings, reasons);
* plain ASCII lines, the most common per-reader lines (links), encoded with string
  methods instead of ``b2a_qp``'s byte loop.

A line that holds a reader's value (:mod:`digest.render.splice`) is written another way,
still valid quoted-printable that decodes to the same text but not byte for byte what
``b2a_qp`` makes: its literal parts, encoded once per edition, end in a soft line break
(:func:`soft_line`), and each value takes physical lines of its own (:meth:`QPEncoder.value`:
for a plain ASCII value, a link, just its bytes). No soft break then depends on the value's
length, so nothing of the line but the value is encoded per reader.
"""

from __future__ import annotations

import binascii
import contextlib


class QPEncoder:
    """Quoted-printable body encoding with a cache of encoded lines (bounded, then reset)."""

    def __init__(self, max_lines: int = 20_000):
        self.max_lines = max_lines
        self._cache: dict[str, bytes] = {}
        self._values: dict[tuple[str, bool], bytes] = {}  # values not plain ASCII (names)

    def cached(self, line: str) -> bytes | None:
        """The encoding of ``line`` if the cache has it."""
        return self._cache.get(line)

    def line(self, line: str) -> bytes:
        """One line (or lines joined by ``\n``), through the cache."""
        data = self._cache.get(line)
        if data is None:
            if len(self._cache) > self.max_lines:  # start afresh (a new dict: thread-safe)
                self._cache = {}
            data = self._cache[line] = qp_line(line)
        return data

    def value(self, value: str, end: bool) -> bytes:
        """A reader's value on physical lines of its own, ending in a soft line break, or
        (``end``: nothing follows it on its line) in the line's hard break."""
        if value.isascii() and value.isprintable() and "=" not in value:  # no tab, no break
            if len(value) <= 75:
                if not end:
                    return value.encode("ascii") + b"=\r\n" if value else b""
                if value[-1:] != " " and value != ".":  # encoded at a line end
                    return value.encode("ascii") + b"\r\n"
            else:  # a long link: cut every 75 characters
                lines = "=\r\n".join([value[i : i + 75] for i in range(0, len(value), 75)])
                if not end:
                    return (lines + "=\r\n").encode("ascii")
                if value[-1] != " " and not lines.endswith("\n."):
                    return (lines + "\r\n").encode("ascii")
        key = (value, end)
        data = self._values.get(key)
        if data is None:
            if len(self._values) > self.max_lines:
                self._values = {}
            data = self._values[key] = qp_line(value) if end else soft_line(value)
        return data

    def encode(self, text: str, *, cache: bool = True) -> bytes:
        """``text`` (any line endings) as quoted-printable UTF-8 with CRLF line endings."""
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        if not cache:
            return b"".join(map(qp_line, lines))
        store = self._cache
        if len(store) > self.max_lines:
            store = self._cache = {}
        encoded = list(map(store.get, lines))  # one C-level pass for the usual all-hits case
        if None in encoded:  # some lines are new: find them without a Python loop over all
            i = -1
            with contextlib.suppress(ValueError):
                while True:
                    i = encoded.index(None, i + 1)
                    encoded[i] = store[lines[i]] = qp_line(lines[i])
        return b"".join(encoded)  # type: ignore[arg-type]


def qp_line(line: str) -> bytes:
    """One line, quoted-printable, CRLF-terminated: what b2a_qp makes of it, except that no
    physical line passes 76 octets (b2a_qp writes 77 when a line of 75 characters ends in
    a space: its "=20" goes past the limit; RFC 2045 allows 76, and SpamAssassin scores a
    longer one)."""
    if line.isascii() and line.isprintable() and line[-1:] != " ":  # no control chars, no tab
        # Only "=" needs encoding; lines over 76 octets get soft breaks where b2a_qp puts them.
        encoded = line.replace("=", "=3D") if "=" in line else line
        if len(encoded) > 75:
            encoded = soft_breaks(encoded)
        if encoded != "." and not encoded.endswith("=\r\n."):  # a lone "." is encoded
            return encoded.encode("ascii") + b"\r\n"
    if "\n" in line:  # a value that holds line breaks (wrapped text): each line on its own
        return b"".join(map(qp_line, line.split("\n")))
    # The CRLF terminator makes b2a_qp use CRLF for soft line breaks too.
    data = binascii.b2a_qp((line + "\r\n").encode("utf-8"), False, True, False)
    if len(data) <= 78 or data[-3] not in b"0123456789ABCDEF":  # no escape at the end
        return data
    return _cut_last(data[:-2], 76) + b"\r\n"


def soft_breaks(encoded: str) -> str:
    """Cut an encoded line as b2a_qp does: 75 characters at most, never inside ``=3D``."""
    if "=" not in encoded:  # no escape to keep whole: every 75 characters
        return "=\r\n".join([encoded[i : i + 75] for i in range(0, len(encoded), 75)])
    pieces = []
    start = 0
    while len(encoded) - start > 75:
        cut = start + 75
        if encoded[cut - 2] == "=":  # an escape from column 73 would pass column 75
            cut -= 2
        elif encoded[cut - 1] == "=":
            cut -= 1
        pieces.append(encoded[start:cut])
        start = cut
    pieces.append(encoded[start:])
    return "=\r\n".join(pieces)


def soft_line(text: str) -> bytes:
    """``text`` as the start of a line that goes on: encoded as :func:`qp_line` does, but
    ending in a soft line break ("=" CRLF), every physical line 76 octets at most."""
    if not text:
        return b""
    if "\n" in text:  # whole lines first
        lines, _, rest = text.rpartition("\n")
        return qp_line(lines) + soft_line(rest)
    return _cut_last(qp_line(text)[:-2], 75) + b"=\r\n"


def _cut_last(encoded: bytes, limit: int) -> bytes:
    """``encoded`` (without its last line break) with one more soft break when its last
    physical line is over ``limit`` octets; never inside an escape ("=XX")."""
    start = encoded.rfind(b"\n") + 1
    if len(encoded) - start <= limit:
        return encoded
    cut = start + 75
    if encoded[cut - 2] == 61:  # "="
        cut -= 2
    elif encoded[cut - 1] == 61:
        cut -= 1
    return encoded[:cut] + b"=\r\n" + encoded[cut:]
