"""One live and one canary, held by the database on SQLite and PostgreSQL; one reader of roles;
existing homes upgraded (or refused, naming the clash); timestamps read back in UTC."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from rendezvous.registry import Registry, RegistryError
from rendezvous.store import Store
from rendezvous.store.engine import dispose_all
from rendezvous.store.schema import batches, models
from rendezvous.store.upgrade import SchemaUpgradeError

ROOT = Path(__file__).resolve().parents[2]


def _model_file(tmp_path: Path, name: str, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"f": rng.normal(size=60), "g": rng.normal(size=60)})
    path = tmp_path / f"{name}.skops"
    sio.dump(LogisticRegression().fit(frame, (frame.f > 0).astype(int)), path)
    return path


def _model_row(version: str, role: str) -> dict[str, Any]:
    return {
        "version": version,
        "role": role,
        "shadow": False,
        "path": f"/nowhere/{version}.skops",
        "sha256": "0" * 64,
        "kind": "classifier",
        "feature_names": ["f"],
        "sklearn_version": "1",
        "metadata": {},
        "registered_at": datetime.now(UTC),
    }


def test_concurrent_live_registrations_one_wins(database_url: str, tmp_path: Path) -> None:
    """Both registrations pass every check before either inserts; the database picks one."""
    registry = Registry(Store(database_url), str(tmp_path / "models"))
    files = [_model_file(tmp_path, f"m{i}", i) for i in range(2)]
    both_checked = threading.Barrier(2, timeout=60)

    def hold_insert(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if re.match(r'\s*INSERT INTO "?models"?\s', statement):
            both_checked.wait()

    engine = registry.store.engine
    event.listen(engine, "before_cursor_execute", hold_insert)
    outcomes: dict[str, str] = {}

    def register(i: int) -> None:
        try:
            registry.register(files[i], "live", version=f"v{i}")
            outcomes[f"v{i}"] = "live"
        except RegistryError as exc:
            outcomes[f"v{i}"] = str(exc)

    try:
        threads = [threading.Thread(target=register, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        event.remove(engine, "before_cursor_execute", hold_insert)
    winner = [v for v, outcome in outcomes.items() if outcome == "live"]
    assert len(winner) == 1, outcomes
    (loser,) = set(outcomes) - set(winner)
    assert outcomes[loser] == (
        f"version {loser} cannot be live: {winner[0]} already is; "
        "roles change only through promotion (`rendezvous promote`) or rollback"
    )
    assert registry.by_role("live").version == winner[0]
    assert [r.version for r in registry.list()] == winner


@pytest.mark.parametrize("role", ["live", "canary"])
def test_the_database_refuses_a_second_holder(database_url: str, role: str) -> None:
    """The index itself, not the registry's check: a raw insert of a second holder fails."""
    store = Store(database_url)
    with store.begin() as conn:
        conn.execute(insert(models).values(**_model_row("first", role)))
        conn.execute(insert(models).values(**_model_row("spare", "candidate")))
        conn.execute(insert(models).values(**_model_row("old", "retired")))
    with pytest.raises(IntegrityError), store.begin() as conn:
        conn.execute(insert(models).values(**_model_row("second", role)))
    with store.begin() as conn:  # candidates and retired models stay as many as there are
        conn.execute(insert(models).values(**_model_row("spare-2", "candidate")))
        conn.execute(insert(models).values(**_model_row("old-2", "retired")))


def _as_an_old_home(url: str, rows: list[dict[str, Any]]) -> None:
    """A database made before the role indexes existed, holding ``rows``; engines closed."""
    with Store(url).begin() as conn:
        for role in ("live", "canary"):
            conn.execute(text(f"DROP INDEX uq_models_one_{role}"))
        conn.execute(insert(models), rows)
    dispose_all()


def test_an_old_home_gets_the_role_indexes(database_url: str) -> None:
    _as_an_old_home(database_url, [_model_row("a", "live"), _model_row("b", "canary")])
    with pytest.raises(IntegrityError), Store(database_url).begin() as conn:
        conn.execute(insert(models).values(**_model_row("c", "live")))


def test_an_old_home_with_two_live_models_is_refused_naming_them(database_url: str) -> None:
    _as_an_old_home(
        database_url,
        [_model_row("a-1", "live"), _model_row("b-2", "live"), _model_row("c", "canary")],
    )
    with pytest.raises(SchemaUpgradeError) as refused:
        Store(database_url)
    message = str(refused.value)
    assert "uq_models_one_live" in message
    assert "role='live' is held by version='a-1', version='b-2'" in message
    assert "retire the others" in message


def _batch_row(received_at: datetime) -> dict[str, Any]:
    return {
        "id": "b",
        "source": "b.csv",
        "sha256": "1" * 64,
        "format": "csv",
        "state": "received",
        "received_at": received_at,
    }


def test_timestamps_read_back_in_utc_whatever_the_offset_written(database_url: str) -> None:
    store = Store(database_url)
    written = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=-7)))
    with store.begin() as conn:
        conn.execute(insert(batches).values(**_batch_row(written)))
    with store.begin() as conn:
        if store.is_postgres:  # a session in another zone still reads UTC
            conn.execute(text("SET LOCAL TIME ZONE 'Asia/Kolkata'"))
        read = conn.execute(select(batches.c.received_at)).scalar_one()
    assert read == written
    assert read.tzinfo is UTC
    assert (read.hour, read.minute) == (8, 30)


def test_a_naive_timestamp_is_refused_not_guessed(database_url: str) -> None:
    store = Store(database_url)
    with pytest.raises(StatementError, match="naive datetime"), store.begin() as conn:
        conn.execute(insert(batches).values(**_batch_row(datetime(2026, 3, 29, 1, 30))))


def _sources() -> list[Path]:
    return [p for d in ("rendezvous", "tasks", "flows") for p in (ROOT / d).rglob("*.py")]


def test_one_reader_of_roles() -> None:
    """Who holds live and canary is read in rendezvous/roles.py only (the rotation writes them)."""
    readers = {
        path.relative_to(ROOT).as_posix() for path in _sources() if "models.c.role" in path.read_text()
    }
    assert readers == {"rendezvous/roles.py", "rendezvous/promotion/rotation.py"}
    compared = re.compile(r"""(?<!\.c)\.role\s*[!=]=\s*["'](?:live|canary)["']""")
    by_hand = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in _sources()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if compared.search(line)
    ]
    assert by_hand == []
