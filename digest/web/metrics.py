"""``/metrics``: the Prometheus exposition of ``digest.metrics``, when the settings ask for it.

Not served at all unless ``DIGEST_METRICS=1`` or ``DIGEST_METRICS_TOKEN`` is set; with a
token, a request must carry ``Authorization: Bearer TOKEN`` (401 otherwise). A GET reads
and changes nothing; the numbers come from the database (cached a few seconds), so every
web process answers the same.
"""

from __future__ import annotations

import logging

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from digest.metrics import DigestCollector, SnapshotCache, bearer_ok, read_snapshot
from digest.pipeline.runtime import Runtime

log = logging.getLogger(__name__)


def routes(rt: Runtime) -> list[BaseRoute]:
    settings = rt.settings
    if not settings.metrics_served:
        return []
    token = settings.metrics_token
    registry = CollectorRegistry()  # ours alone: nothing of the process's global registry
    registry.register(DigestCollector(SnapshotCache(lambda: read_snapshot(rt.db))))

    async def metrics(request: Request) -> Response:
        if not bearer_ok(request.headers.get("authorization"), token):
            return PlainTextResponse(
                "a bearer token is needed (DIGEST_METRICS_TOKEN)\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        try:
            body = await run_in_threadpool(generate_latest, registry)
        except SQLAlchemyError as exc:
            log.warning("metrics: database unreachable: %s", exc)
            return PlainTextResponse("database unreachable\n", status_code=503)
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return [Route("/metrics", metrics, methods=["GET"])]
