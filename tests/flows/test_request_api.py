"""The request API with FastAPI's TestClient: a batch sent, scored by the flow, answered; bad
bodies refused with the reasons a file gets; the bearer token; the same bytes twice, one batch."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from flows.score_batches import score_batches
from rendezvous.demo.data import make_requests
from rendezvous.request_api import create_app
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings

TOKEN = "s3cret-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
CSV = {"content-type": "text/csv"}


@pytest.fixture
def client(home: Path, seed_demo: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("RENDEZVOUS_API_TOKEN", TOKEN)
    monkeypatch.setenv("RENDEZVOUS_API_MAX_BODY_BYTES", "20000")
    get_settings.cache_clear()
    forget_services()
    seed_demo(rows=None)
    with TestClient(create_app(), headers=AUTH) as api:
        yield api


def _requests(rows: int = 20) -> pd.DataFrame:
    customers = pd.read_parquet(get_services().settings.reference_url)
    return make_requests(rows, customers, datetime(2026, 11, 22, tzinfo=UTC), seed=3, id_prefix="api")


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


@pytest.mark.usefixtures("prefect_api")
def test_a_batch_sent_is_scored_and_its_response_held_until_it_is_out(client: TestClient) -> None:
    frame = _requests()
    sent = client.post("/v1/batches", content=_csv(frame), headers=CSV)
    assert sent.status_code == 201, sent.text
    batch_id = sent.json()["batch_id"]
    assert client.get(f"/v1/batches/{batch_id}").json()["state"] == "queued"
    pending = client.get(f"/v1/batches/{batch_id}/response", params={"wait": 0})
    assert (pending.status_code, pending.json()["state"]) == (202, "queued")

    scorer = threading.Thread(target=score_batches)  # the warm scorer, while the call is held
    scorer.start()
    answered = client.get(f"/v1/batches/{batch_id}/response", params={"wait": 60})
    scorer.join()

    assert answered.status_code == 200, answered.text
    assert answered.headers["content-type"].startswith("text/csv")
    response = pd.read_csv(io.BytesIO(answered.content))
    assert sorted(response["request_id"]) == sorted(frame["request_id"])
    assert set(response["served_by"]) == {"live"}
    state = client.get(f"/v1/batches/{batch_id}").json()
    assert (state["state"], state["rows_in"], state["rows_scored"]) == ("committed", 20, 20)


@pytest.mark.usefixtures("prefect_api")
def test_two_clients_sending_the_same_bytes_make_one_batch(client: TestClient, home: Path) -> None:
    body = _csv(_requests())
    first = client.post("/v1/batches", content=body, headers=CSV).json()
    second = client.post("/v1/batches", content=body, headers=CSV).json()
    assert first["batch_id"] == second["batch_id"]
    assert len(list((home / "inbox").iterdir())) == 1
    (outcome,) = score_batches()
    assert outcome["batch_id"] == first["batch_id"] and outcome["state"] == "committed"
    again = client.post("/v1/batches", content=body, headers=CSV)
    assert (again.status_code, again.json()) == (200, {"batch_id": first["batch_id"], "queued": False})


def test_a_json_array_is_taken_as_rows(client: TestClient, home: Path) -> None:
    frame = _requests(3)
    rows = frame.to_json(orient="records")
    sent = client.post("/v1/batches", content=rows, headers={"content-type": "application/json"})
    assert sent.status_code == 201, sent.text
    (queued,) = (home / "inbox").iterdir()
    assert queued.suffix == ".jsonl" and len(queued.read_text().splitlines()) == 3


@pytest.mark.parametrize(
    "body, content_type, status, reason",
    [
        (b"", "text/csv", 422, "empty file"),
        (b"a,b\n1,2\n", "text/csv", 422, "columns do not match the contract"),
        (b"request_id,x\n\xff\xfe,1\n", "text/csv", 422, "UTF-8"),
        (b"x" * 20001, "text/csv", 413, "RENDEZVOUS_API_MAX_BODY_BYTES"),
        (b"[1, 2]", "application/json", 422, "array of objects"),
        (b"a,b\n", "application/xml", 415, "unsupported content type"),
    ],
    ids=["empty", "wrong-columns", "not-utf8", "too-large", "json-not-rows", "unknown-type"],
)
def test_bad_bodies_are_refused_with_the_reason_and_nothing_is_queued(
    client: TestClient, home: Path, body: bytes, content_type: str, status: int, reason: str
) -> None:
    refused = client.post("/v1/batches", content=body, headers={"content-type": content_type})
    assert refused.status_code == status, refused.text
    assert reason in refused.json()["error"]
    assert not any((home / "inbox").glob("api-*"))


def test_the_bearer_token_is_required(client: TestClient) -> None:
    body = _csv(_requests(2))
    for headers in ({"authorization": ""}, {"authorization": "Bearer wrong"}):
        refused = client.post("/v1/batches", content=body, headers={**CSV, **headers})
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/batches/api-x-y", headers={"authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/v1/batches/api-x-y").status_code == 404  # the right token


def test_without_a_token_only_loopback_clients_are_served(home: Path, seed_demo: Any) -> None:
    seed_demo(rows=None)
    body = _csv(_requests(2))
    with TestClient(create_app()) as remote:  # TestClient's client address is not loopback
        refused = remote.post("/v1/batches", content=body, headers=CSV)
    assert refused.status_code == 403 and "RENDEZVOUS_API_TOKEN" in refused.json()["error"]
    with TestClient(create_app(), client=("127.0.0.1", 50000)) as local:
        assert local.post("/v1/batches", content=body, headers=CSV).status_code == 201
