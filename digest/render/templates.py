"""Email templates: MJML compiled once per template file and cached, Jinja per recipient.

``foo.mjml.j2`` is MJML with Jinja inside. It is compiled by mjml-python (mrml) to HTML
the first time it is needed (and again only if the file changes); the resulting HTML is a
Jinja template with autoescape on. ``foo.txt.j2`` and ``foo.subject.j2`` are plain Jinja
templates with autoescape off.

``{% fragment key %}...{% endfragment %}`` marks template output that depends only on
``key`` (a paper card): it is rendered once per key and edition and reused for every
reader (see :class:`FragmentCache`).

The compiled HTML gets a line break around the content of every ``mj-text`` (where
whitespace does not change the rendering): the content is then on lines of its own.
Every run of whole lines without Jinja syntax then becomes a *static run*, encoded to
quoted-printable once (:func:`split_static`, :class:`HtmlTemplate`); per reader, the
line cache of :mod:`digest.render.mime` encodes only the lines between the runs, most
of which it has seen before. The result is byte for byte the encoding of the whole body.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import jinja2
import mjml
from jinja2 import nodes
from jinja2.ext import Extension

from digest.errors import ConfigError

_MJ_TEXT = re.compile(
    r'(<td[^>]*word-break:break-word;"[^>]*><div style="[^"]*">)(.*?)(</div></td></tr>)', re.S
)
# The title, the hidden preheader and the body wrapper (whose aria-label is the subject).
_HEAD_BREAKS = (
    re.compile(r"(<title>)(.*?)(</title>)", re.S),
    re.compile(r'(<div class="preheader"[^>]*>)(.*?)(</div>)', re.S),
    re.compile(r'(<div aria-label="[^"]*"[^>]*>)()()'),
)


class FragmentCache(Extension):
    """``{% fragment key %}body{% endfragment %}``: the body rendered once per key.

    The cache is the ``_fragments`` dict of the render context (one per prepared edition);
    without one the body is simply rendered. The body may only use what ``key`` determines.
    It compiles to plain inline code (a lookup, and on a miss a captured block and a
    store), cheaper than a call block, since it runs once per paper of every email.
    """

    tags: ClassVar[set[str]] = {"fragment"}

    def __init__(self, environment: jinja2.Environment):
        super().__init__(environment)
        self._count = 0

    def parse(self, parser: jinja2.parser.Parser) -> list[nodes.Node]:
        lineno = next(parser.stream).lineno
        key = parser.parse_expression()
        body = parser.parse_statements(("name:endfragment",), drop_needle=True)
        self._count += 1
        name = f"_fragment_{self._count}"
        args = [nodes.ContextReference(), nodes.Const(f"{parser.name}:{lineno}"), key]
        lookup = nodes.Call(self.attr("_get", lineno=lineno), args, [], None, None)
        store = nodes.Call(
            self.attr("_put", lineno=lineno), [*args, nodes.Name(name, "load")], [], None, None
        )
        missing = nodes.Test(nodes.Name(name, "load"), "none", [], [], None, None)
        render = [nodes.AssignBlock(nodes.Name(name, "store"), None, body), nodes.ExprStmt(store)]
        return [
            nodes.Assign(nodes.Name(name, "store"), lookup).set_lineno(lineno),
            nodes.If(missing, render, [], []).set_lineno(lineno),
            nodes.Output([nodes.Name(name, "load")]).set_lineno(lineno),
        ]

    @staticmethod
    def _get(context: Any, ident: str, key: object) -> str | None:
        store = context.get("_fragments")
        return None if store is None else store.get((ident, key))

    @staticmethod
    def _put(context: Any, ident: str, key: object, output: str) -> None:
        store = context.get("_fragments")
        if store is not None:
            store[(ident, key)] = output


def compile_mjml(source: str, name: str, include: Callable[[str], str] | None = None) -> str:
    """MJML (with Jinja inside) to HTML (with Jinja inside), text content on its own lines."""
    try:
        html = mjml.mjml2html(source, disable_comments=True, fonts={}, include_loader=include)
    except ConfigError:
        raise
    except Exception as exc:  # mrml raises a plain exception with its parse error
        raise ConfigError(f"template {name}: MJML does not compile: {exc}") from None
    html = _MJ_TEXT.sub(lambda m: f"{m[1]}\n{m[2]}\n{m[3]}\n", html)
    for pattern in _HEAD_BREAKS:
        html = pattern.sub(lambda m: "\n" + "\n".join(filter(None, m.groups())) + "\n", html, 1)
    return html.rstrip("\n") + "\n"


MARK = "\x00"  # brackets the id of a static run in rendered output (never in data)
_template_ids = itertools.count(1)


def split_static(source: str, env: jinja2.Environment, prefix: str) -> tuple[str, dict[str, str]]:
    """Replace each run of whole lines without Jinja syntax by a marker line.

    In a template rendered without ``trim_blocks``/``lstrip_blocks`` (nor whitespace
    control) such a run is always output whole, at the start of a line: its marker
    line, ``MARK id MARK``, stands alone on a line. Quoted-printable being line-local,
    each run can then be encoded once, when the template is compiled, and the encoder
    finds it by its marker line like any other cached line (see :class:`HtmlTemplate`).
    """
    if any(mark in source for mark in ("{%-", "-%}", "{{-", "-}}", "{#-", "-#}")):
        return source, {}  # whitespace control can move a run off a line start: no runs
    dynamic: set[int] = set()
    for lineno, kind, value in env.lex(source):
        if kind != "data":
            dynamic.update(range(lineno, lineno + value.count("\n") + 1))
    runs: dict[str, str] = {}
    out: list[str] = []
    run: list[str] = []

    def close_run() -> None:
        marker = f"{MARK}{prefix}.{len(runs)}{MARK}"
        runs[marker] = "".join(run)
        out.append(marker + "\n")
        run.clear()

    for number, line in enumerate(source.splitlines(keepends=True), 1):
        if number in dynamic or not line.endswith("\n"):
            if run:
                close_run()
            out.append(line)
        else:
            run.append(line)
    if run:
        close_run()
    return "".join(out), runs


class RenderedHtml:
    """A rendered HTML body whose static runs are still markers (encoded once, reused)."""

    __slots__ = ("_html", "_raw", "_template")

    def __init__(self, template: HtmlTemplate, raw: str):
        self._template = template
        self._raw = raw
        self._html: str | None = None

    def __str__(self) -> str:
        if self._html is None:
            raw = self._raw
            if MARK in raw:
                runs = self._template.runs
                pieces = raw.split(MARK)
                for i in range(1, len(pieces), 2):
                    pieces[i] = runs[f"{MARK}{pieces[i]}{MARK}"]
                    pieces[i + 1] = pieces[i + 1][1:]  # the line break after the marker
                raw = "".join(pieces)
            self._html = raw
        return self._html

    def encode(self, qp: Any) -> bytes:
        """The body as quoted-printable: only the lines between static runs are encoded."""
        self._template.register(qp)
        return qp.encode(self._raw)


class HtmlTemplate:
    """A compiled ``*.mjml.j2``: its Jinja template and its static runs by marker line."""

    def __init__(self, template: jinja2.Template, runs: dict[str, str]):
        self.template = template
        self.runs = runs
        self._registered: object = None

    def register(self, qp: Any) -> None:
        """Give ``qp`` the encoded static runs as permanent cache lines (once per encoder)."""
        if self._registered is not qp:
            qp.add_static(
                {marker: qp.encode(run, cache=False) for marker, run in self.runs.items()}
            )
            self._registered = qp

    def render_parts(self, context: Any) -> RenderedHtml:
        return RenderedHtml(self, self.template.render(context))

    def render(self, context: Any) -> str:
        return str(self.render_parts(context))


class EmailTemplates:
    def __init__(self, directory: Path):
        self.directory = Path(directory) / "email"
        if not self.directory.is_dir():
            raise ConfigError(f"DIGEST_TEMPLATES_DIR: no email templates in {self.directory}")
        common = {
            "undefined": jinja2.StrictUndefined,
            "keep_trailing_newline": True,
            "extensions": [FragmentCache],
            "auto_reload": True,
        }
        self._runs: dict[str, dict[str, str]] = {}
        self._html: dict[str, HtmlTemplate] = {}
        self._html_env = jinja2.Environment(
            loader=jinja2.FunctionLoader(self._load_mjml), autoescape=True, **common
        )
        self._text_env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.directory)),
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            **common,
        )

    def _read(self, name: str, stamps: dict[Path, float]) -> str:
        path = (self.directory / name).resolve()
        if self.directory.resolve() not in path.parents:
            raise ConfigError(f"template {name}: includes must stay in {self.directory}")
        try:
            stamps[path] = path.stat().st_mtime
            return path.read_text(encoding="utf-8")
        except OSError:
            raise ConfigError(f"DIGEST_TEMPLATES_DIR: missing template {path}") from None

    def _load_mjml(self, name: str) -> tuple[str, str, Callable[[], bool]]:
        """Jinja's loader for ``*.mjml.j2``: compile once; again only when a file changed."""
        stamps: dict[Path, float] = {}
        source = self._read(name, stamps)
        html = compile_mjml(source, name, include=lambda path: self._read(path, stamps))
        html, self._runs[name] = split_static(html, self._html_env, f"{next(_template_ids)}")

        def uptodate() -> bool:
            try:
                return all(path.stat().st_mtime == mtime for path, mtime in stamps.items())
            except OSError:
                return False

        return html, str(self.directory / name), uptodate

    def _get(self, env: jinja2.Environment, name: str) -> jinja2.Template:
        try:
            return env.get_template(name)
        except jinja2.TemplateNotFound:
            raise ConfigError(
                f"DIGEST_TEMPLATES_DIR: missing template {self.directory / name}"
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(f"template {name}, line {exc.lineno}: {exc.message}") from None

    def html(self, name: str) -> HtmlTemplate:
        """The compiled HTML template for ``name.mjml.j2`` (MJML compiled once, cached)."""
        file = f"{name}.mjml.j2"
        template = self._get(self._html_env, file)
        cached = self._html.get(file)
        if cached is None or cached.template is not template:
            cached = self._html[file] = HtmlTemplate(template, self._runs[file])
        return cached

    def text(self, name: str) -> jinja2.Template:
        return self._get(self._text_env, f"{name}.txt.j2")

    def subject(self, name: str) -> jinja2.Template:
        return self._get(self._text_env, f"{name}.subject.j2")
