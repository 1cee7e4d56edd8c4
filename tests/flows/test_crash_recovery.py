"""SIGKILL the scoring flow mid-batch, run it again: exactly one score per request per role."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from children import start_scoring
from score_rows import score_rows
from sqlalchemy import func, select

from flows.score_batches import score_batches
from rendezvous.demo.bootstrap import build_demo
from rendezvous.demo.data import make_customers, make_requests
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings
from rendezvous.store.engine import dispose_all
from rendezvous.store.schema import batches, lineage

pytestmark = pytest.mark.usefixtures("prefect_api")
ROWS, CHUNK = 6_000, 500


def _chunks_logged(batch_source: str) -> int:
    store = get_services().store
    with store.begin() as conn:
        return conn.execute(
            select(func.count())
            .select_from(lineage.join(batches, lineage.c.batch_id == batches.c.id))
            .where(batches.c.source == batch_source, lineage.c.step == "log")
        ).scalar_one()


@pytest.mark.slow
def test_kill_mid_batch_then_rerun_leaves_one_score_per_request_per_role(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDEZVOUS_CHUNK_ROWS", str(CHUNK))
    get_settings.cache_clear()
    forget_services()
    build_demo(get_services(), rows_per_batch=50)
    inbox = home / "inbox"
    for stale in inbox.iterdir():
        stale.unlink()
    big = make_requests(ROWS, make_customers(5000, seed=7), datetime(2026, 11, 20, tzinfo=UTC), seed=99)
    big.to_csv(inbox / "big.csv", index=False)

    env = {**os.environ, "PREFECT_HOME": str(home / "prefect-child")}
    env.pop("PREFECT_API_URL", None)
    child = start_scoring(env)
    deadline = time.monotonic() + 120
    while _chunks_logged("big.csv") < 3:
        assert child.poll() is None, "the flow ended before it could be killed"
        assert time.monotonic() < deadline, "the flow never got going"
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    dispose_all()
    forget_services()

    store = get_services().store
    with store.begin() as conn:
        state = conn.execute(select(batches.c.state).where(batches.c.source == "big.csv")).scalar_one()
    assert state == "processing"  # killed mid-batch: claimed, not committed

    (outcome,) = score_batches()
    assert outcome["state"] == "committed"
    assert outcome["rows_in"] == ROWS == outcome["rows_scored"] + outcome["rows_quarantined"]
    logged = score_rows(store, "batch_id = ?", [outcome["batch_id"]]).groupby("role")["request_id"]
    per_role = {role: (len(ids), ids.nunique()) for role, ids in logged}
    assert per_role == {"live": (ROWS, ROWS), "canary": (ROWS, ROWS)}
    assert (home / "done" / "big.csv").exists()
