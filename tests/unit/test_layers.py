"""The layering of docs/architecture.md, checked on the source (issue 19):

- ``digest/rank/`` and ``digest/render/`` import nothing of ``digest.db`` (plain data in,
  plain data out: no session reaches them);
- the services (``digest/pipeline/``, ``digest/embeddings.py``, ``digest/subscriptions.py``,
  ``digest/deliver/inbound.py``) build no SQL and run no statement on a session or a
  connection themselves: they call the named functions of ``digest/db/``;
- an import inside a function is there to load something heavy late (the CLI starts at
  once: ``tests/cli/test_startup.py``), never to dodge an import cycle, and says so in a
  comment with the word "lazy" on its line or in the comment right above it.

Each rule is also run on a snippet that breaks it, so it cannot pass by finding nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "digest"

PURE = ["rank", "render"]
SERVICES = ["pipeline", "embeddings.py", "subscriptions.py", "deliver/inbound.py"]
STATEMENTS = {"select", "insert", "update", "delete", "text"}  # sqlalchemy constructs
RUNS = {"execute", "scalar", "scalars", "get", "get_one", "query"}  # on a session/connection
HOLDERS = {"session", "conn", "connection"}


def modules(*parts: str) -> list[Path]:
    found: list[Path] = []
    for part in parts:
        path = PACKAGE / part
        found.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return found


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, module) of every import, relative ones resolved against nothing (digest
    uses absolute imports only)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def db_imports(source: str) -> list[int]:
    tree = ast.parse(source)
    return sorted(
        {line for line, name in imported(tree) if name.split(".")[:2] == ["digest", "db"]}
    )


def own_queries(source: str) -> list[str]:
    """Statements a module builds or runs itself."""
    tree = ast.parse(source)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [
                f"{node.lineno}: imports {a.name}" for a in node.names if a.name in STATEMENTS
            ]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in RUNS
        ):
            holder = node.func.value
            name = holder.attr if isinstance(holder, ast.Attribute) else getattr(holder, "id", "")
            if name in HOLDERS:
                found.append(f"{node.lineno}: {name}.{node.func.attr}(...)")
    return found


def unexplained_late_imports(source: str) -> list[int]:
    """Lines of imports inside functions without a "lazy" comment on the line or in the
    comment block right above the import block."""
    tree = ast.parse(source)
    lines = source.splitlines()
    bad: list[int] = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if "lazy" in lines[node.lineno - 1].lower():
                continue
            above = node.lineno - 2  # walk up over the import block, then its comments
            while above >= 0 and (
                not lines[above].strip() or lines[above].strip().startswith(("import ", "from "))
            ):
                above -= 1
            comments: list[str] = []
            while above >= 0 and lines[above].strip().startswith("#"):
                comments.append(lines[above])
                above -= 1
            if not any("lazy" in c.lower() for c in comments):
                bad.append(node.lineno)
    return bad


@pytest.mark.parametrize("path", modules(*PURE), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_core_imports_no_database(path: Path) -> None:
    assert db_imports(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", modules(*SERVICES), ids=lambda p: str(p.relative_to(ROOT)))
def test_services_query_only_through_digest_db(path: Path) -> None:
    assert own_queries(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "path",
    sorted([*PACKAGE.rglob("*.py"), *(ROOT / "scheduler").rglob("*.py")]),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_imports_inside_functions_are_lazy_on_purpose(path: Path) -> None:
    if "migrations" in path.parts:  # Alembic runs migration scripts on its own terms
        return
    assert unexplained_late_imports(path.read_text(encoding="utf-8")) == []


def test_the_checks_find_what_they_look_for() -> None:
    assert db_imports("from digest.db import repo\n") == [1]
    assert db_imports("def f():\n    import digest.db.vectors\n") == [2]
    assert db_imports("from digest import db\n") == [1]
    assert db_imports("from digest.rank import semantic\n") == []
    assert own_queries("from sqlalchemy import select\n") == ["1: imports select"]
    assert own_queries("def f(session):\n    session.get_one(X, 1)\n") == [
        "2: session.get_one(...)"
    ]
    assert own_queries("def f(self):\n    self.conn.execute(q)\n") == ["2: conn.execute(...)"]
    assert own_queries("def f(d):\n    d.get('k')\n") == []
    cycle = "def f():\n    from digest.db import repo\n"
    assert unexplained_late_imports(cycle) == [2]
    inline = "def f():\n    import sklearn  # lazy: heavy\n"
    assert unexplained_late_imports(inline) == []
    above = "def f():\n    # Lazy: heavy.\n    import celery\n    from x import y\n"
    assert unexplained_late_imports(above) == []
