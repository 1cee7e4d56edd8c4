"""Who serves, and how a promotion changes it: the one reader of roles and the one rotation rule.

The database admits one live and one canary model (partial unique indexes in store/schema.py).
Every caller that asks who holds them (the scoring pin, the registry, the audit, verify, status,
the command line) asks ``current_roles`` or ``holders``; every role change a promotion or a
rollback makes is a ``Rotation`` built here, so the rule is written once and undone by its inverse.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, or_, select

from rendezvous.store.schema import models

ROLES = ("live", "canary", "candidate", "retired")
SERVING_ROLES = ("live", "canary")

Roles = dict[str, str | None]
"""Role -> model version; live and canary are always present (None: nobody holds the role)."""


def holders(rows: Iterable[tuple[str, str]], candidate: str | None = None) -> Roles:
    """Live and canary among (version, role) pairs read in one snapshot.

    Naming ``candidate`` adds it under its own role ("unregistered" if absent), so a decision
    records where the candidate stood.
    """
    roles: Roles = dict.fromkeys(SERVING_ROLES)
    candidate_role = "unregistered"
    for version, role in rows:
        if role in SERVING_ROLES:
            roles[role] = version
        if version == candidate:
            candidate_role = role
    if candidate is not None:
        roles[candidate_role] = candidate
    return roles


def current_roles(conn: Connection, candidate: str | None = None) -> Roles:
    """Who is live and canary now (and where ``candidate`` stands), read in ``conn``'s transaction."""
    wanted = models.c.role.in_(SERVING_ROLES)
    if candidate is not None:
        wanted = or_(wanted, models.c.version == candidate)
    return holders(conn.execute(select(models.c.version, models.c.role).where(wanted)).all(), candidate)


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
