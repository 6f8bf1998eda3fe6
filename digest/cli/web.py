"""`digest web`: serve the subscription site with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.common import console, load_settings, open_database
from digest.logs import uvicorn_log_config
from digest.web.app import check_settings


def register(app: typer.Typer) -> None:
    app.command()(web)


def web(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = (
        8000
    ),
    workers: Annotated[
        int, typer.Option("--workers", help="Server processes (one per core).", min=1, max=64)
    ] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Behind a reverse proxy: the proxy's IPs whose X-Forwarded-For/-Proto to trust.",
        ),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = True,
) -> None:
    """Serve the subscription site: subscribe, confirm, unsubscribe, preferences, feedback."""
    import uvicorn  # lazy: the server loads only when it is started, not for --help

    settings = load_settings()
    check_settings(settings)
    open_database(settings).dispose()  # fails here, in one line, if the database is not ready
    console.print(f"digest web: serving {settings.base_url} on http://{host}:{port}/")
    uvicorn.run(
        "digest.web.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        access_log=access_log,
        server_header=False,
        timeout_worker_healthcheck=60,  # a new worker process may take seconds to import
        log_level="info",
        log_config=uvicorn_log_config(),
    )
