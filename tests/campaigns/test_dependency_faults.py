"""Dependency faults: a full disk under the outbox, a model that raises on some rows, PostgreSQL
restarted mid-batch. Each batch is retried or fails with a clear reason, nothing is
half-committed, and the next run recovers."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import joblib
import numpy as np
import pandas as pd
import pytest
from fsspec.implementations.local import LocalFileSystem
from pg_schemas import postgres_for_tests, postgres_schema
from prefect.settings import PREFECT_API_URL
from score_rows import score_rows
from sklearn.base import BaseEstimator, ClassifierMixin
from sqlalchemy import func, select

from flows.score_batches import score_batches
from rendezvous.demo.bootstrap import DEMO_TYPES, build_demo
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings
from rendezvous.store.engine import dispose_all
from rendezvous.store.schema import batches, lineage
from rendezvous.verify import verify

pytestmark = pytest.mark.usefixtures("prefect_api")


class FullDisk(LocalFileSystem):
    """A local folder whose disk can be made full: every write then fails with ENOSPC."""

    protocol = "fulldisk"
    full: ClassVar[bool] = False

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return super()._strip_protocol(path.removeprefix("fulldisk://"))

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if FullDisk.full and any(flag in mode for flag in "wa"):
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return super()._open(path, mode, **kwargs)


fsspec.register_implementation("fulldisk", FullDisk, clobber=True)


class RaisesOnLargeLoans(ClassifierMixin, BaseEstimator):
    """A model with a bug: it cannot score loans above a limit."""

    def __init__(self, limit: float = 90_000) -> None:
        self.limit = limit

    def fit(self, X: pd.DataFrame, y: Any) -> RaisesOnLargeLoans:
        self.feature_names_in_ = np.array(["loan_amount", "credit_score"], dtype=object)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        too_large = X["loan_amount"] > self.limit
        if too_large.any():
            raise ValueError(f"cannot score loans above {self.limit:.0f} ({int(too_large.sum())} rows)")
        p = 1 / (1 + np.exp((X["credit_score"].to_numpy() - 650) / 50))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)


def _reset(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(f"RENDEZVOUS_{name}", value)
    get_settings.cache_clear()
    forget_services()


def test_full_disk_under_the_outbox_fails_the_attempt_and_the_next_run_recovers(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _reset(monkeypatch, OUTBOX_URL=f"fulldisk://{home / 'outbox'}")
    build_demo(get_services(), rows_per_batch=100)
    FullDisk.full = True
    try:
        with pytest.raises(RuntimeError, match="stay claimable"):
            score_batches()
    finally:
        FullDisk.full = False
    store = get_services().store
    with store.begin() as conn:
        rows = {r.source: r for r in conn.execute(select(batches)).all()}
    clean = rows["loans-2026-11-01.csv"]
    assert clean.state == "received"  # given back, not committed
    assert "No space left on device" in clean.reason
    assert not (home / "outbox" / clean.id).exists()  # nothing half-published
    assert (home / "inbox" / "loans-2026-11-01.csv").exists()

    outcomes = {o["source"]: o for o in score_batches()}
    assert outcomes["loans-2026-11-01.csv"]["state"] == "committed"
    assert [r.name for r in verify(get_services()) if not r.ok] == []


def test_a_canary_raising_on_some_rows_is_logged_with_its_error_and_the_batch_goes_on(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The canary's bug costs neither batch anything: its rows are isolated and logged with what
    it raised, the live model answers every row, and nothing is retried or failed."""
    _reset(monkeypatch, MAX_ATTEMPTS="2")
    services = get_services()
    build_demo(services, rows_per_batch=100, fresh=True)
    for name in os.listdir(home / "inbox"):
        if name != "loans-2026-11-01.csv":
            os.unlink(home / "inbox" / name)
    # swap the demo's canary for the buggy one (a fresh store: bootstrap roles again)
    dispose_all()
    forget_services()
    (home / "rendezvous.db").unlink()
    services = get_services()
    demo_live = next(Path(services.settings.models_dir).glob("demo-live-v1-*.skops"))
    services.registry.register(demo_live, "live", version="live", trust_types=DEMO_TYPES)
    buggy = tmp_path / "buggy.joblib"
    joblib.dump(RaisesOnLargeLoans().fit(pd.DataFrame(), None), buggy)
    services.registry.register(
        buggy,
        "canary",
        version="buggy",
        trust_pickle=True,
        trust_types=[f"{RaisesOnLargeLoans.__module__}.{RaisesOnLargeLoans.__qualname__}"],
    )
    frame = pd.read_csv(home / "inbox" / "loans-2026-11-01.csv")
    small = frame[frame["loan_amount"] <= 90_000]
    assert len(small) < len(frame)  # the demo batch has a few large loans
    small.assign(request_id=small["request_id"] + "-s").to_csv(home / "inbox" / "small.csv", index=False)

    outcomes = {o["source"]: o for o in score_batches()}

    batch = outcomes["loans-2026-11-01.csv"]
    assert batch["state"] == outcomes["small.csv"]["state"] == "committed"
    assert batch["served_by"] == {"live": batch["rows_scored"], "canary": 0}
    response = pd.read_csv(batch["outputs"]["response"])
    assert set(response["served_by"]) == {"live"} and len(response) == batch["rows_scored"]
    canary = score_rows(services.store, "batch_id = ? AND role = 'canary'", [batch["batch_id"]])
    large = set(frame.loc[frame["loan_amount"] > 90_000, "request_id"]) & set(response["request_id"])
    failed = canary[canary["error"].notna()]
    assert set(failed["request_id"]) == large and failed["score"].isna().all()
    assert failed["error"].str.contains("cannot score loans above 90000").all()
    assert canary.loc[canary["error"].isna(), "score"].notna().all()  # the rest it scored
    assert [r.name for r in verify(services) if not r.ok] == []


@pytest.mark.postgres
@pytest.mark.serial
def test_postgres_restart_mid_batch_then_rerun_recovers(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = postgres_for_tests()
    if server.restart is None:
        pytest.skip(f"cannot restart the tests' PostgreSQL: {server.not_restartable}")
    with postgres_schema("rdv_restart") as database_url:
        _restart_mid_batch(home, monkeypatch, database_url, server.restart)


def _restart_mid_batch(
    home: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, restart: Callable[[], object]
) -> None:
    _reset(monkeypatch, DATABASE_URL=database_url, CHUNK_ROWS="300")
    build_demo(get_services(), rows_per_batch=3000)
    for name in os.listdir(home / "inbox"):  # the batch the outage interrupts; the rest add nothing
        if name != "loans-2026-11-01.csv":
            os.unlink(home / "inbox" / name)
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    child = subprocess.Popen(
        [sys.executable, "-m", "rendezvous.cli", "score"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = get_services().store
    deadline = time.monotonic() + 120
    while True:
        with store.begin() as conn:
            logged = conn.execute(
                select(func.count()).select_from(lineage).where(lineage.c.step == "log")
            ).scalar()
        if logged >= 2 or child.poll() is not None:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    dispose_all()
    restart()
    child.wait(timeout=300)
    forget_services()
    for _ in range(3):  # a batch interrupted by the outage is retried by the next runs
        if not any((home / "inbox").iterdir()):
            break
        with contextlib.suppress(RuntimeError):
            score_batches()
    with get_services().store.begin() as conn:
        states = dict(conn.execute(select(batches.c.source, batches.c.state)).all())
    assert states["loans-2026-11-01.csv"] == "committed"
    assert [r.name for r in verify(get_services()) if not r.ok] == []
