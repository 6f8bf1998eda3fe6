"""Quoted-printable body encoding, exact and cheap enough to run per reader.

Quoted-printable is line-local: a hard line break resets it, so encoding a body line by
line gives exactly the bytes of encoding it whole (``binascii.b2a_qp`` with CRLF line
endings, what the ``email`` package writes; tested). That allows:

* encoding once what every reader shares (template markup, paper cards: see
  :mod:`digest.render.splice`), and per reader only the lines that differ;
* a cache of encoded lines, for lines that recur (section headings, reasons);
* plain ASCII lines, the most common per-reader lines (links), encoded with string
  methods instead of ``b2a_qp``'s byte loop.
"""

from __future__ import annotations

import binascii
import contextlib


class QPEncoder:
    """Quoted-printable body encoding with a cache of encoded lines (bounded, then reset)."""

    def __init__(self, max_lines: int = 20_000):
        self.max_lines = max_lines
        self._cache: dict[str, bytes] = {}

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
    """One line, quoted-printable, CRLF-terminated: exactly what b2a_qp makes of it."""
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
    return binascii.b2a_qp((line + "\r\n").encode("utf-8"), False, True, False)


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
