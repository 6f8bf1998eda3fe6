"""Server-rendered pages: the Jinja environment of ``templates/web/`` and HTML responses.

Templates hold all wording and layout; handlers pass plain values. Autoescaping is on for
every template, so a reader's topics or a paper's title can never become markup.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

import jinja2
from starlette.background import BackgroundTask
from starlette.responses import HTMLResponse

from digest import taxonomy
from digest.subscriber_spec import WEEKDAYS

NO_STORE = {"Cache-Control": "no-store"}  # pages behind a personal link: never cached


@functools.cache
def timezones() -> tuple[str, ...]:
    """IANA zones for the time-zone field's suggestions (the old aliases left out)."""
    legacy = ("Etc/", "SystemV/", "US/", "posix/", "right/")
    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith(legacy))
    return (*zones, "UTC")


class Pages:
    """Renders ``templates/web/*.html.j2`` into responses."""

    def __init__(self, templates_dir: Path, *, brand: str, base_url: str):
        self.directory = Path(templates_dir) / "web"
        self.static_dir = self.directory / "static"
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.directory)),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,  # templates are read once per process
        )
        self.env.globals.update(
            brand=brand,
            base_url=base_url,
            static=self.static_url,
            weekdays=[(str(i), name.capitalize()) for i, name in enumerate(WEEKDAYS)],
            hours=[(str(h), f"{h:02d}:00") for h in range(24)],
            timezones=timezones(),
            category_groups=taxonomy.groups(),
            labels={},
        )
        self._versions: dict[str, str] = {}

    def static_url(self, name: str) -> str:
        """``/static/NAME?v=HASH``: cacheable for a year, changed when the file changes."""
        version = self._versions.get(name)
        if version is None:
            data = (self.static_dir / name).read_bytes()
            version = self._versions[name] = hashlib.sha256(data).hexdigest()[:10]
        return f"/static/{name}?v={version}"

    def render_text(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    def render(
        self,
        name: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        background: BackgroundTask | None = None,
        **context: Any,
    ) -> HTMLResponse:
        return HTMLResponse(
            self.render_text(name, **context),
            status_code=status,
            headers={**NO_STORE, **(headers or {})},
            background=background,
        )

    def message(
        self,
        title: str,
        text: str,
        *,
        status: int = 200,
        background: BackgroundTask | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """A page that says one thing (done, not valid, gone) with optional actions."""
        context.setdefault("actions", [])
        context.setdefault("links", [])
        return self.render(
            "message.html.j2",
            status=status,
            background=background,
            title=title,
            text=text,
            **context,
        )
