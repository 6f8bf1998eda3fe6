"""The pipeline: service functions, run in-process or as Celery tasks.

``celery -A digest.pipeline worker`` finds the Celery ``app`` here; it is created lazily so
that in-process runs never import Celery's worker machinery.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("app", "celery"):
        # Lazy: `celery -A digest.pipeline` finds the app here; importing the package
        # (every `digest run`) must not load Celery.
        from digest.pipeline.celery_app import app

        return app
    raise AttributeError(name)
