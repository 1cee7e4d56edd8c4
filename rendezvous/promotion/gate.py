"""The promotion gate: at most one promotion is open (evaluated, waiting for a decision) at a time.

The database enforces it (a partial unique index on the 'open' state), so it holds across
processes and machines. A promotion records its owner (host and process, as the batch ledger
does): the next promotion marks one whose process died on this host abandoned at once, and any
other only once it passed ``expires_at`` (its owner lives, or runs on another host). The row
keeps the roles the report was made for: a decision applies only to those roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from rendezvous import roles as role_rules
from rendezvous.owners import new_owner, owner_is_dead
from rendezvous.promotion import audit
from rendezvous.promotion.errors import PromotionBusy, PromotionClosed, PromotionError
from rendezvous.store import Store
from rendezvous.store.schema import promotions

OPEN = "open"
EVALUATION_HOLD_SECONDS = 3600
"""How long an open promotion holds the gate before it waits for a decision."""
DECISION_GRACE_SECONDS = 300
"""Beyond the approval timeout, time for the decided run to apply its decision."""
CLOSED_STATES = ("approved", "rejected", "timeout", "refused", "failed", "abandoned", "rolled_back")


@dataclass(frozen=True)
class Promotion:
    id: int
    candidate: str
    flow_run_id: str | None
    state: str
    before: dict[str, str | None]
    after: dict[str, str | None]
    opened_at: datetime
    expires_at: datetime
    owner: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Promotion:
        m = row._mapping
        return cls(
            id=m["id"],
            candidate=m["candidate"],
            flow_run_id=m["flow_run_id"],
            state=m["state"],
            before=m["before"],
            after=m["after"],
            opened_at=m["opened_at"],
            expires_at=m["expires_at"],
            owner=m["owner"],
        )


def open_promotion(
    store: Store,
    candidate: str,
    flow_run_id: str | None,
    hold_seconds: int,
    owner: str | None = None,
) -> Promotion:
    """Open a promotion of ``candidate`` or raise PromotionBusy naming the one that is open.

    ``owner`` is the process that will apply the decision (default: this one); while it lives,
    the promotion holds the gate until it expires.
    """
    now = datetime.now(UTC)
    owner = owner or new_owner()
    _abandon_stale(store, now)
    with store.begin() as conn:
        audit.require_intact(conn)
        roles = role_rules.current_roles(conn, candidate)
        if roles.get("candidate") != candidate:
            role = next((r for r, v in roles.items() if v == candidate), "unregistered")
            raise PromotionError(f"{candidate} is {role}; only a candidate can be promoted")
        rotation = role_rules.promotion(roles, candidate)
    try:
        with store.begin() as conn:
            new_id = conn.execute(
                insert(promotions).values(
                    candidate=candidate,
                    flow_run_id=flow_run_id,
                    owner=owner,
                    state=OPEN,
                    before=rotation.before(),
                    after=rotation.after(),
                    opened_at=now,
                    expires_at=now + timedelta(seconds=hold_seconds),
                )
            ).inserted_primary_key[0]
    except IntegrityError as exc:
        holder = open_promotions(store)
        who = (
            f"promotion #{holder[0].id} of {holder[0].candidate} (flow run {holder[0].flow_run_id}), "
            f"open since {holder[0].opened_at:%Y-%m-%d %H:%M:%S} UTC"
            if holder
            else "another promotion"
        )
        raise PromotionBusy(
            f"{who} is waiting for a decision; approve or reject it first"
        ) from exc
    return get(store, new_id)


def record_proposal(store: Store, promotion: Promotion, document: dict[str, Any] | None) -> dict[str, Any]:
    """The proposal's audit row, once the report it is about exists: by the proposer its document
    names (signed: the name the approvers file gives the key, the signature kept in the row), or
    by the process that opened the promotion when nobody is named. PromotionClosed if it is not
    open any more."""
    with store.begin() as conn:
        state = conn.execute(select(promotions.c.state).where(promotions.c.id == promotion.id)).scalar()
        if state != OPEN:
            raise PromotionClosed(f"promotion #{promotion.id} is {state}, not open; nothing proposed")
        held = role_rules.current_roles(conn, promotion.candidate)
        actor = document["by"] if document else promotion.owner or "unnamed"
        proposal = f"promotion #{promotion.id} of {promotion.candidate}"
        return audit.record(conn, "propose", actor, proposal, promotion.flow_run_id, held, held, document)


def _abandon_stale(store: Store, now: datetime) -> None:
    """Close open promotions that can never be decided: expired, or their process is gone.

    A compare-and-swap on the 'open' state, so processes doing this at once close each one once.
    An unknown owner (NULL) is not taken for dead: only expiry frees such a promotion.
    """
    for promotion in open_promotions(store):
        if promotion.expires_at < now:
            reason = "expired without a decision (its run ended or died)"
        elif promotion.owner and owner_is_dead(promotion.owner):
            reason = f"its process died before a decision was applied (owner {promotion.owner})"
        else:
            continue
        try:
            with store.begin() as conn:
                _abandon(conn, promotion, "gate", reason)
        except PromotionClosed:  # decided or abandoned by another process meanwhile
            continue


def extend(store: Store, promotion_id: int, seconds: int) -> None:
    """Hold the gate ``seconds`` from now (called when the run starts to wait for a decision)."""
    with store.begin() as conn:
        conn.execute(
            update(promotions)
            .where(promotions.c.id == promotion_id, promotions.c.state == OPEN)
            .values(expires_at=datetime.now(UTC) + timedelta(seconds=seconds))
        )


def close(
    conn: Connection,
    promotion_id: int,
    state: str,
    actor: str,
    reason: str | None = None,
    report: dict[str, Any] | None = None,
) -> None:
    """Decide an open promotion inside the caller's transaction; PromotionClosed if it is not open."""
    if state not in CLOSED_STATES:
        raise ValueError(f"unknown promotion state {state!r}")
    values: dict[str, Any] = {
        "state": state,
        "closed_at": datetime.now(UTC),
        "closed_by": actor,
        "reason": reason,
    }
    if report is not None:
        values["report"] = report
    done = conn.execute(
        update(promotions)
        .where(promotions.c.id == promotion_id, promotions.c.state == OPEN)
        .values(**values)
    )
    if done.rowcount != 1:
        state_now = conn.execute(
            select(promotions.c.state).where(promotions.c.id == promotion_id)
        ).scalar()
        raise PromotionClosed(f"promotion #{promotion_id} is {state_now}, not open; nothing applied")


def attach_report(store: Store, promotion_id: int, report: dict[str, Any]) -> None:
    with store.begin() as conn:
        conn.execute(update(promotions).where(promotions.c.id == promotion_id).values(report=report))


def report_of(store: Store, promotion_id: int) -> dict[str, Any] | None:
    """The report as stored with the promotion: what an approver reads and signs the hash of."""
    with store.begin() as conn:
        return conn.execute(select(promotions.c.report).where(promotions.c.id == promotion_id)).scalar()


def get(store: Store, promotion_id: int) -> Promotion:
    with store.begin() as conn:
        row = conn.execute(select(promotions).where(promotions.c.id == promotion_id)).first()
    if row is None:
        raise PromotionError(f"no promotion #{promotion_id}")
    return Promotion.from_row(row)


def for_run(store: Store, flow_run_id: str) -> Promotion | None:
    with store.begin() as conn:
        row = conn.execute(
            select(promotions)
            .where(promotions.c.flow_run_id == flow_run_id)
            .order_by(promotions.c.id.desc())
        ).first()
    return Promotion.from_row(row) if row else None


def open_promotions(store: Store) -> list[Promotion]:
    with store.begin() as conn:
        rows = conn.execute(select(promotions).where(promotions.c.state == OPEN)).all()
    return [Promotion.from_row(r) for r in rows]


def abandon(store: Store, promotion_id: int, actor: str, reason: str) -> bool:
    """Close a promotion that will never be decided (its run failed); False if already closed."""
    promotion = get(store, promotion_id)
    try:
        with store.begin() as conn:
            _abandon(conn, promotion, actor, reason)
    except PromotionClosed:
        return False
    return True


def _abandon(conn: Connection, promotion: Promotion, actor: str, reason: str) -> None:
    """Close ``promotion`` as abandoned and audit it, in ``conn``'s transaction."""
    close(conn, promotion.id, "abandoned", actor, reason)
    held = role_rules.current_roles(conn, promotion.candidate)
    audit.record(conn, "abandon", actor, reason, promotion.flow_run_id, held, held)
