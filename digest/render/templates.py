"""Email templates: MJML compiled once per template file and cached, Jinja per recipient.

``foo.mjml.j2`` is MJML with Jinja inside. It is compiled by mjml-python (mrml) to HTML
once, the first time it is needed (and again only if the file changes); the resulting HTML
is a Jinja template with autoescape on. ``foo.txt.j2`` and ``foo.subject.j2`` are plain
Jinja templates with autoescape off.
"""

from __future__ import annotations

import threading
from pathlib import Path

import jinja2
import mjml

from digest.errors import ConfigError


class EmailTemplates:
    def __init__(self, directory: Path):
        self.directory = Path(directory) / "email"
        if not self.directory.is_dir():
            raise ConfigError(f"DIGEST_TEMPLATES_DIR: no email templates in {self.directory}")
        loader = jinja2.FileSystemLoader(str(self.directory))
        self._html_env = jinja2.Environment(
            autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
        )
        self._text_env = jinja2.Environment(
            loader=loader,
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._html_cache: dict[str, tuple[float, jinja2.Template]] = {}
        self._lock = threading.Lock()

    def html(self, name: str) -> jinja2.Template:
        """The compiled HTML template for ``name.mjml.j2`` (MJML compiled once, cached)."""
        path = self.directory / f"{name}.mjml.j2"
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            raise ConfigError(f"DIGEST_TEMPLATES_DIR: missing template {path}") from None
        cached = self._html_cache.get(name)
        if cached and cached[0] == mtime:
            return cached[1]
        with self._lock:
            source = path.read_text(encoding="utf-8")
            try:
                compiled = mjml.mjml2html(source, disable_comments=True)
            except Exception as exc:  # mrml raises a plain exception with its parse error
                raise ConfigError(f"template {path.name}: MJML does not compile: {exc}") from None
            template = self._html_env.from_string(compiled)
            self._html_cache[name] = (mtime, template)
            return template

    def text(self, name: str) -> jinja2.Template:
        return self._text_env.get_template(f"{name}.txt.j2")

    def subject(self, name: str) -> jinja2.Template:
        return self._text_env.get_template(f"{name}.subject.j2")
