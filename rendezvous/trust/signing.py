"""Signed decisions: an Ed25519 signature over the canonical JSON of exactly what was decided.

A proposal, an approval, a rejection or a rollback names the candidate version, its sha256 and
the hash of the report the person read. The verifier never takes those fields from the signer:
it rebuilds them from what it is about to apply, so a signature made for another candidate,
another file or another report does not verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rendezvous.trust.keys import Approver, TrustError, fingerprint


def canonical(document: Mapping[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same bytes for the same content wherever it is made."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def report_hash(report: Mapping[str, Any]) -> str:
    """The sha256 of the report's canonical JSON (the report as stored with its promotion)."""
    return hashlib.sha256(canonical(report)).hexdigest()


def sign(fields: Mapping[str, Any], key: Ed25519PrivateKey) -> str:
    """The base64 signature of ``fields`` (what `rendezvous approve --print-signature` prints)."""
    return base64.b64encode(key.sign(canonical(fields))).decode()


def verify(fields: Mapping[str, Any], signature: str, approver: Approver) -> dict[str, Any]:
    """The signed decision document, or TrustError if ``signature`` is not ``approver``'s over ``fields``."""
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
        approver.key.verify(raw, canonical(fields))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise TrustError(
            f"the signature is not {approver.name}'s ({approver.fingerprint}) over "
            f"{_what(fields)}: a different key, or signed for another candidate, file or report"
        ) from exc
    return document(fields, signature.strip(), approver)


def signed(fields: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``fields`` signed by ``key``: the document as the audit keeps it."""
    return {**fields, "signature": sign(fields, key), "key": fingerprint(key.public_key())}


def document(fields: Mapping[str, Any], signature: str, approver: Approver) -> dict[str, Any]:
    return {**fields, "signature": signature, "key": approver.fingerprint}


def _what(fields: Mapping[str, Any]) -> str:
    shown = {k: fields[k] for k in ("kind", "by", "candidate", "sha256", "report_sha256") if k in fields}
    return ", ".join(f"{k} {str(v)[:16]}" for k, v in shown.items())
