"""The ASGI entry point for uvicorn (and any ASGI server): ``digest.web.asgi:create``.

Settings come from the environment, as for every other command; each server worker
process builds its own app (its own database pool and caches).
"""

from __future__ import annotations

from starlette.applications import Starlette

from digest.db.engine import open_database
from digest.pipeline.runtime import Runtime
from digest.settings import Settings
from digest.web.app import create_app


def create() -> Starlette:
    settings = Settings.from_env()
    return create_app(Runtime.from_settings(settings, db=open_database(settings.database_url)))
