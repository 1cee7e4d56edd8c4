"""Command-line values checked before anything runs."""

from __future__ import annotations

import typer

from rendezvous.names import InvalidName, checked_name


def version_name(value: str | None) -> str | None:
    """Typer callback: a model version is a slug (see rendezvous.names), or absent."""
    if value is None:
        return None
    try:
        return checked_name(value)
    except InvalidName as exc:
        raise typer.BadParameter(str(exc)) from exc


def key_values(values: list[str] | None) -> dict[str, str]:
    """Repeated ``key=value`` options as a dict; an item without ``=`` is a usage error naming it."""
    pairs: dict[str, str] = {}
    for item in values or []:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise typer.BadParameter(f"{item!r} is not key=value")
        pairs[key] = value
    return pairs
