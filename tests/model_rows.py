"""A registry row for store tests that write scores by hand: the model's kind and classes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import insert

from rendezvous.store import Store
from rendezvous.store.schema import models


def insert_model(
    store: Store,
    version: str,
    kind: str = "classifier",
    classes: Sequence[str] = ("0", "1"),
    role: str = "live",
) -> None:
    """A model row as registration writes it (no file: nothing here loads it)."""
    metadata = (
        {"classes": list(classes), "positive_class": classes[-1] if len(classes) == 2 else None}
        if kind == "classifier"
        else {}
    )
    with store.begin() as conn:
        conn.execute(
            insert(models).values(
                version=version,
                role=role,
                shadow=False,
                path="x",
                sha256="0" * 64,
                kind=kind,
                feature_names=[],
                sklearn_version="1",
                metadata=metadata,
                registered_at=datetime(2026, 11, 1, tzinfo=UTC),
            )
        )
