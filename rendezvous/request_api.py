"""`rendezvous api`: send a request batch and get its response over HTTP, without a shared folder.

An application layer, like the CLI: a body is checked and queued into the inbox
(rendezvous.submissions), a warm scorer (`rendezvous score --watch`, a served deployment) answers
it, and its state and response are read from the ledger and the outbox. Callers present the
bearer token of RENDEZVOUS_API_TOKEN; without one configured, only loopback clients are served.
"""

from __future__ import annotations

import asyncio
import hmac
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from rendezvous import submissions
from rendezvous.batchfiles import BadInput, filesystem
from rendezvous.ledger import TERMINAL
from rendezvous.names import InvalidName, checked_name
from rendezvous.outputs import response_url
from rendezvous.server_auth import is_loopback
from rendezvous.services import Services, get_services
from rendezvous.status import batch_summary

FORMATS = {
    "text/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/json": "json",
}
MEDIA = {"csv": "text/csv", "jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}
POLL_SECONDS = 0.05


def create_app() -> FastAPI:
    app = FastAPI(title="rendezvous request API", version="1")
    app.add_exception_handler(HTTPException, _as_json)

    @app.post("/v1/batches", status_code=201)
    async def send(request: Request) -> JSONResponse:
        """Queue the body as a batch (CSV, JSON Lines, Parquet or a JSON array of rows)."""
        services = _authorized(request)
        fmt = _format(request.headers.get("content-type", ""))
        with tempfile.TemporaryDirectory(prefix="rendezvous-api-") as scratch:
            body = Path(scratch) / f"body.{'jsonl' if fmt == 'json' else fmt}"
            await _spool(request, body, services.settings.api_max_body_bytes)
            try:
                receipt = await run_in_threadpool(_checked_and_queued, services, body, fmt)
            except BadInput as exc:
                raise HTTPException(422, str(exc)) from exc
        return JSONResponse(
            {"batch_id": receipt.batch_id, "queued": receipt.queued},
            status_code=201 if receipt.queued else 200,
        )

    @app.get("/v1/batches/{batch_id}")
    async def state(batch_id: str, request: Request) -> dict[str, Any]:
        """The batch's state and counts (``queued``: in the inbox, not yet taken in)."""
        return await run_in_threadpool(_state, _authorized(request), _checked(batch_id))

    @app.get("/v1/batches/{batch_id}/response")
    async def response(
        batch_id: str,
        request: Request,
        wait: Annotated[float, Query(ge=0, description="Seconds to hold the call until it is out.")] = 0,
    ) -> Response:
        """The response once published; with ``wait``, held until then (at most
        RENDEZVOUS_API_MAX_WAIT_SECONDS); 202 with the state while it is not."""
        services = _authorized(request)
        batch_id = _checked(batch_id)
        until = time.monotonic() + min(wait, services.settings.api_max_wait_seconds)
        while True:
            found = await run_in_threadpool(_response, services, batch_id)
            if isinstance(found, Response) or time.monotonic() >= until:
                return found if isinstance(found, Response) else JSONResponse(found, status_code=202)
            await asyncio.sleep(POLL_SECONDS)

    return app


async def _as_json(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _authorized(request: Request) -> Services:
    """The services, for a caller with the bearer token (or on loopback when none is set)."""
    services = get_services()
    token = services.settings.api_token
    if token is None:
        host = request.client.host if request.client else ""
        if not is_loopback(host):
            raise HTTPException(403, "no RENDEZVOUS_API_TOKEN is set: only loopback clients are served")
        return services
    sent = request.headers.get("authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token.get_secret_value()}".encode()):
        raise HTTPException(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
    return services


def _format(content_type: str) -> str:
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in FORMATS:
        raise HTTPException(415, f"unsupported content type {media!r}; send one of {', '.join(FORMATS)}")
    return FORMATS[media]


async def _spool(request: Request, body: Path, limit: int) -> None:
    """The body into a file, refused (413) as soon as it is larger than ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the body is larger than RENDEZVOUS_API_MAX_BODY_BYTES ({limit} bytes)")
    size = 0
    with body.open("wb") as handle:
        async for block in request.stream():
            size += len(block)
            if size > limit:
                raise HTTPException(
                    413, f"the body is larger than RENDEZVOUS_API_MAX_BODY_BYTES ({limit} bytes)"
                )
            handle.write(block)


def _checked_and_queued(services: Services, body: Path, fmt: str) -> submissions.Receipt:
    if fmt == "json":
        submissions.json_array_to_lines(body)
        fmt = "jsonl"
    submissions.check(services, body, fmt)
    return submissions.queue(services, body, fmt)


def _checked(batch_id: str) -> str:
    try:
        return checked_name(batch_id, "batch id")
    except InvalidName as exc:
        raise HTTPException(404, str(exc)) from exc


def _state(services: Services, batch_id: str) -> dict[str, Any]:
    row = services.ledger.get(batch_id)
    if row is not None:
        return batch_summary(row)
    if submissions.inbox_name(services, batch_id) is not None:
        return {"id": batch_id, "state": "queued"}
    raise HTTPException(404, f"no batch {batch_id!r}")


def _response(services: Services, batch_id: str) -> Response | dict[str, Any]:
    """The published response, or the state (a batch that ended without one: 409)."""
    summary = _state(services, batch_id)
    row = services.ledger.get(batch_id)
    if row is not None:
        settings = services.settings
        fmt = row.format if row.format in MEDIA else "csv"
        fs, path = filesystem(response_url(settings.outbox_url, batch_id, fmt))
        if fs.exists(path):  # published at commit, or at the deadline before it
            return Response(fs.cat_file(path), media_type=MEDIA[fmt])
        if row.state in TERMINAL:
            why = row.reason or "no row was answered"
            raise HTTPException(409, f"batch {batch_id} is {row.state} without a response: {why}")
    return summary
