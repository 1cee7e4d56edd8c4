"""Scores are unique per request, model and batch: a home made when they were unique per request
and model across batches loses that index, so RENDEZVOUS_ID_SCOPE=batch can score an id again."""

from __future__ import annotations

from sqlalchemy import insert, inspect, text

from rendezvous.store import Store
from rendezvous.store.engine import dispose_all
from rendezvous.store.schema import scores


def test_an_old_home_loses_the_global_scores_index(database_url: str) -> None:
    with Store(database_url).begin() as conn:
        conn.execute(text("DROP INDEX uq_scores_request_role_model_batch"))
        old = "CREATE UNIQUE INDEX uq_scores_request_role_model ON scores (request_id, role, model_version)"
        conn.execute(text(old))
    dispose_all()
    store = Store(database_url)
    with store.begin() as conn:
        names = {index["name"] for index in inspect(conn).get_indexes("scores")}
        row = {"request_id": "7", "role": "live", "model_version": "m", "score": 0.5}
        conn.execute(insert(scores), [{**row, "batch_id": "a"}, {**row, "batch_id": "b"}])
    assert "uq_scores_request_role_model" not in names
    assert "uq_scores_request_role_model_batch" in names
    dispose_all()
