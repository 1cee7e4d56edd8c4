"""`rendezvous api`: serve the request API (rendezvous.request_api) with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from rendezvous.cli.console import fail
from rendezvous.server_auth import is_loopback
from rendezvous.services import get_services


def api(
    host: Annotated[
        str, typer.Option(help="Address to bind; beyond loopback only with RENDEZVOUS_API_TOKEN.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Take request batches over HTTP (POST /v1/batches) and answer them (GET .../response);
    a scorer (`rendezvous score --watch`, or a served deployment) must run beside it."""
    import uvicorn

    from rendezvous.request_api import create_app

    if get_services().settings.api_token is None and not is_loopback(host):
        raise fail(f"refused: without RENDEZVOUS_API_TOKEN the API listens on loopback only, not {host}", 2)
    uvicorn.run(create_app(), host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    app.command()(api)
