"""`verify` checks the signatures the audit keeps, on SQLite and PostgreSQL: a row appended with a
correct hash (as anyone holding the store's credentials can) but a decision no approver signed for
it is reported by its number; the propose row is the signed proposer's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from rendezvous.promotion import audit, gate, review, rotation
from rendezvous.services import Services
from rendezvous.settings import Settings
from rendezvous.trust import signing
from rendezvous.trust.keys import generate, read_private_key
from rendezvous.verify import ROLE_CHECKS, check_audit_chain, check_audit_signatures, verify

REPORT = {"candidate": "X1", "verdict": "approve"}


def _model_file(tmp_path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"f": rng.normal(size=60), "g": rng.normal(size=60)})
    path = tmp_path / f"m{seed}.skops"
    sio.dump(LogisticRegression().fit(frame, (frame.f > 0).astype(int)), path)
    return path


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """alice, bob and carol are approvers; mallory has a key but is not listed."""
    made, lines = {}, []
    for name in ("alice", "bob", "carol", "mallory"):
        made[name], line = generate(tmp_path / "keys", name)
        if name != "mallory":
            lines.append(line)
    (tmp_path / "approvers.toml").write_text("\n\n".join(lines) + "\n")
    return made


@pytest.fixture
def services(database_url: str, tmp_path: Path, keys: dict[str, Path]) -> Services:
    """L1 live, C1 canary, X1 promoted by a signed approval (proposed by alice, approved by bob)."""
    settings = Settings(
        database_url=database_url,
        models_dir=str(tmp_path / "models"),
        approvals="signed",
        approvers_file=str(tmp_path / "approvers.toml"),
    )
    services = Services(settings)
    models = [("L1", "live"), ("C1", "canary"), ("X1", "candidate"), ("X2", "candidate")]
    for seed, (version, role) in enumerate(models):
        services.registry.register(_model_file(tmp_path, seed), role, version=version)
    promotion = gate.open_promotion(services.store, "X1", "run-1", hold_seconds=600)
    gate.attach_report(services.store, promotion.id, REPORT)
    about = review.subject(services, promotion, REPORT)
    proposal = review.propose(services, promotion, about, str(keys["alice"]), None)
    bobs = signing.sign(about.fields("approve", "bob"), read_private_key(keys["bob"]))
    answer = {"decision": "approve", "approver": "bob", "signature": bobs}
    approval = review.check_decision(services, promotion, about, proposal, [], answer)
    document = {"proposal": proposal, "decisions": [approval]}
    rotation.approve(services.store, services.registry, promotion, "bob", "ok", document)
    return services


def _breaches(services: Services) -> list[str]:
    return check_audit_signatures(services).breaches


def _append(services: Services, action: str, actor: str, decision: Any, after: dict[str, Any]) -> int:
    """A row with a correct hash, linked to the chain: the chain check cannot see it."""
    with services.store.begin() as conn:
        before = dict(audit.last(conn).after)
        return audit.record(conn, action, actor, None, None, before, after, decision)["id"]


def _promote_row(services: Services) -> dict[str, Any]:
    (row,) = [r for r in audit.history(services.store) if r["action"] == "promote"]
    return row


def test_the_propose_row_is_the_signed_proposers_and_every_signature_verifies(services: Services) -> None:
    proposal, promoted = [r for r in audit.history(services.store) if r["action"] in ("propose", "promote")]
    assert proposal["actor"] == "alice"  # not host:pid
    assert proposal["decision"]["by"] == "alice" and proposal["decision"]["signature"]
    assert promoted["decision"]["proposal"] == proposal["decision"]
    result = check_audit_signatures(services)
    assert (result.ok, result.checked) == (True, 2)


def test_a_replayed_approval_in_an_appended_row_is_reported_naming_it(services: Services) -> None:
    """bob's real approval of X1, copied into a row that makes X2 live."""
    approved = _promote_row(services)["decision"]
    forged = _append(services, "promote", "bob", approved, {"live": "X2", "canary": "X1", "retired": "L1"})
    assert check_audit_chain(services).ok
    assert _breaches(services) == [
        f"audit row #{forged}: the row is about X2, its decisions about X1",
        f"audit row #{forged}: repeats a signature of audit row #{_promote_row_id(services)} "
        "(a replayed decision)",
    ]
    at_end_of_scoring = {check.name: check.ok for check in verify(services, ROLE_CHECKS)}
    assert at_end_of_scoring["signed decisions in the audit verify against the approvers file"] is False


def _promote_row_id(services: Services) -> int:
    return next(r["id"] for r in audit.history(services.store) if r["action"] == "promote")


def test_a_decision_signed_by_another_key_or_a_stranger_is_reported(
    services: Services, keys: dict[str, Path]
) -> None:
    approved = _promote_row(services)["decision"]["decisions"][0]
    fields = {k: v for k, v in approved.items() if k not in ("signature", "key")}
    mallory = read_private_key(keys["mallory"])
    unchanged = {"live": "X1", "canary": "L1"}
    as_bob = signing.signed({**fields, "kind": "rollback", "by": "bob"}, mallory)
    as_bob_row = _append(services, "rollback", "bob", as_bob, unchanged)
    as_mallory = signing.signed({**fields, "kind": "rollback", "by": "mallory"}, mallory)
    as_mallory_row = _append(services, "rollback", "mallory", as_mallory, unchanged)
    found = _breaches(services)
    assert len(found) == 2, found
    assert found[0].startswith(
        f"audit row #{as_bob_row}: the rollback by bob does not verify: the signature is not bob's"
    )
    assert found[1] == (
        f"audit row #{as_mallory_row}: the rollback is signed as mallory, who is not in the approvers file"
    )


def test_an_unsigned_or_mislabelled_decision_is_reported_under_signed_approvals(services: Services) -> None:
    unsigned = _append(services, "promote", "bob", None, {"live": "X2", "canary": "X1", "retired": "L1"})
    by_name = {"kind": "rollback", "by": "eve", "candidate": "X2"}
    named = _append(services, "rollback", "eve", by_name, {"live": "X1", "canary": "L1", "retired": "X2"})
    junk = _append(services, "reject", "bob", {"decisions": ["approve"]}, {"live": "X1", "canary": "L1"})
    not_a_document = f"audit row #{junk}: its decision is not a decision document (written by hand)"
    assert _breaches(services) == [
        f"audit row #{unsigned}: promote by bob is not signed, though approvals are signed",
        f"audit row #{named}: rollback by eve is not signed, though approvals are signed",
        not_a_document,
    ]
    named_home = Services(services.settings.model_copy(update={"approvals": "named"}))
    assert _breaches(named_home) == [not_a_document]


def test_an_approver_removed_from_the_file_is_reported_on_the_rows_they_signed(
    services: Services, tmp_path: Path
) -> None:
    approvers = tmp_path / "approvers.toml"
    blocks = approvers.read_text().split("\n\n")  # by header: a random key may spell "bob" in its base64
    approvers.write_text("\n\n".join(b for b in blocks if not b.lstrip().startswith("[approvers.bob]")))
    assert _breaches(services) == [
        f"audit row #{_promote_row_id(services)}: the approve is signed as bob, "
        "who is not in the approvers file"
    ]
    approvers.write_text("[approvers.bob]\nkey = 'not a key'\n")
    assert "approver 'bob'" in _breaches(services)[0]


def test_named_decisions_need_no_signature(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, models_dir=str(tmp_path / "models"))
    services = Services(settings)
    for seed, (version, role) in enumerate([("L1", "live"), ("X1", "candidate")]):
        services.registry.register(_model_file(tmp_path, seed), role, version=version)
    promotion = gate.open_promotion(services.store, "X1", "run-1", hold_seconds=600)
    about = review.subject(services, promotion, REPORT)
    proposal = review.propose(services, promotion, about, None, "dana")
    answer = {"decision": "approve", "approver": "erin"}
    approval = review.check_decision(services, promotion, about, proposal, [], answer)
    document = {"proposal": proposal, "decisions": [approval]}
    rotation.approve(services.store, services.registry, promotion, "erin", None, document)
    assert [r["actor"] for r in audit.history(services.store)][-2:] == ["dana", "erin"]
    assert check_audit_signatures(services).ok
