"""The digest templates, compiled for one edition: blocks per key, skeletons per shape.

A digest template has four blocks: ``head`` and ``foot`` (once per email), ``section``
(per section) and ``item`` (per paper, ``scoped`` to see ``section`` and ``item``), and may
have a fifth, ``entry`` (per paper again, for an index of the issue: a second loop over the
sections and items). Each is rendered once per edition and key, with the values that
differ between readers as placeholders (:mod:`digest.render.splice`):

=========  ========================================  =====================================
block      key (what its text may depend on)         per reader (output as is only)
=========  ========================================  =====================================
head/foot  ``cold_start``, ``frequency``,            ``intro``, ``preheader``, ``links``,
           ``paper_count``, ``more_count``           ``recipient``
section    ``section.title``, ``section.note``       the same as head and foot
item       ``item.card``, ``item.number`` (only if   ``item.why``, ``item.feedback_up``,
           the block uses it)                        ``item.feedback_down``,
                                                     ``item.label``, ``item.why_text``,
                                                     and the above
entry      ``item.card``                             the same as item
=========  ========================================  =====================================

Every block also sees the edition's values (``brand``, ``edition``, ``contact_line``,
``postal_address``). The text around the blocks is rendered once per shape (cold start,
frequency, items per section) with the blocks left out; it may use the edition's values
and those of the shape (``paper_count``...), and the loops. The subject differs per
reader and is not theirs to use: it is the subject line only.

Every block key is checked once against the block rendered with the reader's real values,
and every shape once against the whole template rendered with Jinja, so a template that
breaks these rules fails with a ConfigError instead of sending wrong mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from digest.errors import ConfigError
from digest.render.splice import Forbidden, Hole, Piece, Spliced, escape_value, probe, render_block
from digest.render.view import Item, Section

BLOCKS = ("head", "section", "item", "foot")
OPTIONAL_BLOCKS = ("entry",)  # an index entry per item ("In this issue", in both parts)
EDITION_VALUES = ("brand", "edition", "contact_line", "postal_address")
# The same for readers of one shape: head, foot and the skeleton see them, items do not.
SHAPE_VALUES = ("paper_count", "more_count", "cold_start", "frequency")
# Values of a reader that no block may use (the subject names the reader's first paper:
# the templates show it only in the subject line).
HIDDEN_VALUES = ("subject", "topics")
# The values that differ between readers, by their index in a piece's values.
SCALARS = (
    "intro",
    "preheader",
    "links.unsubscribe",
    "links.preferences",
    "links.view_online",
    "links.unsubscribe_token",
    "recipient.email",
    "recipient.name",
)
ITEM_VALUES = ("item.why", "item.feedback_up", "item.feedback_down", "item.label", "item.why_text")


def scalars(view: dict[str, Any]) -> tuple[object, ...]:
    """A reader's values in the order of :data:`SCALARS`."""
    links, recipient = view["links"], view["recipient"]
    return (
        view["intro"],
        view["preheader"],
        links.unsubscribe,
        links.preferences,
        links.view_online,
        links.unsubscribe_token,
        recipient["email"],
        recipient["name"],
    )


@dataclass(frozen=True, slots=True)
class _Links:
    unsubscribe: object
    preferences: object
    view_online: object
    unsubscribe_token: object


class _UsesNumber(Exception):
    """The item block uses the item's number: it becomes part of the key."""


class _UsesEdition(Exception):
    """The block uses ``edition``: its pieces are the edition's own, not shared."""


class _Probe:
    """Stands for a value while finding out whether a block uses it: any use raises
    ``raises``."""

    raises: type[Exception] = Exception

    def _used(self, *args: object) -> Any:
        raise self.raises

    __html__ = __str__ = __bool__ = __int__ = __index__ = __float__ = __format__ = _used
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __add__ = __radd__ = _used
    __sub__ = __rsub__ = __mul__ = __rmul__ = __mod__ = __rmod__ = __len__ = __iter__ = _used
    __hash__ = object.__hash__

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._used()


class _NumberProbe(_Probe):
    """Stands for ``item.number`` while finding out whether the item block uses it."""

    raises = _UsesNumber


class _EditionProbe(_Probe):
    """Stands for ``edition`` while finding out whether an item or entry block uses it."""

    raises = _UsesEdition


class SharedPieces:
    """Item and entry pieces shared by a renderer's editions (and kept when an edition is
    prepared anew), for templates whose item and entry blocks do not use ``edition``: the
    other values such a block sees are the renderer's (brand, contact line, address) and
    the card's, so a card is compiled once per process instead of once per edition. Keyed
    by the whole card (a paper's card may change between editions: its upvotes, its
    links). Bounded: started afresh past ``limit`` pieces."""

    def __init__(self, limit: int = 20_000):
        self.limit = limit
        self.pieces: dict[tuple[object, ...], Piece] = {}
        self.edition_free: dict[tuple[jinja2.Template, str], bool] = {}  # per block

    def get(self, key: tuple[object, ...]) -> Piece | None:
        return self.pieces.get(key)

    def put(self, key: tuple[object, ...], piece: Piece) -> None:
        if len(self.pieces) >= self.limit:
            self.pieces = {}
        self.pieces[key] = piece


class TemplateBlocks:
    """One digest template compiled for one edition."""

    def __init__(
        self,
        template: jinja2.Template,
        escaped: dict[str, str],
        shared: SharedPieces | None = None,
    ):
        missing = [name for name in BLOCKS if name not in template.blocks]
        if missing:
            raise ConfigError(
                f"template {template.name}: needs the blocks {', '.join(BLOCKS)} "
                f"(missing: {', '.join(missing)}); see docs/email.md"
            )
        self.template = template
        self.names = BLOCKS + tuple(name for name in OPTIONAL_BLOCKS if name in template.blocks)
        self.autoescape = bool(template.environment.autoescape)
        self.escaped = escaped  # escaped values that recur (reasons, names), shared
        self.encoded: dict[str, bytes] = {}  # static lines, encoded (the same markup per item)
        self.items: dict[object, Piece] = {}
        self.entries: dict[object, Piece] = {}
        self.sections: dict[tuple[str, str], Piece] = {}
        self.ends: dict[tuple[object, ...], Piece] = {}  # head and foot
        self.skeletons: dict[tuple[object, ...], list[Piece | str]] = {}
        self.number_in_key = False  # found out on the first item
        self.shared = shared

    def spliced(
        self,
        view: dict[str, Any],
        shape: tuple[object, ...],
        values: tuple[object, ...],
        items: Sequence[Item],
    ) -> Spliced:
        """A reader's body: ``values`` are the reader's :func:`scalars`."""
        skeleton = self.skeletons.get(shape)
        if skeleton is None:
            skeleton = self.skeletons[shape] = self._skeleton(view)
        if self.autoescape:  # each value escaped once, not at every use
            cache = self.escaped
            values = tuple([escape_value(value, cache) for value in values])
        units: list[tuple[Piece, Sequence[object]]] = []
        append = units.append
        next_item = iter(items).__next__
        next_entry = iter(items).__next__
        next_section = iter(view["sections"]).__next__
        for entry in skeleton:
            if type(entry) is Piece:
                append((entry, ()))
            elif entry == "item":
                item = next_item()
                paper = item.card.key
                key = (paper, item.number) if self.number_in_key else paper
                piece = self.items.get(key) or self._item(view, item)
                up, down, why, label = item.feedback_up, item.feedback_down, item.why, item.label
                why_text = item.why_text
                if self.autoescape:
                    cache = self.escaped
                    why = escape_value(why, cache)
                    up = escape_value(up, cache)
                    down = escape_value(down, cache)
                    label = escape_value(label, cache)
                    why_text = escape_value(why_text, cache)
                append((piece, (*values, why, up, down, label, why_text)))
            elif entry == "entry":
                item = next_entry()
                piece = self.entries.get(item.card.paper_id) or self._entry(view, item)
                append((piece, values))
            elif entry == "section":
                section = next_section()
                key = (section.title, section.note)
                piece = self.sections.get(key) or self._section(view, section)
                append((piece, values))
            else:
                key = (
                    view["cold_start"],
                    view["frequency"],
                    view["paper_count"],
                    view["more_count"],
                    entry,
                )
                append((self.ends.get(key) or self._end(view, key), values))
        return Spliced(units)

    # -- compiling ----------------------------------------------------------------------
    def _item(self, view: dict[str, Any], item: Item) -> Piece:
        def holes(context: dict[str, Any], where: str) -> None:
            number: object = item.number if self.number_in_key else _NumberProbe()
            hole = (Hole(i, n, where) for i, n in enumerate(ITEM_VALUES, len(SCALARS)))
            context["item"] = Item(number, item.card, *hole)  # type: ignore[arg-type]
            self._probe_edition("item", context)

        def real(context: dict[str, Any], where: str) -> None:
            context["item"] = item
            self._probe_edition("item", context)

        paper = item.card.key
        key = (paper, item.number) if self.number_in_key else paper
        # Shared under the whole card: a paper's card may differ between editions (upvotes).
        shared_key = (item.card, item.number) if self.number_in_key else item.card
        piece = self._shared("item", shared_key)
        if piece is not None:
            self.items[key] = piece
            return piece
        extra = (item.why, item.feedback_up, item.feedback_down, item.label, item.why_text)
        while True:
            try:
                piece = self._compile("item", view, holes, real, extra)
                break
            except _UsesNumber:
                self.number_in_key = True
                self.items.clear()  # their keys lack the number
            except _UsesEdition:
                self._edition_used("item")
        key = (paper, item.number) if self.number_in_key else paper
        self.items[key] = piece
        self._share("item", (item.card, item.number) if self.number_in_key else item.card, piece)
        return piece

    def _entry(self, view: dict[str, Any], item: Item) -> Piece:
        """An index entry: what it shows may depend on the card only (no reader's value)."""

        def both(context: dict[str, Any], where: str) -> None:
            hole = (Forbidden(i, n, where) for i, n in enumerate(ITEM_VALUES, len(SCALARS)))
            context["item"] = Item(Forbidden(0, "item.number", where), item.card, *hole)  # type: ignore[arg-type]
            self._probe_edition("entry", context)

        piece = self._shared("entry", item.card)
        if piece is None:
            while True:
                try:
                    piece = self._compile("entry", view, both, both, ())
                    break
                except _UsesEdition:
                    self._edition_used("entry")
            self._share("entry", item.card, piece)
        self.entries[item.card.paper_id] = piece
        return piece

    # -- pieces shared by the renderer's editions ----------------------------------------
    def _edition_free(self, block: str) -> bool:
        """Whether ``block`` may be shared: not known to use ``edition``."""
        shared = self.shared
        return shared is not None and shared.edition_free.get((self.template, block), True)

    def _probe_edition(self, block: str, context: dict[str, Any]) -> None:
        if self._edition_free(block):
            context["edition"] = _EditionProbe()

    def _edition_used(self, block: str) -> None:
        assert self.shared is not None  # only probed when shared
        self.shared.edition_free[(self.template, block)] = False

    def _shared(self, block: str, key: object) -> Piece | None:
        if not self._edition_free(block):
            return None
        return self.shared.get((self.template, block, key))  # type: ignore[union-attr]

    def _share(self, block: str, key: object, piece: Piece) -> None:
        if self._edition_free(block):
            self.shared.put((self.template, block, key), piece)  # type: ignore[union-attr]

    def _section(self, view: dict[str, Any], section: Section) -> Piece:
        def both(context: dict[str, Any], where: str) -> None:
            items = Forbidden(0, "section.items", where)
            context["section"] = Section(section.title, items, section.note)  # type: ignore[arg-type]

        key = (section.title, section.note)
        piece = self.sections[key] = self._compile("section", view, both, both, ())
        return piece

    def _end(self, view: dict[str, Any], key: tuple[object, ...]) -> Piece:
        piece = self.ends[key] = self._compile(str(key[-1]), view, None, None, ())
        return piece

    def _compile(
        self,
        name: str,
        view: dict[str, Any],
        holes: Any,
        real: Any,
        extra: tuple[object, ...],
    ) -> Piece:
        """One block rendered with placeholders, and checked with the reader's values."""
        where = f"{self.template.name}, block {name}"
        shape = name not in ("item", "section", "entry")  # items and sections are per key only
        with_holes = self._context(view, where, holes=True, shape=shape)
        with_values = self._context(view, where, holes=False, shape=shape)
        if holes is not None:
            holes(with_holes, where)
            real(with_values, where)
        text = render_block(self.template, name, with_holes)
        piece = Piece(
            text, where, autoescape=self.autoescape, cache=self.escaped, encoded=self.encoded
        )
        values = piece.prepare((*scalars(view), *extra))
        if piece.text(values) != render_block(self.template, name, with_values):
            raise ConfigError(
                f"template {where}: the block does not give the same text with the reader's "
                "values filled in; values that differ per reader may only be output as they "
                "are, and the rest may only depend on the block's key (see docs/email.md)"
            )
        return piece

    def _context(
        self, view: dict[str, Any], where: str, *, holes: bool, shape: bool = True
    ) -> dict[str, Any]:
        """What a block sees: the edition's values, and the reader's (or placeholders)."""
        context = {name: view[name] for name in EDITION_VALUES}
        for name in SHAPE_VALUES:
            context[name] = view[name] if shape else Forbidden(0, name, where)
        if holes:
            hole = {name: Hole(i, name, where) for i, name in enumerate(SCALARS)}
            context["intro"] = hole["intro"]
            context["preheader"] = hole["preheader"]
            context["links"] = _Links(
                hole["links.unsubscribe"],
                hole["links.preferences"],
                hole["links.view_online"],
                hole["links.unsubscribe_token"],
            )
            context["recipient"] = {
                "email": hole["recipient.email"],
                "name": hole["recipient.name"],
            }
        else:
            for name in ("intro", "preheader", "links", "recipient"):
                context[name] = view[name]
        for name in ("sections", "section", "item", *HIDDEN_VALUES):
            context[name] = Forbidden(0, name, where)
        return context

    def _skeleton(self, view: dict[str, Any]) -> list[Piece | str]:
        """The template for the shape of ``view``, blocks left out: static pieces, names."""
        where = f"{self.template.name} (outside the blocks)"
        context = self._context(view, where, holes=True)
        context["sections"] = [
            Section(
                Forbidden(0, "section.title", where),  # type: ignore[arg-type]
                tuple(Forbidden(0, "item", where) for _ in section.items),  # type: ignore[misc]
            )
            for section in view["sections"]
        ]
        parts = probe(self.template, context, self.names)
        if any("\x01" in text for text in parts[0::2]):
            raise ConfigError(
                f"template {where}: values that differ per reader may only be used inside "
                f"the blocks {', '.join(BLOCKS)}"
            )
        names = parts[1::2]
        count = sum(len(section.items) for section in view["sections"])
        if (
            names.count("section") != len(view["sections"])
            or names.count("item") != count
            or names.count("entry") not in (0, count)
        ):
            raise ConfigError(
                f"template {self.template.name}: the section and item blocks must be "
                "rendered once per section and item (and entry, if any, once per item)"
            )
        return [
            Piece(part, where, autoescape=False, cache=self.escaped, encoded=self.encoded)
            if i % 2 == 0
            else part
            for i, part in enumerate(parts)
            if part  # nothing between two blocks: no piece
        ]
