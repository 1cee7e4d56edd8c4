"""Who may propose, approve, reject or roll back, and what makes a decision count.

``signed`` mode: every decision is an Ed25519 signature by a key in the approvers file, over the
promotion, the candidate version, its sha256 and the report's hash. ``named`` mode (a laptop):
a readable name is enough. In both, the proposer never decides on their own candidate and one
person counts once toward the required approvals.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rendezvous.trust import signing
from rendezvous.trust.identity import IdentityError, check_identity
from rendezvous.trust.keys import Approver, TrustError, approver_of, read_approvers, read_private_key

Mode = Literal["signed", "named"]


class Refused(TrustError):
    """A decision that must not be applied: unsigned, badly signed, by the proposer, or unreadable."""


@dataclass(frozen=True)
class Subject:
    """What a promotion decision is about, as the verifier itself knows it."""

    promotion: int
    candidate: str
    sha256: str
    report_sha256: str

    def fields(self, kind: str, by: str) -> dict[str, Any]:
        return {
            "kind": kind,
            "by": by,
            "promotion": self.promotion,
            "candidate": self.candidate,
            "sha256": self.sha256,
            "report_sha256": self.report_sha256,
        }


def same_person(a: str, b: str) -> bool:
    """Names compared as a reader sees them: 'Alice' and 'alice' are one person."""
    return unicodedata.normalize("NFKC", a).casefold() == unicodedata.normalize("NFKC", b).casefold()


@dataclass(frozen=True)
class Policy:
    mode: Mode
    required: int
    approvers_file: Path

    @property
    def approvers(self) -> dict[str, Approver]:
        return read_approvers(self.approvers_file)

    def signer(self, key_file: Path) -> tuple[str, Ed25519PrivateKey]:
        """The approver's name this key belongs to, and the key."""
        key = read_private_key(key_file)
        return approver_of(key, self.approvers, self.approvers_file).name, key

    def propose(self, subject: Subject, key_file: Path | None, name: str | None) -> dict[str, Any] | None:
        """The proposal document (signed when a key is given); signed mode needs the key."""
        if key_file is not None:
            by, key = self.signer(key_file)
            return signing.signed(subject.fields("proposal", by), key)
        if self.mode == "signed":
            raise Refused("signed approvals are on: the proposal needs the proposer's key")
        if not name:
            return None
        return subject.fields("proposal", _identity(name, "proposer"))

    def decide(
        self,
        subject: Subject,
        proposal: dict[str, Any] | None,
        earlier: list[dict[str, Any]],
        decision: str,
        by: str,
        signature: str,
    ) -> dict[str, Any]:
        """The decision document, or Refused saying why it does not count."""
        if decision not in ("approve", "reject"):
            raise Refused(f"unknown decision {decision!r}; expected approve or reject")
        name = _identity(by, "approver")
        if proposal and same_person(name, proposal["by"]):
            raise Refused(f"{name} proposed {subject.candidate} and cannot also decide on it")
        if any(same_person(name, e["by"]) for e in earlier):
            raise Refused(f"{name} already approved {subject.candidate}; another approver is needed")
        return self._checked(subject.fields(decision, name), signature)

    def roll_back(self, fields: dict[str, Any], by: str, signature: str) -> dict[str, Any]:
        """The rollback decision document over ``fields`` (what is undone, why), or Refused."""
        return self._checked(rollback_fields(fields, _identity(by, "approver")), signature)

    def _checked(self, fields: dict[str, Any], signature: str) -> dict[str, Any]:
        if self.mode == "named":
            return fields
        if not signature.strip():
            raise Refused("signed approvals are on: the decision carries no signature")
        approver = self.approvers.get(fields["by"])
        if approver is None:
            raise Refused(f"{fields['by']} is not an approver in {self.approvers_file}")
        try:
            return signing.verify(fields, signature, approver)
        except TrustError as exc:
            raise Refused(str(exc)) from exc


def rollback_fields(undone: dict[str, Any], by: str) -> dict[str, Any]:
    """What a rollback's signer signs: what is undone and why, by whom."""
    return {**undone, "kind": "rollback", "by": by}


def _identity(name: str, what: str) -> str:
    try:
        return check_identity(name, what)
    except IdentityError as exc:
        raise Refused(str(exc)) from exc


def policy_of(settings: Any) -> Policy:
    """The policy the settings choose (RENDEZVOUS_APPROVALS, _REQUIRED_APPROVALS, _APPROVERS_FILE)."""
    return Policy(settings.approvals, settings.required_approvals, Path(settings.approvers_file))
