"""Promotion crash campaign: SIGKILL a promotion before, during and after the rotation, and while
it waits for its decision. The roles are then the old pair or the new trio, never half of each,
audited exactly when they changed; `verify` finds nothing; and a fresh promotion of the same
candidate completes, without waiting for the dead one to expire. On SQLite and PostgreSQL.
RENDEZVOUS_PROMOTION_KILLS sets the count (default: each crash once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from rendezvous.demo.bootstrap import build_demo
from rendezvous.failpoints import PROMOTION_POINTS
from rendezvous.promotion import audit, gate, review
from rendezvous.promotion.errors import PromotionError
from rendezvous.services import Services, forget_services, get_services
from rendezvous.settings import get_settings
from rendezvous.store.schema import promotions
from rendezvous.verify import verify

WAITING = "waiting-for-decision"
SCENARIOS = (*PROMOTION_POINTS, WAITING)
KILLS = int(os.environ.get("RENDEZVOUS_PROMOTION_KILLS", str(len(SCENARIOS))))

# A promotion as `promote-model` makes one, without Prefect: open (report hold), then approve.
# It prints the promotion's id once open; with "wait" it then waits for a decision forever.
CHILD = """
import sys
from rendezvous.promotion import review
from rendezvous.services import get_services

services = get_services()
promotion = review.start(services, sys.argv[1], None)
print(promotion.id, flush=True)
if sys.argv[2] == "wait":
    sys.stdin.read()
review.decide(services, promotion, "approve", "crash-campaign", "approved in a doomed process")
"""


@pytest.fixture
def demo(home: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Services:
    """The demo's live and canary models, on the test's backend."""
    monkeypatch.setenv("RENDEZVOUS_DATABASE_URL", database_url)
    get_settings.cache_clear()
    forget_services()
    build_demo(get_services(), rows_per_batch=20)
    return get_services()


def _promote_in_child(candidate: str, scenario: str) -> tuple[int, int, int]:
    """Run a promotion in a process that gets killed: its exit code, pid and promotion's id."""
    env = {k: v for k, v in os.environ.items() if k != "RENDEZVOUS_CRASH_AT"}
    if scenario != WAITING:
        env["RENDEZVOUS_CRASH_AT"] = scenario
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, candidate, "wait" if scenario == WAITING else "approve"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    opened = child.stdout.readline()  # blocks until the promotion is open (or the child ended)
    if scenario == WAITING and opened:
        child.kill()
    _, err = child.communicate(timeout=120)
    assert opened.strip().isdigit(), f"the promotion never opened: {err[-2000:]}"
    return child.returncode, child.pid, int(opened)


def _roles(services: Services, *versions: str) -> dict[str, str]:
    return {v: services.registry.get(v).role for v in versions}


def _promotes_of(services: Services, candidate: str) -> list[dict]:
    changes = audit.history(services.store)
    return [c for c in changes if c["action"] == "promote" and c["after"]["live"] == candidate]


def _breaches(services: Services) -> dict[str, list[str]]:
    return {r.name: r.breaches for r in verify(services) if not r.ok}


def test_a_killed_promotion_leaves_old_or_new_roles_and_a_rerun_completes(demo: Services) -> None:
    services, registry = demo, demo.registry
    source = registry.by_role("live")
    rotated_by_the_killed, abandoned = 0, 0
    for n in range(KILLS):
        scenario = SCENARIOS[n % len(SCENARIOS)]
        live, canary = registry.by_role("live").version, registry.by_role("canary").version
        candidate = f"cand-{n}-{scenario}"
        registry.register(
            source.path,
            "candidate",
            version=candidate,
            metadata=source.metadata,
            trust_types=source.trusted_types,
        )
        old = {live: "live", canary: "canary", candidate: "candidate"}
        new = {live: "canary", canary: "retired", candidate: "live"}

        code, child_pid, promotion_id = _promote_in_child(candidate, scenario)
        assert code == -signal.SIGKILL, f"{scenario}: the promotion was not killed (exit {code})"
        roles = _roles(services, live, canary, candidate)
        assert roles in (old, new), f"{scenario}: half a rotation: {roles}"
        assert roles == (new if scenario == "after-rotation" else old), scenario
        assert len(_promotes_of(services, candidate)) == (roles == new), f"{scenario}: audit vs roles"
        assert gate.get(services.store, promotion_id).state == ("approved" if roles == new else "open")
        assert _breaches(services) == {}, scenario

        if roles == new:  # committed before the kill: nothing left to do, and a rerun says so
            rotated_by_the_killed += 1
            with pytest.raises(PromotionError, match=f"{candidate} is live"):
                review.start(services, candidate, None)
        else:  # the dead process's promotion no longer holds the gate: no wait for expiry
            rerun = review.start(services, candidate, None)
            review.decide(services, rerun, "approve", "crash-campaign", "rerun after the kill")
            with services.store.begin() as conn:
                dead = conn.execute(select(promotions).where(promotions.c.id == promotion_id)).one()
            assert (dead.state, dead.closed_by) == ("abandoned", "gate")
            assert "process died" in dead.reason and f":{child_pid}:" in dead.reason
            abandoned += 1
        assert _roles(services, live, canary, candidate) == new, scenario
        (change,) = _promotes_of(services, candidate)
        assert change["before"] == {"live": live, "canary": canary, "candidate": candidate}
        assert gate.open_promotions(services.store) == []
        assert _breaches(services) == {}, scenario

    promoted = [c for c in audit.history(services.store) if c["action"] == "promote"]
    assert len(promoted) == KILLS  # each candidate rotated exactly once
    backend = "postgres" if services.store.is_postgres else "sqlite"
    print(
        f"promotion crash campaign ({backend}): {KILLS} kills survived "
        f"({', '.join(SCENARIOS[: min(KILLS, len(SCENARIOS))])}); {KILLS} candidates rotated once each "
        f"({rotated_by_the_killed} by the killed process, {KILLS - rotated_by_the_killed} by the rerun), "
        f"{abandoned} dead promotions abandoned, 0 half rotations"
    )
