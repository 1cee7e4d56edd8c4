"""A database made by an older version gets every column this one declares, whichever table."""

from __future__ import annotations

from sqlalchemy import inspect, text

from rendezvous.store import Store
from rendezvous.store.engine import dispose_all


def test_an_old_home_gets_the_columns_it_lacks(database_url: str) -> None:
    with Store(database_url).begin() as conn:
        conn.execute(text("ALTER TABLE models DROP COLUMN profile"))
        conn.execute(text("ALTER TABLE metrics DROP COLUMN detail"))
    dispose_all()
    with Store(database_url).begin() as conn:
        columns = inspect(conn).get_multi_columns()
    found = {table: {c["name"] for c in listed} for (_, table), listed in columns.items()}
    assert "profile" in found["models"] and "detail" in found["metrics"]
    dispose_all()
