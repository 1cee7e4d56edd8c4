"""Races between processes, on SQLite and PostgreSQL: promotions started at the same instant (one
opens, the others are told which one holds the gate), and labels arriving while training reads
them (every read sees whole label files, never part of one, and records the rows it used).

Processes are released together by a line on their stdin once each has said it is ready, so
imports and connections are done before the race. RENDEZVOUS_RACE_ROUNDS sets the rounds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import func, select

from flows.score_batches import score_batches
from rendezvous.demo.bootstrap import build_demo
from rendezvous.promotion import dataset, gate, training
from rendezvous.promotion.labels import add_labels, read_label_file
from rendezvous.registry import Registry
from rendezvous.services import Services, forget_services, get_services
from rendezvous.settings import get_settings
from rendezvous.store import Store
from rendezvous.store.schema import labels, promotions

ROUNDS = int(os.environ.get("RENDEZVOUS_RACE_ROUNDS", "2"))  # two: a dead holder is abandoned once
OPENERS = 4

OPENER = """
import json, sys
from rendezvous.promotion import gate
from rendezvous.promotion.errors import PromotionBusy
from rendezvous.store import Store

store = Store(sys.argv[1])
gate.open_promotions(store)  # connected before the start
print("ready", flush=True)
sys.stdin.readline()
try:
    promotion = gate.open_promotion(store, sys.argv[2], None, 600)
    answer = {"opened": promotion.id}
except PromotionBusy as exc:
    answer = {"busy": str(exc)}
print(json.dumps(answer), flush=True)
sys.stdin.readline()  # the winner holds the gate until every opener has answered
"""

WRITER = """
import json, sys
from rendezvous.promotion.labels import add_labels, read_label_file
from rendezvous.services import get_services

store = get_services().store
frame = read_label_file(sys.argv[1], "request_id", ["outcome"])
size = int(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
stored = [
    add_labels(store, frame.iloc[start : start + size], f"arriving-{start // size}")[0].stored
    for start in range(0, len(frame), size)
]
print(json.dumps(stored), flush=True)
"""


def _ready(*args: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = child.stdout.readline()
    if line.strip() != "ready":
        child.kill()
        raise AssertionError(f"child did not start: {line}{child.communicate()[1][-2000:]}")
    return child


def _release(children: list[subprocess.Popen[str]]) -> None:
    """The start line to every child, one write each: they start within microseconds."""
    for child in children:
        os.write(child.stdin.fileno(), b"go\n")


def _tiny_model(path: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=50), "x2": rng.normal(size=50)})
    joblib.dump(LogisticRegression().fit(frame, (frame.x1 > 0).astype(int)), path)
    return path


def test_promotions_started_together_open_exactly_one(database_url: str, tmp_path: Path) -> None:
    registry = Registry(Store(database_url), str(tmp_path / "models"))
    model = _tiny_model(tmp_path / "m.joblib")
    for version, role in [("L1", "live"), ("C1", "canary")]:
        registry.register(model, role, version=version, trust_pickle=True)
    candidates = [f"X{i}" for i in range(OPENERS)]
    for version in candidates:
        registry.register(model, "candidate", version=version, trust_pickle=True)
    store = registry.store
    previous: int | None = None
    for _ in range(ROUNDS):
        openers = [_ready(OPENER, database_url, version) for version in candidates]
        _release(openers)
        answers = [json.loads(child.stdout.readline()) for child in openers]
        opened = [
            (a["opened"], version, child)
            for a, version, child in zip(answers, candidates, openers, strict=True)
            if "opened" in a
        ]
        assert len(opened) == 1, answers
        winner, candidate, holder = opened[0]
        busy = [a["busy"] for a in answers if "busy" in a]
        assert len(busy) == OPENERS - 1
        assert all(f"promotion #{winner} of {candidate} " in message for message in busy), busy
        (still_open,) = gate.open_promotions(store)
        assert still_open.id == winner and f":{holder.pid}:" in still_open.owner
        for child in openers:
            child.communicate("done\n", timeout=60)
        if previous is not None:  # the last round's holder exited: the race also abandoned it
            with store.begin() as conn:
                row = conn.execute(select(promotions).where(promotions.c.id == previous)).one()
            assert row.state == "abandoned" and "process died" in row.reason
        previous = winner
    with store.begin() as conn:
        states = conn.execute(select(promotions.c.state).order_by(promotions.c.id)).scalars().all()
    assert states == ["abandoned"] * (ROUNDS - 1) + ["open"]
    backend = "postgres" if store.is_postgres else "sqlite"
    print(
        f"promotion race ({backend}): {ROUNDS} rounds x {OPENERS} processes released together: "
        f"{ROUNDS} opened, {ROUNDS * (OPENERS - 1)} refused naming the open one, "
        f"{ROUNDS - 1} dead holders abandoned by the racers"
    )


@pytest.fixture
def scored_demo(
    home: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, prefect_api: None
) -> Services:
    """The demo scored (dev copy and live scores) on the test's backend; no labels yet."""
    monkeypatch.setenv("RENDEZVOUS_DATABASE_URL", database_url)
    get_settings.cache_clear()
    forget_services()
    build_demo(get_services(), rows_per_batch=200)
    score_batches()
    return get_services()


def _read(services: Services) -> dict[str, Any]:
    """What training reads: its ids, the fingerprint it records and how many rows it trains on."""
    data = training.training_data(services)
    frame, split = data.rows.frame, data.split
    ids = frame[services.settings.id_column]
    return {"ids": frozenset(ids), "fingerprint": data.fingerprint, "trained": len(split.train)}


def test_labels_arriving_while_training_reads_them(
    scored_demo: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, chunk = scored_demo, 30  # 20 writes: every partial state a read may see is checked
    s = services.settings
    files = sorted(Path(s.labels_url).glob("labels-*.csv"))
    every = pd.concat([read_label_file(str(f), s.id_column, [s.label_column]) for f in files])
    first, arriving = every.iloc[:200], every.iloc[200:].reset_index(drop=True)
    assert add_labels(services.store, first, "first")[0].stored == len(first)
    arriving.to_csv(tmp_path / "arriving.csv", index=False)

    writer = _ready(WRITER, str(tmp_path / "arriving.csv"), str(chunk))
    _release([writer])
    reads = []
    while writer.poll() is None:
        reads.append(_read(services))
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err[-2000:]
    stored = json.loads(out)
    reads.append(_read(services))

    with services.store.begin() as conn:
        total = conn.execute(select(func.count()).select_from(labels)).scalar()
        rows = conn.execute(select(labels.c.request_id, labels.c.outcome)).all()
    final = pd.DataFrame(rows, columns=["request_id", "outcome"])
    assert total == len(first) + sum(stored) == every["request_id"].nunique()

    # What a read must be: training's own code on the labels after whole writes 0..k, never part of one.
    expected: dict[frozenset, tuple[int, str]] = {}
    dev = dataset.read_dev_storage(s.dev_url)  # labels do not change it: read once for the oracle
    with monkeypatch.context() as patch:
        patch.setattr(dataset, "read_dev_storage", lambda url: dev)
        for k in range(len(stored) + 1):
            landed = set(first["request_id"]) | set(arriving["request_id"].iloc[: k * chunk])
            prefix = final[final["request_id"].isin(landed)].astype("str")
            patch.setattr(training, "load_labels", lambda store, prefix=prefix: prefix)
            read = _read(services)
            expected.setdefault(read["ids"], (k, read["fingerprint"]))
    seen = []
    for read in reads:
        match = expected.get(read["ids"])
        assert match is not None, f"a read saw {len(read['ids'])} labelled rows: part of a write"
        k, fingerprint = match
        assert read["fingerprint"] == fingerprint
        seen.append(k)
    assert seen == sorted(seen) and seen[-1] == len(stored)
    backend = "postgres" if services.store.is_postgres else "sqlite"
    partial = {k for k in seen if 0 < k < len(stored)}  # how many reads overlapped: luck, not asserted
    print(
        f"labels race ({backend}): {len(reads)} training reads while {len(stored)} label writes "
        f"landed ({len(partial)} distinct partial states seen), every read a whole-write snapshot "
        f"with matching fingerprint; labels {len(first)} + {sum(stored)} = {total}, none twice"
    )
