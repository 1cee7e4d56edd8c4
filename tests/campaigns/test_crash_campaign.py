"""Crash campaign: `rendezvous score` SIGKILLs itself at each named crash point in turn (a shadow is
registered so that its bin runs too); each kill is checked to have happened at that point, then a
rerun recovers the batch and every invariant is checked before the next kill.

RENDEZVOUS_CAMPAIGN_KILLS sets the count: by default each point once; more go round the points
again (`make campaign`). Points passed once per chunk die at the 1st, 2nd or 3rd pass in rotation.
The kill between a response published at the deadline and the late bins' commit (after-response)
runs with a deadline and a shadow that answers only once the response is out."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from children import start_scoring
from faulty_models import register_faulty
from prefect.settings import PREFECT_API_URL
from score_rows import score_rows
from sqlalchemy import select

from flows.score_batches import score_batches
from rendezvous.batchfiles import read_chunks, sha256_file
from rendezvous.demo.bootstrap import build_demo
from rendezvous.demo.data import make_customers, make_requests
from rendezvous.failpoints import SCORING_POINTS as POINTS
from rendezvous.ledger import batch_id_for
from rendezvous.services import Services, forget_services, get_services
from rendezvous.settings import get_settings
from rendezvous.store.engine import dispose_all
from rendezvous.store.schema import batches
from rendezvous.verify import verify

pytestmark = pytest.mark.usefixtures("prefect_api")
KILLS = int(os.environ.get("RENDEZVOUS_CAMPAIGN_KILLS", str(len(POINTS))))
ROWS, CHUNK = 600, 200  # three chunks a batch: a per-chunk point may die at the 3rd
FORMATS = ("csv", "parquet", "jsonl")
ROLES = ("live", "canary", "shadow")


def crash_spec(kill: int) -> str:
    """The kill-th crash: points in turn; a per-chunk point dies at its 1st, 2nd or 3rd pass."""
    point = POINTS[kill % len(POINTS)]
    return f"{point}@{1 + kill % 3}" if point.startswith(("after-prepare", "in-")) else point


def write_batch(folder: Path, kill: int, customers: pd.DataFrame) -> str:
    frame = make_requests(
        ROWS, customers, datetime(2026, 11, 21, tzinfo=UTC), seed=500 + kill, id_prefix=f"crash{kill}"
    )
    fmt = FORMATS[kill % len(FORMATS)]
    name = f"crash-{kill:03d}.{fmt}"
    if fmt == "csv":
        frame.to_csv(folder / name, index=False)
    elif fmt == "parquet":
        frame.to_parquet(folder / name, index=False)
    else:
        frame.to_json(folder / name, orient="records", lines=True)
    return name


@contextmanager
def late_shadow(home: Path, name: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """For the block: a response deadline, and in place of the campaign's shadow one that answers
    batch ``name`` only once its response is published; the environment a child needs for it."""
    services = get_services()
    response = home / "outbox" / batch_id_for(name, sha256_file(str(home / "inbox" / name)))
    fmt = name.rsplit(".", 1)[1]
    version = f"late-shadow-{fmt}-{tmp_path.name}"[:60]
    canary = services.registry.by_role("canary")
    answer_after = str(response / f"response.{fmt}")
    register_faulty(services, canary, "candidate", version, tmp_path, mode="late", wait_for=answer_after)
    services.registry.set_shadow("crash-shadow", False)
    services.registry.set_shadow(version, True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RENDEZVOUS_RESPONSE_DEADLINE_SECONDS", "0.05")
        get_settings.cache_clear()
        forget_services()
        try:
            tests = str(Path(__file__).parents[1])  # where the child imports the shadow's type from
            yield {"RENDEZVOUS_RESPONSE_DEADLINE_SECONDS": "0.05", "PYTHONPATH": tests}
        finally:
            get_settings.cache_clear()
            forget_services()
    services = get_services()
    services.registry.set_shadow(version, False)
    services.registry.set_shadow("crash-shadow", True)


def assert_recovered_once(services: Services, name: str) -> None:
    """The batch committed with every row accounted for, scored once per role, answered once."""
    with services.store.begin() as conn:
        row = conn.execute(select(batches).where(batches.c.source == name)).one()
    logged = score_rows(services.store, "batch_id = ?", [row.id])
    per_role = (logged.groupby("role")["request_id"].agg(lambda ids: len(ids) - ids.nunique())).to_dict()
    live = int((logged["role"] == "live").sum())
    assert (row.state, row.rows_in, row.rows_scored + row.rows_quarantined) == ("committed", ROWS, ROWS)
    assert per_role == dict.fromkeys(ROLES, 0), f"{name}: repeated scores {per_role}"
    assert live == row.rows_scored
    fmt = name.rsplit(".", 1)[1]
    response = pd.concat(frame for frame, _ in read_chunks(row.outputs["response"], fmt, ROWS))
    assert len(response) == row.rows_scored and response["request_id"].is_unique


@pytest.mark.slow
def test_sigkill_at_every_crash_point_then_rerun_keeps_every_invariant(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDEZVOUS_CHUNK_ROWS", str(CHUNK))
    get_settings.cache_clear()
    forget_services()
    services = get_services()
    build_demo(services, rows_per_batch=30)
    canary = services.registry.by_role("canary")
    services.registry.register(
        canary.path, "candidate", version="crash-shadow", trust_types=canary.trusted_types
    )
    services.registry.set_shadow("crash-shadow", True)  # so that in-shadow-bin is reached
    score_batches()  # the demo's own inbox, so the campaign's ids meet a populated store
    customers = make_customers(5000, seed=7)
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}

    fired = []
    for kill in range(KILLS):
        name, spec = write_batch(home / "inbox", kill, customers), crash_spec(kill)
        log = tmp_path / f"kill-{kill}.log"
        with ExitStack() as stack:
            late = spec == "after-response"
            extra = stack.enter_context(late_shadow(home, name, tmp_path / f"kill-{kill}")) if late else {}
            with log.open("wb") as stderr:
                child = start_scoring({**env, **extra, "RENDEZVOUS_CRASH_AT": spec}, stderr=stderr)
                code = child.wait(timeout=300)
            said = log.read_text(errors="replace")
            assert code == -signal.SIGKILL, f"{spec}: not killed (exit {code}):\n{said[-3000:]}"
            assert f"crash point {spec} reached" in said, f"{spec}: killed elsewhere:\n{said[-3000:]}"
            fired.append(spec)

            dispose_all()  # the killed process's batch is recovered by a plain rerun
            forget_services()
            score_batches()
        services = get_services()
        assert not any((home / "inbox").iterdir()), f"{spec}: the rerun left the inbox"
        assert_recovered_once(services, name)
        assert {r.name: r.breaches for r in verify(services) if not r.ok} == {}, spec

    assert {spec.partition("@")[0] for spec in fired} == set(POINTS[:KILLS])
    print(f"crash campaign: {KILLS} kills at {', '.join(fired)}; each batch recovered once, nothing lost")
