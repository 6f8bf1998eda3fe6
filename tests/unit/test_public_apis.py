"""No module of ``digest/`` uses a private name of the standard library or a third-party
library: such a name can change or vanish in any release, silently (issue 19).

Each file is parsed with :mod:`ast`, and a use is refused when it

- imports a private module or name (``import a._b``, ``from a._b import c``,
  ``from a import _b``);
- reads a private attribute of an imported module (``json.encoder._x``, ``hmac._y``);
- reads ``._name`` on any object when ``_name`` is defined nowhere in ``digest`` (so it
  belongs to a library: SQLAlchemy's ``type._cached_bind_processor``), unless it is one
  of the few documented ones (:data:`DOCUMENTED`: a namedtuple's ``_replace``, a Row's
  ``_mapping``);
- names one of the undocumented module names we once used (``hmac.trans_36``,
  ``json.encoder.c_make_encoder``); or
- switches the cyclic garbage collector off (a process-wide side effect).

The checker itself is tested on snippets of each kind, so that it cannot pass by
finding nothing.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "digest"

# Undocumented module-level names without a leading underscore that digest once used.
UNDOCUMENTED = {
    ("hmac", "trans_36"),
    ("hmac", "trans_5C"),
    ("json.encoder", "c_make_encoder"),
    ("json.encoder", "encode_basestring_ascii"),
}
# Names with a leading underscore that are documented public API (the underscore keeps
# them apart from the fields or columns a user names).
DOCUMENTED = {
    "_replace": "namedtuple (urllib.parse results): documented in collections",
    "_asdict": "namedtuple: documented in collections",
    "_fields": "namedtuple: documented in collections",
    "_mapping": "SQLAlchemy Row._mapping: documented in the Row API",
}
# Process-wide switches of the garbage collector.
GC_SWITCHES = {("gc", "disable"), ("gc", "freeze"), ("gc", "set_threshold")}


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def own(module: str) -> bool:
    return module == "digest" or module.startswith("digest.")


def load(module: str) -> types.ModuleType | None:
    """The module, if it exists and imports; None otherwise."""
    try:
        if importlib.util.find_spec(module) is None:
            return None
        return importlib.import_module(module)
    except Exception:  # an optional package that is absent or fails to import (torch)
        return None


def hidden(module: str, name: str) -> bool:
    """Whether ``module.name`` is undocumented although its name looks public."""
    return (module, name) in UNDOCUMENTED


def own_private_names(files: list[Path]) -> set[str]:
    """Every private name that some module of digest defines (functions, classes,
    attributes, variables, arguments, slots, import aliases)."""
    names: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store | ast.Del):
                names.add(node.attr)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[0])
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
            ):
                names.update(c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant))
    return {name for name in names if private(name)}


class Checker(ast.NodeVisitor):
    """Problems of one module: ``(line, what)``."""

    def __init__(self, own_names: set[str]):
        self.own_names = own_names
        self.modules: dict[str, str] = {}  # local name -> foreign module it is bound to
        self.problems: list[tuple[int, str]] = []

    def report(self, node: ast.AST, what: str) -> None:
        self.problems.append((getattr(node, "lineno", 0), what))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if own(alias.name):
                continue
            if any(private(part) for part in alias.name.split(".")):
                self.report(node, f"import of private module {alias.name}")
            if alias.asname:
                self.modules[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.modules[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = node.module or ""
        if node.level or own(source) or source == "__future__":
            return
        if any(private(part) for part in source.split(".")):
            self.report(node, f"import from private module {source}")
            return
        for alias in node.names:
            if private(alias.name):
                self.report(node, f"private name {source}.{alias.name}")
            elif hidden(source, alias.name):
                self.report(node, f"undocumented name {source}.{alias.name}")
            if load(f"{source}.{alias.name}") is not None:
                self.modules[alias.asname or alias.name] = f"{source}.{alias.name}"

    def visit_Attribute(self, node: ast.Attribute) -> None:
        path = self.module_path(node.value)
        if path is not None:
            if private(node.attr):
                self.report(node, f"private name {path}.{node.attr}")
            elif (path, node.attr) in GC_SWITCHES:
                self.report(node, f"{path}.{node.attr}: the garbage collector is not ours")
            elif hidden(path, node.attr):
                self.report(node, f"undocumented name {path}.{node.attr}")
        elif private(node.attr) and node.attr not in self.own_names | DOCUMENTED.keys():
            self.report(node, f"private attribute .{node.attr} of a library's object")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        """``getattr(x, "_name")`` and its kin, with a literal name."""
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and private(node.args[1].value)
            and node.args[1].value not in self.own_names | DOCUMENTED.keys()
        ):
            self.report(node, f"private attribute {node.args[1].value} through {node.func.id}")
        self.generic_visit(node)

    def module_path(self, node: ast.expr) -> str | None:
        """The dotted name of the foreign module ``node`` denotes (``json.encoder``), if any."""
        if isinstance(node, ast.Name):
            return self.modules.get(node.id)
        if isinstance(node, ast.Attribute):
            parent = self.module_path(node.value)
            if parent is not None and load(f"{parent}.{node.attr}") is not None:
                return f"{parent}.{node.attr}"
        return None


def check(source: str, own_names: set[str] = frozenset()) -> list[tuple[int, str]]:  # type: ignore[assignment]
    checker = Checker(set(own_names))
    checker.visit(ast.parse(source))
    return checker.problems


def modules() -> Iterator[Path]:
    yield from sorted(PACKAGE.rglob("*.py"))


def test_no_module_of_digest_uses_a_private_library_name() -> None:
    files = list(modules())
    assert len(files) > 50  # the package was found
    own_names = own_private_names(files)
    found = []
    for path in files:
        for line, what in check(path.read_text(), own_names):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {what}")
    assert found == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "from json.encoder import JSONEncoder, c_make_encoder\n",
            [(1, "undocumented name json.encoder.c_make_encoder")],
        ),
        (
            "import json.encoder\njson.encoder.c_make_encoder\n",
            [(2, "undocumented name json.encoder.c_make_encoder")],
        ),
        ("import hmac\nhmac.trans_36\n", [(2, "undocumented name hmac.trans_36")]),
        ("from hmac import trans_5C\n", [(1, "undocumented name hmac.trans_5C")]),
        (
            "def f(table, conn):\n    return table.c.x.type._cached_bind_processor(conn.dialect)\n",
            [(2, "private attribute ._cached_bind_processor of a library's object")],
        ),
        ("import gc\ngc.disable()\n", [(2, "gc.disable: the garbage collector is not ours")]),
        ("import sys\nsys._getframe()\n", [(2, "private name sys._getframe")]),
        ("import os as o\no._exit(1)\n", [(2, "private name os._exit")]),
        ("from collections import _chain\n", [(1, "private name collections._chain")]),
        (
            "import sqlalchemy.sql._typing\n",
            [(1, "import of private module sqlalchemy.sql._typing")],
        ),
        ("from httpx._client import Client\n", [(1, "import from private module httpx._client")]),
        ("from email import policy\npolicy._x\n", [(2, "private name email.policy._x")]),
        ("getattr(o, '_sa_x', None)\n", [(1, "private attribute _sa_x through getattr")]),
    ],
)
def test_the_checker_finds_each_kind(source: str, expected: list[tuple[int, str]]) -> None:
    assert check(source) == expected


def test_the_checker_leaves_public_and_own_names_alone() -> None:
    source = (
        "import hmac, hashlib, json, gc\n"
        "from io import BytesIO\n"
        "from sqlalchemy import select\n"
        "from digest.render.mime import _feedback_part\n"
        "from .mime import _other\n"
        "class A:\n"
        "    def __init__(self):\n"
        "        self._state = hmac.new(b'k', digestmod=hashlib.sha256)\n"
        "    def f(self):\n"
        "        return self._state.copy(), json.dumps([]), gc.collect(), A.__name__\n"
    )
    assert check(source, {"_state"}) == []
    assert check(source) == [
        (8, "private attribute ._state of a library's object"),
        (10, "private attribute ._state of a library's object"),
    ]
