"""Template output rendered once per edition, spliced per reader.

A template sent to many readers (the digest) is cut into named blocks
(``{% block item scoped %}...{% endblock %}``). For one edition:

* each block is rendered once per *key* (what determines its content: a paper and its
  number, a section title...) with the values that differ between readers replaced by
  placeholders (:class:`Hole`), and compiled into a :class:`Piece`: quoted-printable bytes
  with slots, encoded once (lines without a placeholder as they are, the literal parts of
  a line with placeholders each ending in a soft line break, so that every value takes
  physical lines of its own: :func:`digest.render.qp.soft_line`);
* the text around the blocks (the skeleton) is rendered once per *shape* (how many
  sections and items, cold start...) with markers in place of the blocks (:func:`probe`).

A reader's body is then a list of (piece, values), :class:`Spliced`: only the reader's
values (links, names, reasons) are encoded per reader (a plain ASCII link is its own bytes),
the rest is bytes joined. Values are escaped exactly as autoescape would (HTML), or written
with ``str`` (text).

Holes may only be output as they are (``{{ item.why }}``, or with ``|e``): a test, filter,
comparison or attribute on one raises a ConfigError naming the template, and so does any
per-reader value outside its block (:class:`Forbidden`). The first rendering of every
block key is also checked against a rendering with the real values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import jinja2
from markupsafe import escape

from digest.errors import ConfigError
from digest.render.qp import QPEncoder, qp_line, soft_line

_SLOT = re.compile("\x01(Hh|Ss)(\\d+)\x01")
BLOCK_MARK = "\x02"  # brackets a block's name in a skeleton probe (never in data)


class Hole:
    """Stands for a per-reader value while a block is rendered once per key."""

    __slots__ = ("_index", "_name", "_where")

    def __init__(self, index: int, name: str, where: str):
        self._index = index
        self._name = name
        self._where = where

    def __html__(self) -> str:  # output with autoescape, or |e: the escaped value
        return f"\x01Hh{self._index}\x01"

    def __str__(self) -> str:  # output without autoescape: str(value)
        return f"\x01Ss{self._index}\x01"

    def _misuse(self, *args: object, **kwargs: object) -> Any:
        raise ConfigError(
            f"template {self._where}: {self._name} differs per reader and may only be "
            f"output as it is ({{{{ {self._name} }}}})"
        )

    __bool__ = __len__ = __iter__ = __contains__ = __getitem__ = __call__ = _misuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _misuse
    __add__ = __radd__ = __mul__ = __mod__ = __rmod__ = __int__ = __float__ = _misuse
    __hash__ = object.__hash__

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._misuse()


class Forbidden(Hole):
    """A value a block (or the skeleton) may not use at all, not even output."""

    def _misuse(self, *args: object, **kwargs: object) -> Any:
        raise ConfigError(f"template {self._where}: {self._name} cannot be used here")

    __html__ = __str__ = _misuse
    __bool__ = __len__ = __iter__ = __contains__ = __getitem__ = __call__ = _misuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _misuse
    __add__ = __radd__ = __mul__ = __mod__ = __rmod__ = __int__ = __float__ = _misuse
    __hash__ = object.__hash__


def escape_value(value: object, cache: dict[str, str]) -> str:
    """Exactly ``str(markupsafe.escape(value))``, without its cost for plain safe strings.

    Always a plain ``str``: a ``Markup`` would escape a string added to it.
    """
    if type(value) is not str:
        return str(escape(value))
    if "&" in value or "<" in value or ">" in value or '"' in value or "'" in value:
        escaped = cache.get(value)
        if escaped is None:
            if len(cache) > 10_000:
                cache.clear()
            escaped = cache[value] = str(escape(value))
        return escaped
    return value  # nothing to escape: links, tokens, most names


class _Slotted:
    """A line (or a partial one) with slots for values: literal parts, where values go."""

    __slots__ = ("one", "parts", "slots", "text")

    def __init__(self, text: str, where: str):
        pieces = _SLOT.split(text)
        self.parts: list[str] = []
        self.slots: list[tuple[int, int, bool]] = []  # (part, value, escaped without autoescape)
        for i in range(0, len(pieces), 3):
            self.parts.append(pieces[i])
            if i + 2 < len(pieces):
                self.slots.append((len(self.parts), int(pieces[i + 2]), pieces[i + 1] == "Hh"))
                self.parts.append("")
        if "\x01" in "".join(pieces[0::3]):
            raise ConfigError(
                f"template {where}: a value that differs per reader was changed by a "
                "filter; such values may only be output as they are"
            )
        self.text = None if self.slots else text  # the text itself when there is no slot
        # One slot (the usual line): before, value index, after, escaped without autoescape.
        self.one = None
        if len(self.slots) == 1:
            pos, index, html = self.slots[0]
            self.one = (self.parts[pos - 1], index, self.parts[pos + 1], html)

    def encoded(self) -> list[bytes | tuple[int, bool, bool]]:
        """The whole line quoted-printable: literal parts encoded, ending in a soft line
        break but the last; slots as (value index, ends the line, escaped without
        autoescape), for :meth:`QPEncoder.value`."""
        out: list[bytes | tuple[int, bool, bool]] = []
        at = {pos: (index, html) for pos, index, html in self.slots}
        last = len(self.parts) - 1  # always a literal part, maybe ""
        final_slot = self.slots[-1][0] if self.slots else -1
        for pos, part in enumerate(self.parts):
            if pos in at:
                index, html = at[pos]
                out.append((index, pos == final_slot and self.parts[last] == "", html))
            elif pos == last:
                if part:
                    out.append(qp_line(part))
            elif part:
                out.append(soft_line(part))
        return out


Program = list[bytes | tuple[int, bool, bool]]  # encoded bytes, and slots for values
_NO_TEXT = _Slotted("", "")  # the tail of a piece within one line


class Piece:
    """Compiled output: a first (partial) line, whole lines, a last (partial) line.

    A piece may start and end in the middle of a line of the whole body; the lines in
    between are whole lines, encoded on their own. ``program`` is the same when the piece
    starts a line: quoted-printable bytes (runs joined) and slots for the reader's values.
    """

    __slots__ = ("autoescape", "cache", "head", "middle", "newline", "program", "static", "tail")

    def __init__(
        self,
        text: str,
        where: str,
        *,
        autoescape: bool,
        cache: dict[str, str],
        encoded: dict[str, bytes] | None = None,
    ):
        """``encoded``: lines already encoded (:func:`qp_line`), shared by the pieces of
        an edition: most lines of an item's markup are the same for every paper."""
        self.autoescape = autoescape
        self.cache = cache  # escaped values (shared by an edition's pieces)
        if encoded is None:
            encoded = {}
        elif len(encoded) > 20_000:  # bounded: lines of cards pass through it too
            encoded.clear()
        lines = text.split("\n")
        self.newline = len(lines) > 1
        slotted = [_Slotted(line, where) if "\x01" in line else None for line in lines]
        self.head = slotted[0] or _Slotted(lines[0], where)
        self.tail = (slotted[-1] or _Slotted(lines[-1], where)) if self.newline else _NO_TEXT
        self.middle: list[str | _Slotted] = []  # static runs (text), lines with slots
        self.program: Program = []  # the same, from the first line, encoded
        if not self.newline:
            self.static = True
            return
        run: list[str] = []
        data: list[bytes] = []
        for i in range(len(lines) - 1):
            line, with_slots = lines[i], slotted[i]
            if with_slots is None:
                if i:
                    run.append(line)
                known = encoded.get(line)
                if known is None:
                    known = encoded[line] = qp_line(line)
                data.append(known)
                continue
            if run:
                self.middle.append("\n".join(run) + "\n")
                run.clear()
            if i:
                self.middle.append(with_slots)
            for op in with_slots.encoded():
                if type(op) is bytes:
                    data.append(op)
                else:
                    if data:
                        self.program.append(b"".join(data))
                        data.clear()
                    self.program.append(op)
        if run:
            self.middle.append("\n".join(run) + "\n")
        if data:
            self.program.append(b"".join(data))
        self.static = all(type(op) is bytes for op in self.program)

    def prepare(self, values: Sequence[object]) -> tuple[object, ...]:
        """``values`` as :meth:`fill` wants them: escaped once when autoescaping."""
        if self.autoescape:
            cache = self.cache
            return tuple(escape_value(value, cache) for value in values)
        return tuple(values)

    def fill(self, slotted: _Slotted, values: Sequence[object]) -> str:
        """``slotted`` with prepared values in its slots."""
        if slotted.text is not None:
            return slotted.text
        one = slotted.one
        if one is not None:
            raw = values[one[1]]
            if self.autoescape:
                value = cast(str, raw)  # escaped by :meth:`prepare`
            else:
                value = escape_value(raw, self.cache) if one[3] else str(raw)
            return one[0] + value + one[2]
        parts = slotted.parts.copy()
        if self.autoescape:
            for pos, index, _ in slotted.slots:
                parts[pos] = cast(str, values[index])
        else:
            for pos, index, html in slotted.slots:
                raw = values[index]
                parts[pos] = escape_value(raw, self.cache) if html else str(raw)
        return "".join(parts)

    def encode_into(self, values: Sequence[object], qp: QPEncoder, out: list[bytes]) -> None:
        """The piece (which starts a line) quoted-printable, with prepared ``values``."""
        if self.static:
            out += cast(list[bytes], self.program)
            return
        append, value_lines = out.append, qp.value
        autoescape, cache = self.autoescape, self.cache
        for op in self.program:
            if type(op) is bytes:
                append(op)
                continue
            index, end, html = op
            value = values[index]  # escaped by :meth:`prepare` when autoescaping
            if not autoescape:
                value = escape_value(value, cache) if html else str(value)
            append(value_lines(value, end))  # type: ignore[arg-type]

    def text(self, values: Sequence[object]) -> str:
        """The whole output for prepared ``values``."""
        head = self.fill(self.head, values)
        if not self.newline:
            return head
        middle = "".join(
            part if type(part) is str else self.fill(part, values) + "\n"  # type: ignore[arg-type]
            for part in self.middle
        )
        return f"{head}\n{middle}{self.fill(self.tail, values)}"


class Spliced:
    """One reader's body: pieces with the reader's prepared values; text or quoted-printable."""

    __slots__ = ("_text", "units")

    def __init__(self, units: list[tuple[Piece, Sequence[object]]]):
        self.units = units
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = "".join(piece.text(values) for piece, values in self.units)
        return self._text

    def encode(self, qp: QPEncoder) -> bytes:
        """The body as quoted-printable UTF-8, CRLF line endings: decodes to ``str(self)``
        (each reader's value on physical lines of its own, see :mod:`digest.render.qp`)."""
        out: list[bytes] = []
        self.encode_into(qp, out)
        return b"".join(out)

    def encode_into(self, qp: QPEncoder, out: list[bytes]) -> None:
        """:meth:`encode`, appended to ``out`` in pieces (joined once with the message)."""
        pending = ""  # the start of a line that an earlier piece left open
        for piece, values in self.units:
            if not pending and piece.newline:  # the usual case: the piece starts a line
                piece.encode_into(values, qp, out)
            elif not piece.newline:
                pending += piece.fill(piece.head, values)
                continue
            else:
                out.append(qp.line(pending + piece.fill(piece.head, values)))
                for part in piece.middle:
                    if type(part) is str:
                        out.append(qp.encode(part))
                    else:
                        out.append(qp.line(piece.fill(part, values)))  # type: ignore[arg-type]
            tail = piece.tail
            pending = tail.text if tail.text is not None else piece.fill(tail, values)
        if pending:
            out.append(qp.line(pending))


def render_block(template: jinja2.Template, name: str, context: Mapping[str, Any]) -> str:
    """One block of ``template`` rendered on its own with ``context``."""
    return "".join(template.blocks[name](template.new_context(dict(context))))


def probe(
    template: jinja2.Template, context: Mapping[str, Any], blocks: Sequence[str]
) -> list[str]:
    """The skeleton: ``[text, block name, text, block name, ..., text]``.

    ``template`` is rendered with ``context`` and every block in ``blocks`` replaced by
    its name between markers.
    """
    ctx = template.new_context(dict(context))
    for name in blocks:
        ctx.blocks[name] = [_marker(name)]
    return "".join(template.root_render_func(ctx)).split(BLOCK_MARK)


def _marker(name: str) -> Any:
    def block(context: object) -> Iterator[str]:
        yield f"{BLOCK_MARK}{name}{BLOCK_MARK}"

    return block
