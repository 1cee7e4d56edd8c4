"""Row-level records of a batch: scores per role, quarantined rows, lineage steps."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import ColumnElement, Connection, distinct, func, insert, select

from rendezvous.response_policy import NO_MODEL_ANSWERED
from rendezvous.scorelog.files import AttemptScores
from rendezvous.scorelog.scored_ids import ScoredBefore, ScoredIds
from rendezvous.store import Store
from rendezvous.store.schema import lineage, quarantine
from rendezvous.validation.quarantine import BATCH_REJECTED, QUARANTINE_COLUMNS


def write_scores(staged: AttemptScores, chunk: int, role: str, version: str, scored: pd.DataFrame) -> int:
    """One model's scores of one chunk, as a file of the attempt's score log (read once committed),
    with the error the model raised on a row it could not score."""
    columns = ["request_id", "score", "label"] + (["error"] if "error" in scored else [])
    return staged.write(chunk, role, version, scored[columns])


class ScoredMeanwhile(RuntimeError):
    """Another batch committed a score of some of this batch's ids while it was being scored."""


def record_scored_ids(scored: ScoredIds, conn: Connection, batch_id: str, staged: AttemptScores) -> int:
    """The batch's live-scored ids as its run of the scored-id set, in the commit's transaction:
    an id another batch committed meanwhile fails this commit, which stays claimable; its next
    attempt finds the id scored and quarantines it."""
    ids = staged.read(["request_id"], role="live").column("request_id").combine_chunks()
    try:
        return scored.add(conn, batch_id, ids, staged.url)
    except ScoredBefore as exc:
        raise ScoredMeanwhile(
            f"batch {batch_id}: another batch committed scores of some of its request ids meanwhile; "
            "it stays claimable, and its next attempt quarantines them as already scored"
        ) from exc


MAX_ID_LENGTH = quarantine.c.request_id.type.length  # what the quarantine keeps of an id
ID_TOO_LONG, ID_HAS_NUL = "request_id_too_long", "request_id_has_nul"


def unstorable_ids(ids: pd.Series) -> pd.Series:
    """Per id, why the store cannot keep it as a scored request (None when it can).

    SQLite keeps anything, PostgreSQL refuses text over the column's length and any NUL
    character: such a row would fail the whole batch at its first write, on one backend only.
    """
    text = ids.astype("str")
    why = np.full(len(ids), None, dtype=object)
    why[(text.str.len() > MAX_ID_LENGTH).fillna(False).to_numpy(bool)] = ID_TOO_LONG
    if _any_nul(text):  # a scan of the text bytes first: 4x cheaper than the per-id search
        why[text.str.contains("\x00", regex=False).fillna(False).to_numpy(bool)] = ID_HAS_NUL
    return pd.Series(why, index=ids.index, dtype=object)


def _any_nul(text: pd.Series) -> bool:
    array = pa.array(text, from_pandas=True)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return True  # another layout (string views keep short values apart): search per id
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    return any(
        c.buffers()[2] is not None and bool((np.frombuffer(c.buffers()[2], dtype=np.uint8) == 0).any())
        for c in chunks
    )


def storable_text(series: pd.Series, limit: int | None = None) -> pd.Series:
    """Text a SQL column keeps on every backend: NUL spelled out, cut to ``limit`` characters."""
    text = series.astype("str").str.replace("\x00", "\\x00", regex=False)
    if limit is not None:
        text = text.str.slice(0, limit)
    return text.where(series.notna(), None)


QUARANTINED_VALUE_CHARS = 256  # a longer value is kept as this prefix, its length and sha256


def bounded_values(values: pd.Series) -> pd.Series:
    """Values as text, each over QUARANTINED_VALUE_CHARS cut to a prefix that says how long it
    was and its sha256: enough to recognise it, never a sender's 200 MB in the store and rejects."""
    text = values.astype("str")
    long = (text.str.len() > QUARANTINED_VALUE_CHARS).fillna(False).to_numpy(bool)
    if long.any():
        text = text.copy()
        text[long] = [_cut(value) for value in text[long]]
    return text.where(values.notna(), None)


def _cut(value: str) -> str:
    raw = value.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(raw).hexdigest()
    return f"{value[:QUARANTINED_VALUE_CHARS]}... ({len(raw):,} bytes, sha256 {digest})"


def write_quarantine(store: Store, conn: Connection, batch_id: str, rows: pd.DataFrame) -> int:
    """Quarantined rows as sent, within what the store keeps: ids over its length are cut, and
    values over QUARANTINED_VALUE_CHARS are kept as a prefix, their length and sha256."""
    if rows.empty:
        return 0
    frame = rows[QUARANTINE_COLUMNS].copy()
    frame.insert(0, "batch_id", batch_id)
    frame["row"] = frame["row"].astype("Int64")
    frame["request_id"] = storable_text(frame["request_id"], MAX_ID_LENGTH)
    frame["column"] = storable_text(frame["column"], quarantine.c.column.type.length)
    frame["value"] = storable_text(bounded_values(frame["value"]))
    return store.bulk_insert(conn, quarantine, frame)


def write_lineage(conn: Connection, batch_id: str, chunk: int, steps: Iterable[dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "batch_id": batch_id,
            "chunk": chunk,
            "step": step["step"],
            "rows_in": step.get("rows_in"),
            "rows_out": step.get("rows_out"),
            "detail": step.get("detail", {}),
            "at": now,
        }
        for step in steps
    ]
    if rows:
        conn.execute(insert(lineage), rows)


def seen_before(
    store: Store,
    staged: AttemptScores,
    request_ids: pd.Series,
    unlogged: Sequence[pd.Series] = (),
    scored: ScoredIds | None = None,
) -> tuple[pd.Series, pd.Series]:
    """Which of these ids an earlier row of this batch carried (scored in this attempt, being
    scored: ``unlogged``, or quarantined with its id as sent), and which another batch committed
    a score of already (the ``scored`` set; under id scope "batch" there is none).

    Set-based either way, costing what the batch holds, not the history: the attempt's own
    score files, the batch's quarantine lines, and the scored-id runs searched for the
    candidates' hashes.
    Quarantined ids the store had to alter (cut, NUL spelled out) are not the ids that were sent.
    """
    ids = pc.unique(_as_text(request_ids.dropna()))
    here: list[pa.Array] = []
    elsewhere: list[pa.Array] = []
    if len(ids):
        scored_here = staged.read(["request_id"], role="live").column("request_id")
        scoring = [_as_text(chunk) for chunk in unlogged]
        scored_here = pa.chunked_array([*scored_here.chunks, *scoring], pa.string())
        here.extend(pc.filter(scored_here, pc.is_in(scored_here, value_set=ids)).chunks)
        with store.begin() as conn:
            here.append(_quarantined_among(store, conn, staged.batch_id, ids))
        if scored is not None:
            found = scored.find(ids)
            same = pc.equal(found.batch_ids, staged.batch_id)
            here.append(pc.filter(found.request_ids, same))
            elsewhere.append(pc.filter(found.request_ids, pc.invert(same)))
    return _among(request_ids, here), _among(request_ids, elsewhere)


def _quarantined_among(store: Store, conn: Connection, batch_id: str, ids: pa.Array) -> pa.Array:
    """Which of these ids the batch quarantined as sent. Its lines are fetched when they are no
    more than the ids (a batch sets a few rows aside): on PostgreSQL, sending a chunk's 250k ids
    to join them took 0.6 s a chunk. Else the ids are sent and joined (``Store.select_among``)."""
    where = (quarantine.c.batch_id == batch_id, quarantine.c.rule.not_in([ID_TOO_LONG, ID_HAS_NUL]))
    if conn.execute(select(func.count()).where(*where)).scalar_one() <= len(ids):
        lines = store.arrow(conn, select(quarantine.c.request_id).where(*where), _ID_SCHEMA).column(0)
        return pc.filter(lines, pc.is_in(lines, value_set=ids)).combine_chunks()
    params = {"batch": batch_id, "altered_1": ID_TOO_LONG, "altered_2": ID_HAS_NUL}
    rows = store.select_among(conn, _SEEN_SQL, ids, quarantine, params)
    return pa.array([request_id for (request_id,) in rows], pa.string())


_ID_SCHEMA = pa.schema([("request_id", pa.string())])
_SEEN_SQL = """
SELECT q.request_id FROM {candidates}
  JOIN quarantine q ON q.request_id = c.request_id AND q.batch_id = :batch
  AND q.rule NOT IN (:altered_1, :altered_2)
"""


def _as_text(request_ids: pd.Series) -> pa.Array:
    """Ids as the text they are stored as, in Arrow: no Python str per id."""
    values = pa.array(request_ids.astype("str"), pa.string(), from_pandas=True)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _among(request_ids: pd.Series, found: list[pa.Array]) -> pd.Series:
    if not any(len(part) for part in found):
        return pd.Series(False, index=request_ids.index)
    hit = pc.is_in(_as_text(request_ids), value_set=pa.concat_arrays(found))
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=request_ids.index) & request_ids.notna()


def quarantine_rejected_scores(
    store: Store, conn: Connection, staged: AttemptScores, reason: str
) -> int:
    """When a batch is rejected after some chunks scored, those rows move to quarantine (their
    files are then reset with the batch's other outputs, never published); a row no model
    answered is in the quarantine already, with every model's reason."""
    ids = staged.read(["request_id"], role="live").column("request_id").to_pandas()
    unanswered = select(quarantine.c.request_id).where(
        quarantine.c.batch_id == staged.batch_id, quarantine.c.rule == NO_MODEL_ANSWERED
    )
    ids = ids[~ids.isin(set(conn.execute(unanswered).scalars()))]
    moved = pd.DataFrame({"request_id": ids, "rule": BATCH_REJECTED, "value": reason})
    return store.bulk_insert(conn, quarantine, moved, {"batch_id": staged.batch_id})


def erase_batch_rows(conn: Connection, batch_id: str) -> None:
    """Remove every row-level record of a batch (an earlier attempt's, or an unreadable file's)."""
    for table in (quarantine, lineage):
        conn.execute(table.delete().where(table.c.batch_id == batch_id))


def quarantined_rows() -> ColumnElement[int]:
    """How many rows (not lines) the selected quarantine lines hold, for a SELECT.

    A row failing several rules has one line per rule, all with its row number; a line without
    a row number (an unreadable line, a row moved out of the scores) is a row of its own.
    """
    return func.count(distinct(quarantine.c.row)) + func.count() - func.count(quarantine.c.row)


def counts(conn: Connection, batch_id: str, scored: int) -> dict[str, int]:
    """The ledger's counts: ``scored`` live scores (from the score files), the rows quarantined."""
    quarantined = conn.execute(
        select(quarantined_rows()).select_from(quarantine).where(quarantine.c.batch_id == batch_id)
    ).scalar_one()
    return {"rows_scored": scored, "rows_quarantined": quarantined}


def earlier_scorers(
    conn: Connection, batch_id: str, rule: str, held: Iterable[str], scored: ScoredIds | None, limit: int = 5
) -> list[str] | None:
    """When every quarantine line of this batch has a rule in ``held`` and some have ``rule``
    (its ids were scored by other batches, named by the ``scored`` set), those batches, in
    order; else None."""
    if scored is None:
        return None
    other = conn.execute(
        select(func.count()).where(quarantine.c.batch_id == batch_id, quarantine.c.rule.not_in(list(held)))
    ).scalar_one()
    if other:
        return None
    ids = conn.execute(
        select(quarantine.c.request_id).where(quarantine.c.batch_id == batch_id, quarantine.c.rule == rule)
    ).scalars()
    found = [b for b in scored.find(pa.array(list(ids), pa.string())).batches() if b != batch_id]
    return found[:limit] or None


def rejects_frame(conn: Connection, batch_id: str) -> pd.DataFrame:
    query = (
        select(*(quarantine.c[name] for name in QUARANTINE_COLUMNS))
        .where(quarantine.c.batch_id == batch_id)
        .order_by(quarantine.c.row)
    )
    rows = conn.execute(query).all()
    return pd.DataFrame(rows, columns=QUARANTINE_COLUMNS)
