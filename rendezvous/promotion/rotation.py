"""Role changes: the approved rotation, the recorded refusals, and rollback.

The moves come from the one rotation rule (rendezvous.roles); rollback applies its inverse.
Every change is one transaction of compare-and-swap updates ("set live where it is still the
canary"): if anything moved since the decision was prepared, nothing changes. A scoring run
reads the serving pair in one snapshot when it claims a batch, so it sees the old pair or the
new one, never half of each.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from rendezvous import roles
from rendezvous.failpoints import crash_point
from rendezvous.promotion import audit, gate
from rendezvous.promotion.errors import ChainBroken, PromotionError, RotationConflict
from rendezvous.promotion.gate import Promotion
from rendezvous.registry import ModelIntegrityError, Registry
from rendezvous.roles import Rotation
from rendezvous.store import Store
from rendezvous.store.schema import models, promotions
from rendezvous.trust.consent import Policy, Refused
from rendezvous.trust.identity import IdentityError, check_identity


def shown(name: str) -> str:
    """A name as the audit shows a refused one: invisible characters spelled out (\\u200b)."""
    return name.encode("unicode_escape").decode()[:200] or "(empty)"


def _apply(conn: Connection, rotation: Rotation) -> None:
    """Each move as a compare-and-swap on the role it expects; RotationConflict if one moved."""
    for move in rotation.moves:
        done = conn.execute(
            update(models)
            .where(models.c.version == move.version, models.c.role == move.src)
            .values(role=move.dst, shadow=False)
        )
        if done.rowcount != 1:
            now = conn.execute(select(models.c.role).where(models.c.version == move.version)).scalar()
            raise RotationConflict(
                f"{move.version} is {now or 'unregistered'}, expected {move.src}; nothing changed"
            )


@contextmanager
def _rotating(store: Store) -> Iterator[Connection]:
    """The rotation's transaction; a role the database refuses to fill twice is a RotationConflict."""
    try:
        with store.begin() as conn:
            yield conn
    except IntegrityError as exc:  # someone took a role this rotation fills (a bootstrap meanwhile)
        with store.begin() as conn:
            held = roles.current_roles(conn)
        raise RotationConflict(
            f"live is now {held['live']} and canary {held['canary']}, not what this rotation "
            "was prepared for; nothing changed"
        ) from exc


def approve(
    store: Store,
    registry: Registry,
    promotion: Promotion,
    actor: str,
    comment: str | None,
    decision: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Rotate candidate -> live, live -> canary, canary -> retired and audit it, in one transaction.

    ``decision`` is the verified decision document (rendezvous.trust.consent), kept in the audit row.
    Refused (and recorded as refused) if the candidate's file fails its sha256 check or the
    roles moved since the report was made.
    """
    record = registry.get(promotion.candidate)
    try:
        registry.verify_file(record)
    except ModelIntegrityError as exc:
        refuse(store, promotion, actor, f"approved by {actor}, but {exc}")
        raise
    rotation = roles.promotion(promotion.before, promotion.candidate)
    crash_point("before-rotation")
    try:
        with _rotating(store) as conn:
            audit.require_intact(conn)
            gate.close(conn, promotion.id, "approved", actor, comment)
            _apply(conn, rotation)
            change = audit.record(
                conn,
                "promote",
                actor,
                comment,
                promotion.flow_run_id,
                rotation.before(),
                rotation.after(),
                decision,
            )
            crash_point("in-rotation")
    except RotationConflict as exc:
        refuse(store, promotion, actor, f"approved by {actor}, but the roles moved: {exc}")
        raise
    except ChainBroken as exc:
        refuse(store, promotion, actor, f"approved by {actor}, but {exc}")
        raise
    crash_point("after-rotation")
    return change


def decline(
    store: Store,
    promotion: Promotion,
    action: str,
    actor: str,
    comment: str | None,
    decision: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A rejection or a timeout: the roles stay as they are, and that is recorded."""
    if action not in ("reject", "timeout"):
        raise ValueError(f"unknown action {action!r}")
    with store.begin() as conn:
        gate.close(conn, promotion.id, "rejected" if action == "reject" else "timeout", actor, comment)
        held = roles.current_roles(conn, promotion.candidate)
        return audit.record(conn, action, actor, comment, promotion.flow_run_id, held, held, decision)


def refuse(
    store: Store,
    promotion: Promotion,
    actor: str,
    reason: str,
    decision: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Close a promotion that must not be applied, recording why (and the refused decision's
    document); None if it was already closed."""
    with store.begin() as conn:
        try:
            gate.close(conn, promotion.id, "refused", actor, reason)
        except PromotionError:
            return None
        try:
            held = roles.current_roles(conn, promotion.candidate)
        except ChainBroken:  # recorded against the roles the promotion was prepared for
            held = {**promotion.before, "candidate": promotion.candidate}
        return audit.record(conn, "refuse", actor, reason, promotion.flow_run_id, held, held, decision)


def last_approved(store: Store) -> Promotion:
    """The promotion a rollback undoes: the newest approved one not yet rolled back."""
    with store.begin() as conn:
        row = conn.execute(
            select(promotions)
            .where(promotions.c.state == "approved")
            .order_by(promotions.c.closed_at.desc(), promotions.c.id.desc())
        ).first()
    if row is None:
        raise PromotionError("no approved promotion left to roll back")
    return Promotion.from_row(row)


def rollback_fields(last: Promotion, reason: str) -> dict[str, Any]:
    """What a rollback decision signs: the promotion it undoes, its candidate, and why."""
    return {"undoes": last.id, "candidate": last.candidate, "reason": reason}


def rollback(
    store: Store, registry: Registry, by: str, reason: str, policy: Policy, signature: str = ""
) -> dict[str, Any]:
    """Restore the pair that was serving before the last promotion not yet rolled back.

    An emergency path, but not a side door: it needs one approver's decision under ``policy``
    (a signature over what is undone in signed mode), refused and audited otherwise. The
    rolled-back model is retired. Rollbacks stack: each one undoes the promotion before.
    """
    last = last_approved(store)
    try:
        reason = check_identity(reason, "reason")
        decision = policy.roll_back(rollback_fields(last, reason), by, signature)
    except (IdentityError, Refused) as exc:
        attempt = {"kind": "rollback", "by": by, "reason": reason, "signature": signature or None}
        with store.begin() as conn:
            held = roles.current_roles(conn)
            audit.record(conn, "refuse", shown(by), f"rollback refused: {exc}", None, held, held, attempt)
        raise PromotionError(f"rollback refused: {exc}") from exc
    actor = decision["by"]
    if last.before.get("live") is None:
        raise PromotionError(f"promotion #{last.id} had no live model before it; nothing to restore")
    undo = roles.rollback(roles.promotion(last.before, last.candidate))
    restored = undo.after()
    for role in roles.SERVING_ROLES:
        if restored[role]:
            registry.verify_file(registry.get(restored[role]))
    with _rotating(store) as conn:
        audit.require_intact(conn)
        _apply(conn, undo)
        done = conn.execute(
            update(promotions)
            .where(promotions.c.id == last.id, promotions.c.state == "approved")
            .values(state="rolled_back")
        )
        if done.rowcount != 1:
            raise RotationConflict(f"promotion #{last.id} was rolled back meanwhile")
        return audit.record(
            conn,
            "rollback",
            actor,
            f"{reason} (undoes promotion #{last.id} of {last.candidate})",
            None,
            undo.before(),
            undo.after(),
            decision,
        )
