"""Ed25519 keys: made, read (OpenSSH or PEM), fingerprinted, and the approvers file that names them.

The approvers file (``approvers.toml``, under change control) is the only place a key becomes a
person: ``[approvers.alice] key = "ssh-ed25519 AAAA..."``.
"""

from __future__ import annotations

import base64
import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from rendezvous.filemodes import write_private
from rendezvous.trust.identity import IdentityError, check_identity


class TrustError(Exception):
    """A key, the approvers file or a signed decision cannot be used; the message says why."""


@dataclass(frozen=True)
class Approver:
    name: str
    key: Ed25519PublicKey

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key)


def fingerprint(key: Ed25519PublicKey) -> str:
    """OpenSSH's form: ``SHA256:`` and the unpadded base64 of the key blob's sha256."""
    blob = base64.b64decode(openssh_line(key).split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def openssh_line(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def parse_public_key(text: str) -> Ed25519PublicKey:
    """An ``ssh-ed25519 AAAA...`` line or a PEM public key; any other kind is refused."""
    data = text.strip().encode()
    try:
        key = (
            serialization.load_pem_public_key(data)
            if data.startswith(b"-----BEGIN")
            else serialization.load_ssh_public_key(data)
        )
    except (ValueError, TypeError, IndexError, UnsupportedAlgorithm) as exc:  # 'not a key': an unknown type
        raise TrustError(f"not a public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise TrustError(f"a {type(key).__name__}, not an Ed25519 key")
    return key


def read_private_key(path: Path) -> Ed25519PrivateKey:
    """An unencrypted Ed25519 private key, OpenSSH or PEM (PKCS#8)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TrustError(f"cannot read the key {path}: {exc.strerror}") from exc
    try:
        key = (
            serialization.load_ssh_private_key(data, password=None)
            if b"OPENSSH PRIVATE KEY" in data
            else serialization.load_pem_private_key(data, password=None)
        )
    except (ValueError, TypeError) as exc:
        raise TrustError(f"{path} is not an unencrypted private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise TrustError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def generate(directory: Path, name: str) -> tuple[Path, str]:
    """A new key pair NAME (private, mode 0600) and NAME.pub; the approvers.toml lines for it."""
    check_identity(name)
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / name, directory / f"{name}.pub"
    if private.exists() or public.exists():
        raise TrustError(f"{private} already exists; keys are never overwritten")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    write_private(private, pem, overwrite=False)
    line = openssh_line(key.public_key())
    public.write_text(f"{line} {name}\n")
    return private, f'[approvers.{_toml_key(name)}]\nkey = "{line}"'


def _toml_key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() and name.isascii() else f'"{name}"'


def read_approvers(path: Path) -> dict[str, Approver]:
    """The approvers by name; a missing file is an empty list, a bad entry an error naming it."""
    if not path.exists():
        return {}
    try:
        table = tomllib.loads(path.read_text()).get("approvers", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TrustError(f"cannot read the approvers file {path}: {exc}") from exc
    found: dict[str, Approver] = {}
    seen: dict[str, str] = {}
    for name, entry in table.items():
        try:
            check_identity(name)
            key = parse_public_key(str(entry.get("key", "")) if isinstance(entry, dict) else "")
        except (IdentityError, TrustError) as exc:
            raise TrustError(f"{path}: approver {name!r}: {exc}") from exc
        approver = Approver(name, key)
        if approver.fingerprint in seen:
            raise TrustError(
                f"{path}: approvers {seen[approver.fingerprint]!r} and {name!r} share one key"
            )
        seen[approver.fingerprint] = name
        found[name] = approver
    return found


def approver_of(key: Ed25519PrivateKey, approvers: dict[str, Approver], path: Path) -> Approver:
    """The approver whose public key this private key matches; TrustError if none."""
    mine = fingerprint(key.public_key())
    for approver in approvers.values():
        if approver.fingerprint == mine:
            return approver
    raise TrustError(f"the key {mine} is not in the approvers file {path}")
