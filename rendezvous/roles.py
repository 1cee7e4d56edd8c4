"""Who serves, and how a promotion changes it: the one reader of roles and the one rotation rule.

Live and canary are what the hash-chained audit (rendezvous.promotion.audit) says: its last row's
``after``. The models table mirrors them (and admits one live and one canary, by partial unique
indexes), but a role written there by hand serves nobody; `verify` reports the disagreement.
Every caller that asks who holds them (the scoring pin, the registry, the audit, verify, status,
the command line) asks ``current_roles``; every role change a promotion or a rollback makes is
a ``Rotation`` built here, so the rule is written once and undone by its inverse.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from rendezvous.promotion import audit
from rendezvous.promotion.errors import ChainBroken
from rendezvous.store.schema import models

ROLES = ("live", "canary", "candidate", "retired")
SERVING_ROLES = ("live", "canary")

Roles = dict[str, str | None]
"""Role -> model version; live and canary are always present (None: nobody holds the role)."""


def table_roles(conn: Connection) -> Roles:
    """Live and canary as the models table says: a mirror of the audit that serves nobody, held
    against it by `verify` (and adopted once by the upgrade that chained an older home's audit)."""
    roles: Roles = dict.fromkeys(SERVING_ROLES)
    wanted = select(models.c.role, models.c.version).where(models.c.role.in_(SERVING_ROLES))
    roles.update(conn.execute(wanted).all())
    return roles


def current_roles(conn: Connection, candidate: str | None = None) -> Roles:
    """Who is live and canary now, as the audit chain says, read in ``conn``'s transaction.

    Naming ``candidate`` adds it under its own role ("unregistered" if absent), so a decision
    records where the candidate stood; a serving role the models table gives it but the audit
    does not is "unaudited".
    """
    last = audit.last(conn)
    roles: Roles = {role: (last.after or {}).get(role) if last else None for role in SERVING_ROLES}
    if candidate is not None:
        role = next((r for r, v in roles.items() if v == candidate), None)
        if role is None:
            role = conn.execute(select(models.c.role).where(models.c.version == candidate)).scalar()
            role = "unaudited" if role in SERVING_ROLES else role or "unregistered"
        roles[role] = candidate
    return roles


def disagreements(conn: Connection) -> dict[str, str]:
    """Model version -> how the models table and the audit disagree on its serving role (a role
    written by hand, e.g. ``UPDATE models SET role = 'live'``): what `models list` flags.

    A broken chain is a disagreement for every model the table makes live or canary: the audit
    names nobody until it is restored.
    """
    table = table_roles(conn)
    try:
        audited = current_roles(conn)
    except ChainBroken:
        broken = "the role audit is broken: nobody is {} (`rendezvous verify`)"
        return {version: broken.format(role) for role, version in table.items() if version}
    found: dict[str, list[str]] = {}
    for role in SERVING_ROLES:
        written, held = table[role], audited[role]
        if written == held:
            continue
        if written:
            found.setdefault(written, []).append(
                f"the models table makes it {role}, the audit does not: not served as {role}"
            )
        if held:
            found.setdefault(held, []).append(
                f"the audit makes it {role}, the models table does not: served as {role}"
            )
    return {version: "; ".join(reasons) for version, reasons in found.items()}


@dataclass(frozen=True)
class Move:
    version: str
    src: str
    dst: str


@dataclass(frozen=True)
class Rotation:
    """Role moves applied together in one transaction.

    The moves are listed so that every role is vacated before it is filled: the database checks
    one live and one canary after each statement. A rotation moves every holder of a serving
    role, so a serving role no move fills is empty afterwards.
    """

    moves: tuple[Move, ...]

    def before(self) -> Roles:
        return {**dict.fromkeys(SERVING_ROLES), **{m.src: m.version for m in self.moves}}

    def after(self) -> Roles:
        return {**dict.fromkeys(SERVING_ROLES), **{m.dst: m.version for m in self.moves}}

    def describe(self) -> str:
        """'`x` -> live, `y` -> canary, `z` -> retired', in that order of roles."""
        ordered = sorted(self.moves, key=lambda m: ROLES.index(m.dst))
        return ", ".join(f"`{m.version}` -> {m.dst}" for m in ordered)


def promotion(roles: Roles, candidate: str) -> Rotation:
    """The rule: candidate -> live, live -> canary, canary -> retired."""
    steps = (
        (roles.get("canary"), "canary", "retired"),
        (roles.get("live"), "live", "canary"),
        (candidate, "candidate", "live"),
    )
    return Rotation(tuple(Move(version, src, dst) for version, src, dst in steps if version))


def rollback(promoted: Rotation) -> Rotation:
    """The inverse of ``promoted``: each move reversed, last first; the model it made live is
    retired rather than offered again as a candidate."""
    return Rotation(
        tuple(
            Move(m.version, m.dst, "retired" if m.src == "candidate" else m.src)
            for m in reversed(promoted.moves)
        )
    )
