"""Crash campaign: SIGKILL `rendezvous score` at every crash point and at random moments, run
again, and check the invariants. RENDEZVOUS_CAMPAIGN_KILLS sets the count (`make campaign`)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from children import start_scoring
from prefect.settings import PREFECT_API_URL
from sqlalchemy import func, select

from flows.score_batches import score_batches
from rendezvous.demo.bootstrap import build_demo
from rendezvous.demo.data import make_customers, make_requests
from rendezvous.failpoints import SCORING_POINTS as POINTS
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings
from rendezvous.store.engine import dispose_all
from rendezvous.store.schema import batches, scores
from rendezvous.verify import verify

pytestmark = pytest.mark.usefixtures("prefect_api")
KILLS = int(os.environ.get("RENDEZVOUS_CAMPAIGN_KILLS", "10"))
ROWS, CHUNK = 1_000, 200


class Inbox:
    """Writes fresh batches (rotating formats) and remembers how many rows each one holds."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.customers = make_customers(5000, seed=7)
        self.rows: dict[str, int] = {}

    def ensure(self, count: int) -> None:
        while len(list(self.folder.iterdir())) < count:
            n = len(self.rows)
            frame = make_requests(
                ROWS, self.customers, datetime(2026, 11, 21, tzinfo=UTC), seed=500 + n, id_prefix=f"crash{n}"
            )
            name = f"crash-{n:03d}." + ("csv", "parquet", "jsonl")[n % 3]
            path = self.folder / name
            if name.endswith(".csv"):
                frame.to_csv(path, index=False)
            elif name.endswith(".parquet"):
                frame.to_parquet(path, index=False)
            else:
                frame.to_json(path, orient="records", lines=True)
            self.rows[name] = ROWS


def _score_in_child(env: dict[str, str], kill_after: float | None) -> int:
    child = start_scoring(env)
    if kill_after is not None:
        try:
            child.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
    return child.wait(timeout=300)


def test_sigkill_anywhere_then_rerun_keeps_every_invariant(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDEZVOUS_CHUNK_ROWS", str(CHUNK))
    monkeypatch.setenv("RENDEZVOUS_MAX_ATTEMPTS", str(KILLS + 2))  # crashes are the point here
    get_settings.cache_clear()
    forget_services()
    build_demo(get_services(), rows_per_batch=30)
    score_batches()  # the demo's own inbox, so the campaign's ids meet a populated store
    inbox = Inbox(home / "inbox")
    base_env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "RENDEZVOUS_CHUNK_ROWS": str(CHUNK),
        "RENDEZVOUS_MAX_ATTEMPTS": str(KILLS + 2),
    }
    rng = random.Random(20261126)
    kills = 0
    for attempt in range(KILLS):
        inbox.ensure(2)
        if attempt % (len(POINTS) + 1) == len(POINTS):
            code = _score_in_child(base_env, kill_after=rng.uniform(4.0, 9.0))  # a random moment
        else:
            point = POINTS[attempt % (len(POINTS) + 1)]
            spec = f"{point}@{rng.randint(1, 3)}" if point.startswith(("in-", "after-prepare")) else point
            code = _score_in_child({**base_env, "RENDEZVOUS_CRASH_AT": spec}, kill_after=None)
        kills += code == -signal.SIGKILL
    dispose_all()
    forget_services()
    while any(inbox.folder.iterdir()):
        score_batches()

    breaches = {r.name: r.breaches for r in verify(get_services()) if not r.ok}
    assert breaches == {}
    store = get_services().store
    with store.begin() as conn:
        ledger = {
            r.source: r for r in conn.execute(select(batches).where(batches.c.source.like("crash-%"))).all()
        }
        live = dict(
            conn.execute(
                select(scores.c.batch_id, func.count())
                .where(scores.c.role == "live")
                .group_by(scores.c.batch_id)
            ).all()
        )
    assert set(ledger) == set(inbox.rows)
    for name, rows in inbox.rows.items():
        row = ledger[name]
        assert (row.state, row.rows_in, row.rows_scored + row.rows_quarantined) == ("committed", rows, rows)
        assert live[row.id] == row.rows_scored
    responses = [
        pd.read_csv(Path(r.outputs["response"])) for r in ledger.values() if r.source.endswith(".csv")
    ]
    assert all(frame["request_id"].is_unique for frame in responses)
    assert kills >= KILLS * 0.7, f"only {kills} of {KILLS} runs were killed"
    print(f"crash campaign: {kills} kills survived over {len(inbox.rows)} batches, 0 rows lost or duplicated")
