"""The promotion gate, the rotation and rollback on SQLite and PostgreSQL: one transaction each,
audited, refused when the file or the roles changed, one open promotion at a time."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sqlalchemy import select, update

from rendezvous.promotion import audit, gate, rotation
from rendezvous.promotion.errors import (
    PromotionBusy,
    PromotionClosed,
    PromotionError,
    RotationConflict,
)
from rendezvous.registry import ModelIntegrityError, Registry
from rendezvous.store import Store
from rendezvous.store.schema import models, promotions
from rendezvous.trust.consent import Policy, rollback_fields
from rendezvous.trust.keys import generate, read_private_key
from rendezvous.trust.signing import sign

NAMED = Policy("named", 1, Path("/nonexistent/approvers.toml"))


def _model_file(tmp_path: Path, name: str, seed: int) -> Path:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=100), "x2": rng.normal(size=100)})
    model = LogisticRegression().fit(frame, (frame.x1 > 0).astype(int))
    path = tmp_path / f"{name}.skops"
    sio.dump(model, path)
    return path


@pytest.fixture
def registry(database_url: str, tmp_path: Path) -> Registry:
    registry = Registry(Store(database_url), str(tmp_path / "models"))
    for seed, (version, role) in enumerate(
        [("L1", "live"), ("C1", "canary"), ("X1", "candidate"), ("X2", "candidate")]
    ):
        registry.register(_model_file(tmp_path, version, seed), role, version=version)
    registry.set_shadow("X1", True)
    return registry


def _roles(registry: Registry) -> dict[str, str]:
    return {r.version: r.role for r in registry.list()}


def _open(registry: Registry, candidate: str = "X1", run: str | None = "run-1") -> gate.Promotion:
    """An open promotion and its (unnamed) proposal, as the flow makes them once its report exists."""
    promotion = gate.open_promotion(registry.store, candidate, run, hold_seconds=600)
    gate.record_proposal(registry.store, promotion, None)
    return promotion


def test_approval_rotates_three_roles_and_audits_in_one_step(registry: Registry) -> None:
    promotion = _open(registry)
    change = rotation.approve(registry.store, registry, promotion, "alice", "better on shadow")
    assert _roles(registry) == {"L1": "canary", "C1": "retired", "X1": "live", "X2": "candidate"}
    assert registry.get("X1").shadow is False
    (row,) = [r for r in audit.history(registry.store) if r["action"] == "promote"]
    assert row["id"] == change["id"]
    assert (row["actor"], row["comment"], row["flow_run_id"]) == ("alice", "better on shadow", "run-1")
    assert row["before"] == {"live": "L1", "canary": "C1", "candidate": "X1"}
    assert row["after"] == {"live": "X1", "canary": "L1", "retired": "C1"}
    assert gate.get(registry.store, promotion.id).state == "approved"
    with pytest.raises(PromotionClosed):
        rotation.approve(registry.store, registry, promotion, "alice", "again")


def test_second_promotion_is_refused_while_one_is_open(registry: Registry) -> None:
    first = _open(registry, "X1", "run-1")
    with pytest.raises(PromotionBusy, match=r"X1 \(flow run run-1\)"):
        _open(registry, "X2", "run-2")
    rotation.decline(registry.store, first, "reject", "bob", "not yet")
    second = _open(registry, "X2", "run-2")
    assert second.state == "open"


def test_the_database_admits_one_open_promotion(registry: Registry) -> None:
    """The constraint itself, not the code path: a raw second insert of an open row fails."""
    promotion = _open(registry)
    with pytest.raises(Exception, match=r"(?i)unique"), registry.store.begin() as conn:
        conn.execute(
            promotions.insert().values(
                candidate="X2",
                state="open",
                before={},
                after={},
                opened_at=promotion.opened_at,
                expires_at=promotion.expires_at,
            )
        )


def test_an_expired_promotion_no_longer_blocks_and_cannot_be_applied(registry: Registry) -> None:
    stale = gate.open_promotion(registry.store, "X1", "dead-run", hold_seconds=-1)
    fresh = _open(registry, "X2", "run-2")
    assert gate.get(registry.store, stale.id).state == "abandoned"
    with pytest.raises(PromotionClosed):
        rotation.approve(registry.store, registry, stale, "alice", None)
    assert _roles(registry)["X1"] == "candidate"
    assert fresh.state == "open"


def test_a_promotion_whose_process_died_no_longer_blocks(registry: Registry) -> None:
    """Dead on this host: abandoned at once. Elsewhere or unknown: it holds until it expires."""
    elsewhere = gate.open_promotion(registry.store, "X1", "run-1", 600, owner="other-host:1:x")
    with pytest.raises(PromotionBusy, match="X1"):
        _open(registry, "X2", "run-2")
    with registry.store.begin() as conn:  # opened before owners were recorded
        conn.execute(update(promotions).where(promotions.c.id == elsewhere.id).values(owner=None))
    with pytest.raises(PromotionBusy, match="X1"):
        _open(registry, "X2", "run-2")
    rotation.decline(registry.store, elsewhere, "reject", "bob", None)

    dead = gate.open_promotion(
        registry.store, "X1", "run-3", 600, owner=f"{socket.gethostname()}:999999999:dead"
    )
    fresh = _open(registry, "X2", "run-4")
    assert (fresh.state, fresh.owner.split(":")[1]) == ("open", str(os.getpid()))
    assert gate.get(registry.store, dead.id).state == "abandoned"
    with pytest.raises(PromotionClosed):
        rotation.approve(registry.store, registry, dead, "alice", None)
    assert _roles(registry)["X1"] == "candidate"


@pytest.mark.parametrize("action", ["reject", "timeout"])
def test_rejection_and_timeout_change_nothing_and_are_recorded(
    registry: Registry, action: str
) -> None:
    before = _roles(registry)
    promotion = _open(registry)
    change = rotation.decline(registry.store, promotion, action, "bob", "no")
    assert _roles(registry) == before
    assert change["action"] == action
    assert change["before"] == change["after"] == {"live": "L1", "canary": "C1", "candidate": "X1"}
    assert gate.get(registry.store, promotion.id).state == ("rejected" if action == "reject" else "timeout")


def test_tampered_candidate_cannot_be_promoted(registry: Registry) -> None:
    promotion = _open(registry)
    with open(registry.get("X1").path, "ab") as handle:
        handle.write(b"\0")
    before = _roles(registry)
    with pytest.raises(ModelIntegrityError):
        rotation.approve(registry.store, registry, promotion, "alice", "ship it")
    assert _roles(registry) == before
    last = audit.history(registry.store)[-1]
    assert last["action"] == "refuse" and "sha256" in last["comment"]
    assert gate.get(registry.store, promotion.id).state == "refused"


def test_roles_that_moved_since_the_report_refuse_the_rotation(registry: Registry) -> None:
    promotion = _open(registry)
    with registry.store.begin() as conn:  # e.g. a rollback happened while the promotion waited
        conn.execute(update(models).where(models.c.version == "C1").values(role="retired"))
    with pytest.raises(RotationConflict, match="C1 is retired"):
        rotation.approve(registry.store, registry, promotion, "alice", None)
    roles = _roles(registry)
    assert (roles["L1"], roles["X1"]) == ("live", "candidate")
    assert gate.get(registry.store, promotion.id).state == "refused"


def test_a_canary_bootstrapped_while_the_promotion_waited_refuses_the_rotation(
    database_url: str, tmp_path: Path
) -> None:
    """The rotation would make the old live a second canary: the database refuses, nothing moves."""
    registry = Registry(Store(database_url), str(tmp_path / "models"))
    registry.register(_model_file(tmp_path, "L", 0), "live", version="L")
    registry.register(_model_file(tmp_path, "X", 1), "candidate", version="X")
    promotion = _open(registry, "X")
    registry.register(_model_file(tmp_path, "C", 2), "canary", version="C")
    with pytest.raises(RotationConflict, match="live is now L and canary C"):
        rotation.approve(registry.store, registry, promotion, "alice", None)
    assert _roles(registry) == {"L": "live", "X": "candidate", "C": "canary"}
    assert gate.get(registry.store, promotion.id).state == "refused"
    assert audit.history(registry.store)[-1]["action"] == "refuse"


def test_concurrent_approvals_rotate_once(registry: Registry) -> None:
    promotion = _open(registry)
    outcomes: list[str] = []

    def approve(name: str) -> None:
        try:
            rotation.approve(registry.store, registry, promotion, name, None)
            outcomes.append("rotated")
        except PromotionError as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=approve, args=(f"approver-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("rotated") == 1
    assert _roles(registry) == {"L1": "canary", "C1": "retired", "X1": "live", "X2": "candidate"}
    assert [r["action"] for r in audit.history(registry.store)].count("promote") == 1


def test_rollback_restores_the_previous_pair_and_stacks(registry: Registry) -> None:
    original = _roles(registry)
    rotation.approve(registry.store, registry, _open(registry, "X1", "run-1"), "alice", None)
    rotation.approve(registry.store, registry, _open(registry, "X2", "run-2"), "alice", None)
    assert _roles(registry) == {"X2": "live", "X1": "canary", "L1": "retired", "C1": "retired"}

    change = rotation.rollback(registry.store, registry, "carol", "X2 misbehaves", NAMED)
    assert _roles(registry) == {"X1": "live", "L1": "canary", "X2": "retired", "C1": "retired"}
    assert change["before"] == {"live": "X2", "canary": "X1", "retired": "L1"}
    assert change["after"] == {"live": "X1", "canary": "L1", "retired": "X2"}
    assert change["actor"] == "carol" and "X2 misbehaves" in change["comment"]

    rotation.rollback(registry.store, registry, "carol", "X1 too", NAMED)
    assert _roles(registry) == {**original, "X1": "retired", "X2": "retired"}
    with pytest.raises(PromotionError, match="no approved promotion"):
        rotation.rollback(registry.store, registry, "carol", "nothing left", NAMED)
    actions = [r["action"] for r in audit.history(registry.store)]
    assert actions == [
        *["register"] * 4,
        "shadow on",
        *["propose", "promote"] * 2,
        "rollback",
        "rollback",
    ]


def test_rollback_refuses_when_roles_are_not_what_the_promotion_left(registry: Registry) -> None:
    rotation.approve(registry.store, registry, _open(registry), "alice", None)
    with registry.store.begin() as conn:
        conn.execute(update(models).where(models.c.version == "L1").values(role="retired"))
    snapshot = _roles(registry)
    with pytest.raises(RotationConflict):
        rotation.rollback(registry.store, registry, "carol", "undo", NAMED)
    assert _roles(registry) == snapshot
    with registry.store.begin() as conn:
        states = conn.execute(select(promotions.c.state)).scalars().all()
    assert states == ["approved"]


def test_rollback_refuses_a_tampered_previous_model(registry: Registry) -> None:
    rotation.approve(registry.store, registry, _open(registry), "alice", None)
    with open(registry.get("L1").path, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelIntegrityError):
        rotation.rollback(registry.store, registry, "carol", "undo", NAMED)
    assert _roles(registry)["X1"] == "live"


def _signed_policy(tmp_path: Path) -> tuple[Policy, Path]:
    """carol is the one approver; her private key file."""
    private, line = generate(tmp_path / "keys", "carol")
    (tmp_path / "approvers.toml").write_text(line + "\n")
    return Policy("signed", 1, tmp_path / "approvers.toml"), private


def test_signed_rollback_needs_an_approvers_signature_over_what_it_undoes(
    registry: Registry, tmp_path: Path
) -> None:
    policy, carol = _signed_policy(tmp_path)
    rotation.approve(registry.store, registry, _open(registry), "alice", None)
    last = rotation.last_approved(registry.store)
    with pytest.raises(PromotionError, match="no signature"):
        rotation.rollback(registry.store, registry, "carol", "undo", policy)
    key = read_private_key(carol)
    other = rollback_fields({**rotation.rollback_fields(last, "undo"), "undoes": last.id + 1}, "carol")
    with pytest.raises(PromotionError, match="not carol's"):  # signed for another promotion
        rotation.rollback(registry.store, registry, "carol", "undo", policy, sign(other, key))
    assert _roles(registry)["X1"] == "live"
    refusals = [r for r in audit.history(registry.store) if r["action"] == "refuse"]
    assert [r["decision"]["kind"] for r in refusals] == ["rollback", "rollback"]

    signature = sign(rollback_fields(rotation.rollback_fields(last, "undo"), "carol"), key)
    change = rotation.rollback(registry.store, registry, "carol", "undo", policy, signature)
    assert _roles(registry)["X1"] == "retired" and _roles(registry)["L1"] == "live"
    row = audit.history(registry.store)[-1]
    assert (row["id"], row["action"], row["actor"]) == (change["id"], "rollback", "carol")
    assert row["decision"]["signature"] == signature and row["decision"]["undoes"] == last.id


@pytest.mark.parametrize(("by", "reason"), [("\u200b", "undo"), ("carol", "\u200b"), ("carol", " ")])
def test_named_rollback_needs_a_readable_name_and_reason(registry: Registry, by: str, reason: str) -> None:
    rotation.approve(registry.store, registry, _open(registry), "alice", None)
    with pytest.raises(PromotionError, match=r"rollback refused: the (approver|reason)"):
        rotation.rollback(registry.store, registry, by, reason, NAMED)
    assert _roles(registry)["X1"] == "live"
    assert audit.history(registry.store)[-1]["action"] == "refuse"
