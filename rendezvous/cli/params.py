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
