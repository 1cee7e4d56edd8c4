"""The signed decisions the role audit keeps, checked again against the approvers file.

The chain's hashes show that no row was edited after it was written, not who wrote it: whoever
can write the store can append a row with a correct hash. What they cannot make is an approver's
signature. So each proposal, approval, rejection and rollback a row carries is verified again
against the key the approvers file gives the approver it names, over the fields it claims
(proposer or approver, promotion, candidate, sha256, report hash; for a rollback, what it undoes
and why), and the row must do what its decisions say: its actor is their signer, a `promote`
row makes the approved candidate live, a decision is used by one row only. Refusals are not
checked: they record what was sent, which was refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rendezvous.promotion.audit import Break
from rendezvous.trust import signing
from rendezvous.trust.keys import Approver, TrustError

DECIDED = ("propose", "promote", "reject", "rollback")
"""The actions whose rows carry decisions; under signed approvals each carries signatures."""

_KINDS = {"propose": "proposal", "promote": "approve", "reject": "reject", "rollback": "rollback"}


def documents(action: str, decision: Any) -> list[Any]:
    """The decision documents a row of ``action`` carries: its proposal, its decisions, or its
    rollback (as stored: a row written by hand may hold anything)."""
    if action in ("promote", "reject") and isinstance(decision, dict):
        decisions = decision.get("decisions") or []
        listed = decisions if isinstance(decisions, list) else [decisions]
        return [d for d in (decision.get("proposal"), *listed) if d]
    return [decision] if decision else []


def signature_breaks(
    rows: Iterable[Any], approvers: dict[str, Approver], signed: bool
) -> tuple[int, list[Break]]:
    """How many decision rows there are, and every one whose decisions do not hold.

    With ``signed`` approvals, a decision row without signatures is a break too, once the chain
    holds a signed one (rows of the named approvals a home used before are not).
    """
    checked, found = 0, []
    seen: dict[str, int] = {}  # signature -> the row that used it
    signing_began = False
    for row in rows:
        if row.action not in DECIDED:
            continue
        checked += 1
        docs = documents(row.action, row.decision)
        if not all(isinstance(doc, dict) for doc in docs):
            found.append(Break(row.id, "its decision is not a decision document (written by hand)"))
            continue
        reasons = [_mismatch(row, docs)] if docs else []
        for doc in docs:
            if doc.get("signature"):
                reasons.append(_unverified(doc, approvers))
                first = seen.setdefault(str(doc["signature"]), row.id)
                if first != row.id and doc.get("kind") != "proposal":
                    reasons.append(f"repeats a signature of audit row #{first} (a replayed decision)")
        is_signed = bool(docs) and all(doc.get("signature") for doc in docs)
        signing_began = signing_began or is_signed
        if signed and signing_began and not is_signed:
            reasons.append(f"{row.action} by {row.actor} is not signed, though approvals are signed")
        found.extend(Break(row.id, reason) for reason in reasons if reason)
    return checked, found


def _unverified(doc: dict[str, Any], approvers: dict[str, Approver]) -> str | None:
    """Why a signed document does not verify, None if it does."""
    by = str(doc.get("by"))
    approver = approvers.get(by)
    if approver is None:
        return f"the {doc.get('kind')} is signed as {by}, who is not in the approvers file"
    fields = {k: v for k, v in doc.items() if k not in ("signature", "key")}
    try:
        signing.verify(fields, str(doc["signature"]), approver)
    except TrustError as exc:
        return f"the {doc.get('kind')} by {by} does not verify: {exc}"
    return None


def _mismatch(row: Any, docs: list[dict[str, Any]]) -> str | None:
    """Why the row does not do what its decisions say, None if it does."""
    last = docs[-1]
    if last.get("kind") != _KINDS[row.action] or last.get("by") != row.actor:
        return (
            f"the row says {row.action} by {row.actor}, its last decision is a {last.get('kind')} "
            f"by {last.get('by')}"
        )
    moved = {"promote": (row.after or {}).get("live"), "rollback": (row.before or {}).get("live")}
    candidate = moved.get(row.action, last.get("candidate"))
    if any(doc.get("candidate") != candidate for doc in docs):
        named = sorted({str(doc.get("candidate")) for doc in docs})
        return f"the row is about {candidate}, its decisions about {', '.join(named)}"
    return None
