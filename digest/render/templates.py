"""Email templates: MJML compiled once per template file and cached, Jinja per recipient.

``foo.mjml.j2`` is MJML with Jinja inside. It is compiled by mjml-python (mrml) to HTML
the first time it is needed (and again only if the file changes); the resulting HTML is a
Jinja template with autoescape on. ``foo.txt.j2`` and ``foo.subject.j2`` are plain Jinja
templates with autoescape off.

The compiled HTML gets a line break around the content of every ``mj-text`` (where
whitespace does not change the rendering): text content is then on lines of its own,
which keeps the lines that differ per reader short (see :mod:`digest.render.splice`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import mjml

from digest.errors import ConfigError
from digest.render import layout

if TYPE_CHECKING:  # mjml ships its protocol in a stub only
    from mjml import IncludeLoader

_MJ_TEXT = re.compile(
    r'(<td[^>]*word-break:break-word;"[^>]*><div style="[^"]*">)(.*?)(</div></td></tr>)', re.S
)
# The title, the hidden preheader and the body wrapper (whose aria-label is the subject).
_HEAD_BREAKS = (
    re.compile(r"(<title>)(.*?)(</title>)", re.S),
    re.compile(r'(<div class="preheader"[^>]*>)(.*?)(</div>)', re.S),
    re.compile(r'(<div aria-label="[^"]*"[^>]*>)()()'),
)
# A line holding only Jinja statements ({% for %}, {% block %}...) and white space.
_TAG_LINE = re.compile(r"^[ \t]*((?:\{%(?:(?!%\}).)*%\}[ \t]*)+)\n", re.M)


def compile_mjml(source: str, name: str, include: IncludeLoader | None = None) -> str:
    """MJML (with Jinja inside) to HTML (with Jinja inside), text content on its own lines.

    Lines that hold only Jinja statements are joined to the next line, so that they leave
    no line behind: the output of a ``{% block %}`` then starts and ends at a line break.
    """
    try:
        html = mjml.mjml2html(source, disable_comments=True, fonts={}, include_loader=include)
    except ConfigError:
        raise
    except Exception as exc:  # mrml raises a plain exception with its parse error
        raise ConfigError(f"template {name}: MJML does not compile: {exc}") from None
    html = _MJ_TEXT.sub(lambda m: f"{m[1]}\n{m[2]}\n{m[3]}\n", html)
    for pattern in _HEAD_BREAKS:
        html = pattern.sub(lambda m: "\n" + "\n".join(filter(None, m.groups())) + "\n", html, 1)
    # Statement-only lines leave nothing behind (as lstrip_blocks + trim_blocks would): the
    # output of a block starts and ends on a line boundary.
    html = _TAG_LINE.sub(lambda m: m[1].rstrip(), html)
    return html.rstrip("\n") + "\n"


class EmailTemplates:
    def __init__(self, directory: Path):
        self.directory = Path(directory) / "email"
        if not self.directory.is_dir():
            raise ConfigError(f"DIGEST_TEMPLATES_DIR: no email templates in {self.directory}")
        self._html_env = jinja2.Environment(
            loader=jinja2.FunctionLoader(self._load_mjml),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=True,
        )
        self._text_env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.directory)),
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=True,
        )
        # Plain-text layout in columns (wide characters count two, links stay whole).
        self._text_env.filters["wrap"] = layout.wrap
        self._text_env.filters["columns"] = layout.columns
        self._text_env.filters["shorten"] = layout.shorten

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

    def html(self, name: str) -> jinja2.Template:
        """The compiled HTML template for ``name.mjml.j2`` (MJML compiled once, cached)."""
        return self._get(self._html_env, f"{name}.mjml.j2")

    def text(self, name: str) -> jinja2.Template:
        return self._get(self._text_env, f"{name}.txt.j2")

    def subject(self, name: str) -> jinja2.Template:
        return self._get(self._text_env, f"{name}.subject.j2")
