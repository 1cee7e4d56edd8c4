"""The ledger on SQLite and PostgreSQL: one owner per batch, takeover of dead claims, retries."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from at_once import at_once
from sqlalchemy import event, func, select, update

from rendezvous import records
from rendezvous.ledger import Ledger, LostClaim
from rendezvous.owners import new_owner, owner_is_dead
from rendezvous.store import Store
from rendezvous.store.schema import batches, lineage

VERSIONS = {"live": "a", "canary": "b"}


@pytest.fixture
def ledger(database_url: str) -> Ledger:
    return Ledger(Store(database_url), lease_seconds=60, max_attempts=2)


def test_only_one_of_many_concurrent_claims_wins(ledger: Ledger) -> None:
    arrival = ledger.receive("a.csv", "f" * 64, "csv")
    assert arrival.status == "claimable"
    wins: list[int] = []

    def claim() -> None:
        attempt = ledger.claim(arrival.batch_id, new_owner(), VERSIONS)
        if attempt is not None:
            wins.append(attempt)

    assert at_once(*[claim] * 6) == []
    assert wins == [1]
    assert ledger.receive("a.csv", "f" * 64, "csv").status == "busy"


def test_a_claim_whose_process_died_is_taken_over(ledger: Ledger) -> None:
    arrival = ledger.receive("a.csv", "e" * 64, "csv")
    dead = f"{socket.gethostname()}:999999999:dead"
    assert owner_is_dead(dead)
    assert ledger.claim(arrival.batch_id, dead, VERSIONS) == 1
    assert ledger.receive("a.csv", "e" * 64, "csv").status == "claimable"
    assert ledger.claim(arrival.batch_id, new_owner(), VERSIONS) == 2


def test_an_expired_lease_is_taken_over_and_the_old_owner_stops(ledger: Ledger) -> None:
    arrival = ledger.receive("a.csv", "d" * 64, "csv")
    first = f"other-host:{1}:x"
    assert ledger.claim(arrival.batch_id, first, VERSIONS) == 1
    assert ledger.claim(arrival.batch_id, new_owner(), VERSIONS) is None  # lease still valid
    with ledger.store.begin() as conn:
        conn.execute(update(batches).values(lease_expires=datetime.now(UTC) - timedelta(seconds=1)))
    second = new_owner()
    assert ledger.claim(arrival.batch_id, second, VERSIONS) == 2
    with pytest.raises(LostClaim):
        ledger.heartbeat(arrival.batch_id, first)
    ledger.heartbeat(arrival.batch_id, second)


def test_release_retries_then_fails_after_max_attempts(ledger: Ledger) -> None:
    arrival = ledger.receive("a.csv", "c" * 64, "csv")
    owner = new_owner()
    ledger.claim(arrival.batch_id, owner, VERSIONS)
    assert ledger.release(arrival.batch_id, owner, "boom") == "retry"
    owner = new_owner()
    ledger.claim(arrival.batch_id, owner, VERSIONS)
    assert ledger.release(arrival.batch_id, owner, "boom again") == "failed"
    row = ledger.get(arrival.batch_id)
    assert row.state == "failed" and "boom again" in row.reason


def _claimed_and_committed(ledger: Ledger, batch_id: str, owner: str) -> None:
    """A batch claimed by ``owner`` and closed, its file not moved on yet."""
    ledger.claim(batch_id, owner, VERSIONS)
    with ledger.store.begin() as conn:
        counts = {"rows_in": 1, "rows_scored": 1, "rows_quarantined": 0}
        ledger.finish(conn, batch_id, owner, "committed", counts, None, {})


def test_finished_content_arriving_again_is_a_duplicate(ledger: Ledger) -> None:
    arrival = ledger.receive("a.csv", "b" * 64, "csv")
    _claimed_and_committed(ledger, arrival.batch_id, new_owner())
    assert ledger.receive("a.csv", "b" * 64, "csv").status == "finish_move"  # crash before the move
    ledger.mark_moved(arrival.batch_id)
    again = ledger.receive("copy.csv", "b" * 64, "csv")
    assert again.status == "duplicate" and "a.csv" in again.detail


def test_a_closed_batch_is_moved_on_by_its_own_run_not_by_another_live_one(ledger: Ledger) -> None:
    """Between its commit and the move of its file, a batch belongs to the run that closed it: a
    second live run that finished the move would report the batch as committed by itself too."""
    arrival = ledger.receive("a.csv", "c" * 64, "csv")
    alive_elsewhere = f"{socket.gethostname()}:1:other"  # pid 1 runs, and it is not this process
    assert not owner_is_dead(alive_elsewhere)
    _claimed_and_committed(ledger, arrival.batch_id, alive_elsewhere)
    again = ledger.receive("a.csv", "c" * 64, "csv")
    assert again.status == "busy" and alive_elsewhere in again.detail
    with ledger.store.begin() as conn:  # a lease's time later its run is presumed stuck
        conn.execute(
            update(batches)
            .where(batches.c.id == arrival.batch_id)
            .values(finished_at=datetime.now(UTC) - timedelta(seconds=61))
        )
    assert ledger.receive("a.csv", "c" * 64, "csv").status == "finish_move"


def test_a_batch_whose_worker_keeps_dying_fails_after_max_attempts(ledger: Ledger) -> None:
    arrival = ledger.receive("poison.csv", "a" * 64, "csv")
    dead = f"{socket.gethostname()}:999999999:dead"
    assert ledger.claim(arrival.batch_id, dead, VERSIONS) == 1
    assert ledger.claim(arrival.batch_id, dead, VERSIONS) == 2  # taken over after the first death
    assert ledger.claim(arrival.batch_id, new_owner(), VERSIONS) is None  # died twice: give up
    row = ledger.get(arrival.batch_id)
    assert row.state == "failed" and "gave up after 2 attempts" in row.reason


def _take_over_before_next_update(
    request: pytest.FixtureRequest, ledger: Ledger, batch_id: str, taker: Ledger, new: str
) -> None:
    """Another run takes the batch over and writes a row, just before this ledger's next UPDATE
    of ``batches`` reaches the database: between a release's steps, whatever they are."""
    fired: list[bool] = []

    def take_over(conn, cursor, statement, parameters, context, executemany) -> None:
        if fired or not statement.lstrip().upper().startswith("UPDATE BATCHES"):
            return
        fired.append(True)
        with taker.store.begin() as other:
            other.execute(update(batches).values(lease_expires=datetime.now(UTC) - timedelta(seconds=1)))
        assert taker.claim(batch_id, new, VERSIONS) == 2
        with taker.store.begin() as other:
            records.write_lineage(other, batch_id, 0, [{"step": "read", "rows_in": 1, "rows_out": 1}])

    event.listen(ledger.store.engine, "before_cursor_execute", take_over)
    request.addfinalizer(lambda: event.remove(ledger.store.engine, "before_cursor_execute", take_over))


@pytest.mark.parametrize("last_attempt", [False, True])
def test_a_release_after_a_takeover_changes_nothing_and_erases_nothing(
    request: pytest.FixtureRequest, database_url: str, last_attempt: bool
) -> None:
    # this run gives up after its attempt (last_attempt) or would retry; the run that takes over
    # (another worker, more attempts allowed) must keep its claim and its rows either way
    mine = Ledger(Store(database_url), lease_seconds=60, max_attempts=1 if last_attempt else 3)
    taker = Ledger(Store(database_url), lease_seconds=60, max_attempts=3)
    arrival = mine.receive("a.csv", "9" * 64, "csv")
    owner, new = new_owner(), f"other-host:{2}:taker"
    assert mine.claim(arrival.batch_id, owner, VERSIONS) == 1
    _take_over_before_next_update(request, mine, arrival.batch_id, taker, new)

    assert mine.release(arrival.batch_id, owner, "boom") == "lost"

    row = mine.get(arrival.batch_id)
    assert (row.state, row.claimed_by, row.attempts, row.reason) == ("processing", new, 2, None)
    with mine.store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(lineage)).scalar_one() == 1
    taker.heartbeat(arrival.batch_id, new)  # the new owner still holds it


def test_a_release_after_commit_leaves_the_batch_committed(ledger: Ledger) -> None:
    arrival = ledger.receive("a.csv", "8" * 64, "csv")
    owner = new_owner()
    ledger.claim(arrival.batch_id, owner, VERSIONS)
    counts = {"rows_in": 1, "rows_scored": 1, "rows_quarantined": 0}
    with ledger.store.begin() as conn:
        ledger.finish(conn, arrival.batch_id, owner, "committed", counts, None, {})
    # the source move failed after the commit, and the run gives the batch back
    assert ledger.release(arrival.batch_id, owner, "move failed") == "lost"
    assert ledger.get(arrival.batch_id).state == "committed"
    with pytest.raises(LostClaim):
        ledger.heartbeat(arrival.batch_id, owner)
