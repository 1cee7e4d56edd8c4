"""Roles come from the hash-chained audit, on SQLite and PostgreSQL: a role written by hand into
the models table serves nobody and is reported; a row forged, edited or inserted into the audit
breaks the chain where it was touched, and then no promotion or rollback moves a role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import insert, select, text, update

from rendezvous import roles
from rendezvous.promotion import audit, gate, rotation
from rendezvous.promotion.errors import ChainBroken, PromotionClosed, PromotionError
from rendezvous.registry import Registry
from rendezvous.services import Services
from rendezvous.settings import Settings
from rendezvous.store import Store
from rendezvous.store.engine import dispose_all
from rendezvous.store.schema import models, role_changes
from rendezvous.trust.consent import Policy
from rendezvous.verify import CheckResult, check_audit_chain, check_role_audit

NAMED = Policy("named", 1, Path("/nonexistent/approvers.toml"))


def _model_file(tmp_path: Path, name: str, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"f": rng.normal(size=60), "g": rng.normal(size=60)})
    path = tmp_path / f"{name}.joblib"
    joblib.dump(LogisticRegression().fit(frame, (frame.f > 0).astype(int)), path)
    return path


@pytest.fixture
def registry(database_url: str, tmp_path: Path) -> Registry:
    registry = Registry(Store(database_url), str(tmp_path / "models"))
    for seed, (version, role) in enumerate([("L", "live"), ("C", "canary"), ("evil-1", "candidate")]):
        registry.register(
            _model_file(tmp_path, f"m{seed}", seed), role, version=version, actor="ann", trust_pickle=True
        )
    return registry


def _breaches(registry: Registry, check: Callable[[Services], CheckResult]) -> list[str]:
    return check(Services(Settings(database_url=registry.store.url, models_dir=registry.models_dir))).breaches


def test_a_role_written_by_hand_serves_nobody_and_is_reported(registry: Registry) -> None:
    with registry.store.begin() as conn:  # what a candidate's unpickling did to itself
        conn.execute(text("UPDATE models SET role = 'retired' WHERE version = 'L'"))
        conn.execute(text("UPDATE models SET role = 'live' WHERE version = 'evil-1'"))
    live, canary, _ = registry.serving_set()
    assert (live.version, live.role, canary.version) == ("L", "live", "C")
    assert registry.by_role("live").version == "L"
    assert _breaches(registry, check_audit_chain) == []
    assert _breaches(registry, check_role_audit) == [
        "the models table makes evil-1 live, the audit L: written by hand, not served"
    ]
    with pytest.raises(PromotionError, match="evil-1 is unaudited"):  # nor can it be proposed
        gate.open_promotion(registry.store, "evil-1", "run-1", hold_seconds=600)


def _forge(registry: Registry, **values: object) -> int:
    """A row inserted by SQL, as whoever holds the store's credentials could."""
    row = {
        "action": "promote",
        "actor": "approver",
        "comment": None,
        "flow_run_id": None,
        "before": {"live": "L", "canary": "C"},
        "after": {"live": "evil-1", "canary": "L"},
        "at": datetime.now(UTC),
        "prev_hash": "f" * 64,
        "row_hash": "e" * 64,
        **values,
    }
    with registry.store.begin() as conn:
        return conn.execute(insert(role_changes).values(**row)).inserted_primary_key[0]


@pytest.mark.parametrize("links", [False, True], ids=["bad-link", "linked-bad-hash"])
def test_a_forged_audit_row_is_reported_and_stops_promotion(
    registry: Registry, tmp_path: Path, links: bool
) -> None:
    registry.register(_model_file(tmp_path, "next", 9), "candidate", version="next", trust_pickle=True)
    earlier = gate.open_promotion(registry.store, "next", "run-0", hold_seconds=600)
    rotation.approve(registry.store, registry, earlier, "bob", "fine")  # something to roll back
    promotion = gate.open_promotion(registry.store, "evil-1", "run-1", hold_seconds=600)
    with registry.store.begin() as conn:
        tail = audit.last(conn).row_hash
    forged = _forge(registry, prev_hash=tail) if links else _forge(registry)
    found = _breaches(registry, check_audit_chain)
    assert len(found) == 1 and found[0].startswith(f"audit row #{forged}: ")
    with pytest.raises(ChainBroken, match=f"#{forged}.*nobody is served"):  # not the forged live
        registry.serving_set()
    with pytest.raises(ChainBroken, match=f"broken at audit row #{forged}"):
        rotation.approve(registry.store, registry, promotion, "bob", "looks fine")
    with pytest.raises(ChainBroken, match=f"#{forged}"):
        rotation.rollback(registry.store, registry, "bob", "undo", NAMED)
    with pytest.raises(ChainBroken, match=f"#{forged}"):
        gate.open_promotion(registry.store, "evil-1", "run-2", hold_seconds=600)
    with registry.store.begin() as conn:
        held = dict(conn.execute(select(models.c.version, models.c.role)).all())
    assert held == {"next": "live", "L": "canary", "C": "retired", "evil-1": "candidate"}
    assert gate.get(registry.store, promotion.id).state == "refused"


def test_an_edited_audit_row_is_reported_where_it_was_edited(registry: Registry) -> None:
    with registry.store.begin() as conn:
        first = conn.execute(select(role_changes.c.id).order_by(role_changes.c.id)).scalars().first()
        conn.execute(update(role_changes).where(role_changes.c.id == first).values(actor="mallory"))
    assert _breaches(registry, check_audit_chain) == [
        f"audit row #{first}: its content does not match its hash (edited, or forged)"
    ]


def test_every_registration_shadow_switch_and_abandonment_is_in_the_chain(registry: Registry) -> None:
    registry.set_shadow("evil-1", True, actor="dora")
    registry.set_shadow("evil-1", False, actor="dora")
    promotion = gate.open_promotion(registry.store, "evil-1", "run-1", hold_seconds=600)
    gate.record_proposal(registry.store, promotion, {"kind": "proposal", "by": "erin"})
    assert gate.abandon(registry.store, promotion.id, "promote-model", "the run failed")
    with pytest.raises(PromotionClosed):  # nothing is proposed on a closed promotion
        gate.record_proposal(registry.store, promotion, {"kind": "proposal", "by": "erin"})
    events = [(r["action"], r["actor"]) for r in audit.history(registry.store)]
    assert events[:3] == [("register", "ann")] * 3
    assert events[3:5] == [("shadow on", "dora"), ("shadow off", "dora")]
    assert events[5:] == [("propose", "erin"), ("abandon", "promote-model")]
    assert _breaches(registry, check_audit_chain) == []


def test_an_old_home_gets_its_audit_chained_once(database_url: str, tmp_path: Path) -> None:
    """Rows written before the chain are chained in order; the models table's pair is adopted."""
    store = Store(database_url)
    with store.begin() as conn:
        conn.execute(text("DROP INDEX uq_role_changes_prev_hash"))
        for column in ("decision", "prev_hash", "row_hash"):
            conn.execute(text(f"ALTER TABLE role_changes DROP COLUMN {column}"))
        conn.execute(
            insert(models).values(
                version="old-live",
                role="live",
                shadow=False,
                path="x",
                sha256="0" * 64,
                kind="classifier",
                feature_names=["f"],
                sklearn_version="1",
                metadata={},
                registered_at=datetime.now(UTC),
            )
        )
        conn.execute(
            text(
                "INSERT INTO role_changes (action, actor, comment, before, after, at) VALUES "
                "('register', 'x', NULL, '{}', '{\"live\": \"gone\"}', '2026-01-01 00:00:00')"
            )
        )
    dispose_all()
    store = Store(database_url)
    with store.begin() as conn:
        assert roles.current_roles(conn) == {"live": "old-live", "canary": None}
        checked, found = audit.chain_breaks(conn)
    assert (checked, found) == (2, [])
    upgrade = audit.history(store)[-1]
    assert (upgrade["action"], upgrade["actor"]) == ("chain", "upgrade")
    assert "hash-chained the 1 audit rows" in upgrade["comment"] and "'gone'" in upgrade["comment"]
    dispose_all()
    assert len(audit.history(Store(database_url))) == 2  # once
