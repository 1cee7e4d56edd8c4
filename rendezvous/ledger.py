"""The batch ledger: which content arrived, who is processing it, and how it ended.

A batch is its content (sha256). Claims are compare-and-swap updates with a lease, so two
runs never process one batch, and a claim whose owner died (lease expired, or its process is
gone on this host) can be taken over. Every claim first erases what an earlier, unfinished
attempt wrote, which is what makes a re-run after a crash exact.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, case, cast, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from rendezvous.names import checked_name, slug
from rendezvous.owners import owned_here, owner_is_dead
from rendezvous.store import Store
from rendezvous.store.schema import arrivals, batches

TERMINAL = ("committed", "rejected", "failed")
_log = logging.getLogger(__name__)


def batch_id_for(name: str, sha256: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return checked_name(f"{slug(stem, 80, 'batch')}-{sha256[:10]}", "batch id")


@dataclass(frozen=True)
class Arrival:
    """What the ledger says about a file just found in the inbox."""

    batch_id: str
    status: str  # "claimable", "busy", "duplicate", "finish_move"
    state: str
    detail: str = ""


class Ledger:
    def __init__(self, store: Store, lease_seconds: int, max_attempts: int) -> None:
        self.store = store
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts

    def receive(self, name: str, sha256: str, fmt: str | None) -> Arrival:
        """Record the arrival of a file and say what to do with it."""
        now = datetime.now(UTC)
        batch_id = batch_id_for(name, sha256)
        try:
            with self.store.begin() as conn:
                row = conn.execute(select(batches).where(batches.c.sha256 == sha256)).first()
                if row is None:
                    conn.execute(
                        insert(batches).values(
                            id=batch_id,
                            source=name,
                            sha256=sha256,
                            format=fmt or "unknown",
                            state="received",
                            received_at=now,
                            rows_in=0,
                            rows_scored=0,
                            rows_quarantined=0,
                            attempts=0,
                            outputs={},
                        )
                    )
                    conn.execute(
                        insert(arrivals).values(
                            batch_id=batch_id, source=name, arrived_at=now, outcome="received"
                        )
                    )
                    return Arrival(batch_id, "claimable", "received")
                return self._existing(conn, row, name, now)
        except IntegrityError:
            # another run inserted the same content a moment ago: it owns the batch
            return Arrival(batch_id, "busy", "received", "being received by another run")

    def _existing(self, conn: Connection, row: Any, name: str, now: datetime) -> Arrival:
        if row.state in TERMINAL:
            if not (row.outputs or {}).get("source_moved"):
                if not self._move_is_ours_to_finish(row, now):
                    return Arrival(row.id, "busy", row.state, f"being moved on by {row.claimed_by}")
                return Arrival(row.id, "finish_move", row.state)
            conn.execute(
                insert(arrivals).values(batch_id=row.id, source=name, arrived_at=now, outcome="duplicate")
            )
            when = row.finished_at.isoformat(timespec="seconds") if row.finished_at else "?"
            return Arrival(
                row.id,
                "duplicate",
                row.state,
                f"same content (sha256 {row.sha256[:12]}) as batch {row.id} from {row.source}, "
                f"{row.state} at {when}; not scored again",
            )
        if row.state == "processing" and not self._takeable(row, now):
            return Arrival(row.id, "busy", row.state, f"claimed by {row.claimed_by}")
        return Arrival(row.id, "claimable", row.state)

    def _move_is_ours_to_finish(self, row: Any, now: datetime) -> bool:
        """A closed batch whose file is still in the inbox: its own run is moving it on right now,
        unless that run died, is this process (an earlier attempt of it failed), or has had a
        lease's time. Another live run finishing the move would report the batch as its own."""
        finished = row.finished_at
        return (
            owner_is_dead(row.claimed_by)
            or owned_here(row.claimed_by)
            or finished is None
            or finished + self.lease < now
        )

    def _takeable(self, row: Any, now: datetime) -> bool:
        expires = row.lease_expires
        return expires is None or expires < now or owner_is_dead(row.claimed_by)

    def claim(self, batch_id: str, owner: str, versions: dict[str, str | None]) -> int | None:
        """Take the batch for ``owner`` and erase any earlier attempt; the attempt number or None."""
        from rendezvous.records import erase_batch_rows  # pandas: paid by writers, not by reads

        now = datetime.now(UTC)
        with self.store.begin() as conn:
            row = conn.execute(select(batches).where(batches.c.id == batch_id)).first()
            if row is None or row.state in TERMINAL:
                return None
            if row.state == "processing" and not self._takeable(row, now):
                return None
            if row.state == "processing" and row.attempts >= self.max_attempts:
                conn.execute(
                    update(batches)
                    .where(batches.c.id == batch_id, batches.c.attempts == row.attempts)
                    .values(
                        state="failed",
                        reason=f"gave up after {row.attempts} attempts whose process died mid-batch "
                        f"(last: {row.claimed_by}); a file that kills its worker is not retried forever",
                        lease_expires=None,
                        finished_at=now,
                    )
                )
                erase_batch_rows(conn, batch_id)
                return None
            swapped = conn.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.attempts == row.attempts)
                .values(
                    state="processing",
                    claimed_by=owner,
                    lease_expires=now + self.lease,
                    attempts=row.attempts + 1,
                    started_at=now,
                    live_version=versions.get("live"),
                    canary_version=versions.get("canary"),
                )
            )
            if swapped.rowcount != 1:
                return None
            erase_batch_rows(conn, batch_id)
            return row.attempts + 1

    def heartbeat(self, batch_id: str, owner: str) -> None:
        """Extend the lease; raises if the claim was taken over (this run must stop writing)."""
        with self.store.begin() as conn:
            done = conn.execute(
                update(batches)
                .where(*_held(batch_id, owner))
                .values(lease_expires=datetime.now(UTC) + self.lease)
            )
            if done.rowcount != 1:
                raise LostClaim(f"batch {batch_id}: the claim was taken over by another run")

    @contextmanager
    def lease_kept(self, batch_id: str, owner: str) -> Iterator[None]:
        """Renew the lease in the background while the block runs: a batch is held through its
        monitoring and commit as much as through its chunks, however long any one step takes."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.lease.total_seconds() / 3):
                try:
                    self.heartbeat(batch_id, owner)
                except LostClaim:
                    return  # the run's next write is refused and says so
                except Exception:  # the database out for a moment: the next renewal may do
                    _log.warning("could not renew the lease of batch %s", batch_id, exc_info=True)

        renewer = threading.Thread(target=renew, name=f"lease-{batch_id}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()

    def finish(
        self,
        conn: Connection,
        batch_id: str,
        owner: str,
        state: str,
        counts: dict[str, Any],
        reason: str | None,
        outputs: dict[str, Any],
    ) -> None:
        """Close the batch inside the caller's transaction (with its last rows)."""
        done = conn.execute(
            update(batches)
            .where(*_held(batch_id, owner))
            .values(
                state=state,
                reason=_storable(reason),
                finished_at=datetime.now(UTC),
                lease_expires=None,
                outputs={**outputs, "source_moved": False},
                **counts,
            )
        )
        if done.rowcount != 1:
            raise LostClaim(f"batch {batch_id}: the claim was taken over before commit")

    def mark_moved(self, batch_id: str) -> None:
        with self.store.begin() as conn:
            outputs = conn.execute(select(batches.c.outputs).where(batches.c.id == batch_id)).scalar()
            conn.execute(
                update(batches)
                .where(batches.c.id == batch_id)
                .values(outputs={**(outputs or {}), "source_moved": True})
            )

    def release(self, batch_id: str, owner: str, error: str) -> str:
        """Give a batch back after an unexpected error; after max attempts it fails for good.

        One conditional UPDATE (still processing, still ours): a run that took the batch over
        meanwhile keeps it, and only a release that won erases the batch's rows.
        """
        from rendezvous.records import erase_batch_rows

        final = batches.c.attempts >= self.max_attempts
        error = _storable(error) or ""
        retry_reason = literal("attempt ") + cast(batches.c.attempts, String) + literal(f" failed: {error}")
        now = literal(datetime.now(UTC), batches.c.finished_at.type)
        with self.store.begin() as conn:
            released = conn.execute(
                update(batches)
                .where(*_held(batch_id, owner))
                .values(
                    state=case((final, "failed"), else_="received"),
                    reason=case((final, literal(error)), else_=retry_reason),
                    lease_expires=None,
                    claimed_by=case((final, owner), else_=None),
                    finished_at=case((final, now), else_=None),
                )
                .returning(batches.c.state)
            ).scalar()
            if released is None:
                return "lost"
            if released == "failed":
                erase_batch_rows(conn, batch_id)  # a failed batch keeps its reason, not half its rows
                return "failed"
            return "retry"

    def get(self, batch_id: str) -> Any:
        with self.store.begin() as conn:
            return conn.execute(select(batches).where(batches.c.id == batch_id)).first()


def _held(batch_id: str, owner: str) -> tuple[ColumnElement[bool], ...]:
    """The batch is still being processed by ``owner``: the condition of every write it makes."""
    return batches.c.id == batch_id, batches.c.claimed_by == owner, batches.c.state == "processing"


def _storable(reason: str | None) -> str | None:
    """Reasons quote what was sent, and PostgreSQL text refuses NUL: spell it out instead."""
    return reason.replace("\x00", "\\x00") if reason else reason


class LostClaim(Exception):
    """This run no longer owns the batch; whatever it would write belongs to another run."""
