"""Tables. Row-level tables are narrow and keyed by (batch_id, request_id) for bulk writes."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from rendezvous.store.types import UTCDateTime

metadata = MetaData()


def partial_unique_index(name: str, column: str, where: str, on_duplicates: str | None = None) -> Index:
    """A unique index over the rows ``where`` selects. Its PostgreSQL form is added when a store opens
    there (``for_postgresql``): naming it here would load that dialect, 40 ms of every quick command
    on SQLite. ``on_duplicates`` is what to tell an operator whose rows break it (store.upgrade)."""
    info = {"where": where} | ({"on_duplicates": on_duplicates} if on_duplicates else {})
    return Index(name, column, unique=True, sqlite_where=text(where), info=info)


def for_postgresql() -> None:
    """Give the partial indexes their PostgreSQL predicate (once is enough; again changes nothing)."""
    for table in metadata.tables.values():
        for index in table.indexes:
            if "where" in index.info:
                index.dialect_kwargs["postgresql_where"] = text(index.info["where"])

batches = Table(
    "batches",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("source", Text, nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("format", String(16), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("rows_in", Integer, nullable=False, default=0),
    Column("rows_scored", Integer, nullable=False, default=0),
    Column("rows_quarantined", Integer, nullable=False, default=0),
    # The response's rows per role that served them, and how many a model past the deadline
    # might have served instead (NULL: committed before the response policy existed).
    Column("served_by", JSON),
    Column("rows_late", Integer),
    Column("reason", Text),
    Column("live_version", String(200)),
    Column("canary_version", String(200)),
    Column("claimed_by", String(200)),
    Column("lease_expires", UTCDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("received_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("outputs", JSON),
)

arrivals = Table(
    "arrivals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String(200), ForeignKey("batches.id"), nullable=False, index=True),
    Column("source", Text, nullable=False),
    Column("arrived_at", UTCDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
)

# The runs of ids scored under RENDEZVOUS_ID_SCOPE=global (rendezvous.scorelog.scored_ids): the
# ids are files, this names the runs that hold them; a run is added by its batch's commit and
# replaced by merges, each holding the set's one lock (its row here) for its transaction.
id_runs = Table(
    "id_runs",
    metadata,
    Column("url", String(1024), primary_key=True),
    Column("level", Integer, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

id_set_lock = Table(
    "id_set_lock",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("turns", BigInteger, nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("batch_id", String(200), nullable=False, index=True),
    Column("row", Integer),
    Column("request_id", String(512), index=True),
    Column("column", String(200)),
    Column("rule", String(200), nullable=False),
    Column("value", Text),
)

lineage = Table(
    "lineage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String(200), nullable=False, index=True),
    Column("chunk", Integer, nullable=False),
    Column("step", String(64), nullable=False),
    Column("rows_in", Integer),
    Column("rows_out", Integer),
    Column("detail", JSON),
    Column("at", UTCDateTime, nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("version", String(200), primary_key=True),
    Column("role", String(16), nullable=False, index=True),
    Column("shadow", Boolean, nullable=False, default=False),
    Column("path", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("feature_names", JSON, nullable=False),
    Column("sklearn_version", String(32), nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("profile", JSON),
    Column("registered_at", UTCDateTime, nullable=False),
    # One live and one canary, whoever writes: a second holder is refused by the database.
    *(
        partial_unique_index(
            f"uq_models_one_{role}",
            "role",
            f"role = '{role}'",
            on_duplicates=(
                f"Two {role} models were registered at once before the database enforced one; "
                "decide which one serves, retire the others (UPDATE models SET role = 'retired' "
                "WHERE version = '...'), then start again."
            ),
        )
        for role in ("live", "canary")
    ),
)

role_changes = Table(
    "role_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action", String(16), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("comment", Text),
    Column("flow_run_id", String(64)),
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    # The signed decision (approver, candidate version, sha256, report hash, signature); NULL: unsigned.
    Column("decision", JSON),
    # The hash chain (rendezvous.promotion.audit): NULL only in a home not yet upgraded.
    Column("prev_hash", String(64)),
    Column("row_hash", String(64)),
    UniqueConstraint("flow_run_id", "action", name="uq_role_changes_run_action"),
    # One successor per row: two writers appending after the same row cannot both commit.
    Index("uq_role_changes_prev_hash", "prev_hash", unique=True),
)

labels = Table(
    "labels",
    metadata,
    Column("request_id", String(512), primary_key=True),
    Column("outcome", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)

# One row per promotion attempt. The partial unique index admits one 'open' row at a time,
# so a second promotion is refused by the database itself, whichever process starts it.
promotions = Table(
    "promotions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("candidate", String(200), nullable=False),
    Column("flow_run_id", String(64)),
    Column("owner", String(200)),  # host:pid of the opening process (rendezvous.owners); NULL: unknown
    Column("state", String(16), nullable=False, index=True),
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
    Column("report", JSON),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    Column("closed_by", String(200)),
    Column("reason", Text),
    partial_unique_index("uq_promotions_one_open", "state", "state = 'open'"),
)

# Monitoring: one row per statistic per batch. Feature rows name their feature; score rows have
# feature NULL and the role says what was compared: live = live scores vs the live model's
# reference, canary = live vs canary, shadow = that shadow candidate vs live.
metrics = Table(
    "metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String(200), nullable=False, index=True),
    Column("model_version", String(200)),
    Column("role", String(16), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("feature", String(200)),
    Column("value", Float),
    Column("threshold", Float),
    Column("alert", Boolean, nullable=False, default=False),
    Column("detail", JSON),
    Column("at", UTCDateTime, nullable=False, index=True),
)
