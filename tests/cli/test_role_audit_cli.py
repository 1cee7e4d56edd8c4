"""What `models history` and `models list` tell an operator about roles, under signed approvals:
every registration, shadow switch, proposal, decision, refusal, abandonment, timeout and
rollback with who did it (the signer's key for a signed one), and a role written by hand into
the models table flagged, not hidden. The promotion steps are the domain's, as the flow calls
them (the flow itself is tested against Prefect in tests/flows/test_promotion.py)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import text
from typer.testing import CliRunner

from rendezvous.cli import app
from rendezvous.promotion import gate, review
from rendezvous.promotion.errors import ApprovalRefused
from rendezvous.services import Services, get_services
from rendezvous.trust import signing
from rendezvous.trust.keys import generate, read_approvers, read_private_key

runner = CliRunner()
REPORT = {"verdict": "approve"}


def _model(seed: int) -> LogisticRegression:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"f": rng.normal(size=60), "g": rng.normal(size=60)})
    return LogisticRegression().fit(frame, (frame.f > 0).astype(int))


@pytest.fixture
def keys(home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Signed approvals; alice, bob and carol in the home's approvers file."""
    from rendezvous.settings import get_settings

    made, lines = {}, []
    for name in ("alice", "bob", "carol"):
        made[name], line = generate(home / "keys", name)
        lines.append(line)
    (home / "approvers.toml").write_text("\n\n".join(lines) + "\n")
    monkeypatch.setenv("RENDEZVOUS_APPROVALS", "signed")
    get_settings.cache_clear()
    return made


def _open(services: Services, candidate: str, keys: dict[str, Path]) -> tuple[Any, Any, dict[str, Any]]:
    """A promotion of ``candidate`` with its report, proposed by alice (signed), as the flow does."""
    run = str(uuid4())  # a flow run keeps one row per action
    promotion = gate.open_promotion(services.store, candidate, run, hold_seconds=600)
    gate.attach_report(services.store, promotion.id, REPORT)
    about = review.subject(services, promotion, REPORT)
    return promotion, about, review.propose(services, promotion, about, str(keys["alice"]), None)


def _decide(services: Services, keys: dict[str, Path], opened: tuple, kind: str, by: str) -> None:
    """``by`` signs the decision and the run applies it, as the flow does."""
    promotion, about, proposal = opened
    signature = signing.sign(about.fields(kind, by), read_private_key(keys[by]))
    answer = {"decision": kind, "approver": by, "signature": signature}
    decided = review.check_decision(services, promotion, about, proposal, [], answer)
    review.decide(services, promotion, kind, by, "signed", {"proposal": proposal, "decisions": [decided]})


@pytest.fixture
def scenario(keys: dict[str, Path]) -> Services:
    services = get_services()
    for seed, (version, role) in enumerate(
        [("L1", "live"), ("C1", "canary"), ("X1", "candidate"), ("X2", "candidate")]
    ):
        services.registry.register_estimator(_model(seed), role, version, actor="ann")
    for state in ("on", "off"):
        assert runner.invoke(app, ["models", "shadow", "X1", state]).exit_code == 0
    promotion, about, proposal = _open(services, "X1", keys)  # alice approves her own: refused
    own = signing.sign(about.fields("approve", "alice"), read_private_key(keys["alice"]))
    with pytest.raises(ApprovalRefused, match="alice proposed X1"):
        review.check_decision(
            services,
            promotion,
            about,
            proposal,
            [],
            {"decision": "approve", "approver": "alice", "signature": own},
        )
    _decide(services, keys, _open(services, "X1", keys), "approve", "bob")
    rolled = runner.invoke(app, ["rollback", "--key", str(keys["carol"]), "--reason", "alerts"])
    assert rolled.exit_code == 0, rolled.output
    _decide(services, keys, _open(services, "X2", keys), "reject", "carol")
    abandoned = gate.open_promotion(services.store, "X2", "run-dead", hold_seconds=600)
    gate.abandon(services.store, abandoned.id, "promote-model", "the run failed")
    review.time_out(services, _open(services, "X2", keys)[0], 60)
    return services


def test_history_lists_every_event_with_who_did_it(scenario: Services) -> None:
    result = runner.invoke(app, ["models", "history", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    user = getpass.getuser()
    assert [(r["action"], r["actor"]) for r in rows] == [
        *[("register", "ann")] * 4,
        ("shadow on", user),
        ("shadow off", user),
        ("propose", "alice"),
        ("refuse", "alice"),
        ("propose", "alice"),
        ("promote", "bob"),
        ("rollback", "carol"),
        ("propose", "alice"),
        ("reject", "carol"),
        ("abandon", "promote-model"),
        ("propose", "alice"),
        ("timeout", "system"),
    ]
    fingerprints = {
        n: a.fingerprint for n, a in read_approvers(scenario.settings.home / "approvers.toml").items()
    }
    promote, rollback = rows[9], rows[10]
    assert [(d["by"], d["key"]) for d in promote["decision"]["decisions"]] == [("bob", fingerprints["bob"])]
    assert promote["decision"]["proposal"]["key"] == fingerprints["alice"]
    assert (rollback["decision"]["by"], rollback["decision"]["key"]) == ("carol", fingerprints["carol"])
    lines = runner.invoke(app, ["models", "history"]).output.splitlines()
    signed_by = " ".join(line.split("│")[5].strip() for line in lines if line.count("│") == 10)
    for signer in ("proposal alice", "approve bob", "rollback carol", "reject carol"):
        assert f"{signer} {fingerprints[signer.split()[1]][:20]}" in signed_by  # folded after that
    checks = {c["check"]: c for c in json.loads(runner.invoke(app, ["verify", "--json"]).output)}
    signatures = checks["signed decisions in the audit verify against the approvers file"]
    assert (signatures["ok"], signatures["checked"]) == (True, 7)


def test_a_role_written_by_hand_is_flagged_in_models_list(scenario: Services) -> None:
    listed = json.loads(runner.invoke(app, ["models", "list", "--json"]).output)
    assert [m["role_disagreement"] for m in listed] == [None] * 4
    assert "role check" not in runner.invoke(app, ["models", "list"]).output
    with scenario.store.begin() as conn:  # what a self-promoting payload did
        conn.execute(text("UPDATE models SET role = 'retired' WHERE version = 'L1'"))
        conn.execute(text("UPDATE models SET role = 'live' WHERE version = 'X2'"))
    listed = {m["version"]: m for m in json.loads(runner.invoke(app, ["models", "list", "--json"]).output)}
    assert listed["X2"]["role"] == "live"
    assert (
        listed["X2"]["role_disagreement"]
        == "the models table makes it live, the audit does not: not served as live"
    )
    assert (
        listed["L1"]["role_disagreement"]
        == "the audit makes it live, the models table does not: served as live"
    )
    assert listed["C1"]["role_disagreement"] is None
    shown = runner.invoke(app, ["models", "list"])
    assert shown.exit_code == 0
    table = " ".join(shown.output.split())
    assert "role check" in table and "live (!)" in table and "not served as live" in table
    assert "disagree" in shown.stderr
