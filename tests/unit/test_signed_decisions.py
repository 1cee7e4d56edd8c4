"""Signed decisions, unit level: who may decide on what, and every way a decision is refused.

Keys are made by `rendezvous keys generate`'s function; the approvers file is written as an
operator would. The verifier rebuilds what is signed from its own knowledge of the promotion.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from rendezvous.trust import signing
from rendezvous.trust.consent import Policy, Refused, Subject
from rendezvous.trust.identity import IdentityError, check_identity
from rendezvous.trust.keys import TrustError, generate, read_approvers, read_private_key

A = Subject(promotion=7, candidate="cand-a", sha256="a" * 64, report_sha256="1" * 64)
B = Subject(promotion=8, candidate="cand-b", sha256="b" * 64, report_sha256="2" * 64)


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """alice, bob, carol listed as approvers; mallory has a key but is not listed."""
    lines = []
    made = {}
    for name in ("alice", "bob", "carol", "mallory"):
        private, line = generate(tmp_path / "keys", name)
        made[name] = private
        if name != "mallory":
            lines.append(line)
    (tmp_path / "approvers.toml").write_text("\n\n".join(lines) + "\n")
    return made


def _policy(tmp_path: Path, mode: str = "signed", required: int = 1) -> Policy:
    return Policy(mode, required, tmp_path / "approvers.toml")  # type: ignore[arg-type]


def _sig(key_file: Path, about: Subject, kind: str, by: str) -> str:
    return signing.sign(about.fields(kind, by), read_private_key(key_file))


def test_generated_key_is_private_and_its_line_names_the_approver(
    tmp_path: Path, keys: dict[str, Path]
) -> None:
    assert stat.S_IMODE(keys["alice"].stat().st_mode) == 0o600
    approvers = read_approvers(tmp_path / "approvers.toml")
    assert set(approvers) == {"alice", "bob", "carol"}
    assert _policy(tmp_path).signer(keys["bob"])[0] == "bob"
    with pytest.raises(TrustError, match="not in the approvers file"):
        _policy(tmp_path).signer(keys["mallory"])
    with pytest.raises(TrustError, match="already exists"):
        generate(tmp_path / "keys", "alice")


def test_a_valid_signed_approval_yields_the_decision_document(tmp_path: Path, keys: dict[str, Path]) -> None:
    policy = _policy(tmp_path)
    proposal = policy.propose(A, keys["alice"], None)
    assert proposal is not None and proposal["by"] == "alice" and proposal["kind"] == "proposal"
    signature = _sig(keys["bob"], A, "approve", "bob")
    document = policy.decide(A, proposal, [], "approve", "bob", signature)
    assert document == {
        **A.fields("approve", "bob"),
        "signature": signature,
        "key": read_approvers(tmp_path / "approvers.toml")["bob"].fingerprint,
    }


def test_the_proposer_cannot_approve_their_own_candidate(tmp_path: Path, keys: dict[str, Path]) -> None:
    policy = _policy(tmp_path)
    proposal = policy.propose(A, keys["alice"], None)
    with pytest.raises(Refused, match="alice proposed cand-a"):
        policy.decide(A, proposal, [], "approve", "alice", _sig(keys["alice"], A, "approve", "alice"))
    named = _policy(tmp_path, "named")
    with pytest.raises(Refused, match="proposed"):  # the same person spelled otherwise
        named.decide(A, named.propose(A, None, "Alice"), [], "approve", "ALICE", "")


def test_an_unknown_key_is_refused(tmp_path: Path, keys: dict[str, Path]) -> None:
    policy = _policy(tmp_path)
    forged = _sig(keys["mallory"], A, "approve", "bob")  # mallory signs in bob's name
    with pytest.raises(Refused, match="not bob's"):
        policy.decide(A, None, [], "approve", "bob", forged)
    with pytest.raises(Refused, match="mallory is not an approver"):
        policy.decide(A, None, [], "approve", "mallory", _sig(keys["mallory"], A, "approve", "mallory"))


def test_a_signature_replayed_on_another_candidate_is_refused(tmp_path: Path, keys: dict[str, Path]) -> None:
    policy = _policy(tmp_path)
    on_a = _sig(keys["bob"], A, "approve", "bob")
    assert policy.decide(A, None, [], "approve", "bob", on_a)["signature"] == on_a
    with pytest.raises(Refused, match="signed for another candidate"):
        policy.decide(B, None, [], "approve", "bob", on_a)
    same_name_other_file = Subject(A.promotion, A.candidate, "c" * 64, A.report_sha256)
    with pytest.raises(Refused):
        policy.decide(same_name_other_file, None, [], "approve", "bob", on_a)


def test_a_tampered_report_hash_is_refused(tmp_path: Path, keys: dict[str, Path]) -> None:
    report = {"candidate": "cand-a", "verdict": "candidate beats live", "roc_auc": 0.81}
    signed_over = Subject(7, "cand-a", "a" * 64, signing.report_hash(report))
    signature = _sig(keys["bob"], signed_over, "approve", "bob")
    replaced = Subject(7, "cand-a", "a" * 64, signing.report_hash({**report, "roc_auc": 0.91}))
    with pytest.raises(Refused, match="another candidate, file or report"):
        _policy(tmp_path).decide(replaced, None, [], "approve", "bob", signature)


def test_an_approval_signed_as_a_rejection_does_not_count(tmp_path: Path, keys: dict[str, Path]) -> None:
    with pytest.raises(Refused):
        _policy(tmp_path).decide(A, None, [], "approve", "bob", _sig(keys["bob"], A, "reject", "bob"))


@pytest.mark.parametrize("name", ["\u200b", " ", "", "bob\u202e", "a\u0000b", "\u2028", "\ue000"])
def test_an_unreadable_name_is_refused_in_both_modes(
    tmp_path: Path, keys: dict[str, Path], name: str
) -> None:
    for mode in ("signed", "named"):
        with pytest.raises(Refused, match=r"empty|does not print"):
            _policy(tmp_path, mode).decide(A, None, [], "approve", name, "c2lnbmF0dXJl")


def test_signed_mode_needs_a_signature_and_a_proposer_key(tmp_path: Path, keys: dict[str, Path]) -> None:
    policy = _policy(tmp_path)
    with pytest.raises(Refused, match="no signature"):
        policy.decide(A, None, [], "approve", "bob", "")
    with pytest.raises(Refused, match="needs the proposer's key"):
        policy.propose(A, None, "alice")
    with pytest.raises(Refused, match="not bob's"):
        policy.decide(A, None, [], "approve", "bob", "not base64 at all!")


def test_one_person_counts_once_toward_two_approvals(tmp_path: Path, keys: dict[str, Path]) -> None:
    policy = _policy(tmp_path, required=2)
    first = policy.decide(A, None, [], "approve", "bob", _sig(keys["bob"], A, "approve", "bob"))
    with pytest.raises(Refused, match="bob already approved"):
        policy.decide(A, None, [first], "approve", "bob", _sig(keys["bob"], A, "approve", "bob"))
    second = policy.decide(A, None, [first], "approve", "carol", _sig(keys["carol"], A, "approve", "carol"))
    assert [first["by"], second["by"]] == ["bob", "carol"]


def test_named_mode_takes_a_readable_name_without_signature(tmp_path: Path) -> None:
    document = _policy(tmp_path, "named").decide(A, None, [], "reject", " dana ", "")
    assert document == A.fields("reject", "dana")


def test_the_approvers_file_refuses_unreadable_names_shared_keys_and_other_key_types(
    tmp_path: Path, keys: dict[str, Path]
) -> None:
    line = (keys["alice"].parent / "alice.pub").read_text().split(" alice")[0]
    bad = tmp_path / "bad.toml"
    for body, message in [
        (f'[approvers."al\u200bice"]\nkey = "{line}"\n', "does not print"),
        (f'[approvers.a]\nkey = "{line}"\n[approvers.b]\nkey = "{line}"\n', "share one key"),
        ('[approvers.a]\nkey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC"\n', "approver 'a'"),
    ]:
        bad.write_text(body)
        with pytest.raises(TrustError, match=message):
            read_approvers(bad)


def test_identity_names_the_refused_character() -> None:
    with pytest.raises(IdentityError, match=r"U\+200B \(ZERO WIDTH SPACE\) at position 3"):
        check_identity("bob\u200b")
    assert check_identity("  Zoë Ünal  ") == "Zoë Ünal"
