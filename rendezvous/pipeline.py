"""The steps of scoring one batch, free of any orchestrator: Prefect tasks call these.

intake -> for each chunk: prepare (validate, deduplicate, enrich) -> bins (log, live, canary,
shadows, dev copy) -> commit. Each step writes in its own transaction; the claim erased any
earlier attempt, and the commit checks that every row is accounted for before it closes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select

from rendezvous import records
from rendezvous.batchfiles import (
    Limits,
    MalformedRow,
    detect_format,
    filesystem,
    join,
    read_chunks,
    sha256_file,
    unknown_format,
)
from rendezvous.classes import classes_of
from rendezvous.compression import split_suffix
from rendezvous.containment import score_contained
from rendezvous.enrichment import enrich
from rendezvous.failpoints import crash_point
from rendezvous.ledger import TERMINAL
from rendezvous.outputs import BatchOutputs, move_source
from rendezvous.owners import new_owner
from rendezvous.per_distinct import per_distinct
from rendezvous.registry import ModelRecord
from rendezvous.request_time import (
    UNPARSABLE_TIMESTAMP,
    partition_dates,
    request_range,
    request_times,
    unparsable,
)
from rendezvous.response_policy import NO_MODEL_ANSWERED, choose
from rendezvous.scorelog.files import AttemptScores
from rendezvous.scorelog.scored_ids import ScoredIds
from rendezvous.scoring import score_frame
from rendezvous.services import Services
from rendezvous.settings import MissingSetting
from rendezvous.status import added_up
from rendezvous.store.schema import lineage
from rendezvous.validation import BATCH_REJECTED, validate
from rendezvous.validation import quarantine as q
from rendezvous.validation.contract import dtypes
from rendezvous.validation.validator import too_many

DUPLICATE_IN_BATCH = "duplicate_request_id_in_batch"
ALREADY_SCORED = "request_id_already_scored"


class AccountingError(Exception):
    """Rows in != rows scored + rows quarantined: the batch must not commit."""


@dataclass(frozen=True)
class BatchJob:
    """A claimed batch and the model set that scores all of it."""

    batch_id: str
    source_name: str
    source_url: str
    archive_url: str
    fmt: str | None
    owner: str
    attempt: int
    live: ModelRecord
    canary: ModelRecord | None
    shadows: tuple[ModelRecord, ...] = ()

    def outputs(self, services: Services) -> BatchOutputs:
        s = services.settings
        scores = AttemptScores(s.archive_url, self.batch_id, self.attempt)
        return BatchOutputs(s.outbox_url, s.dev_url, self.batch_id, self.fmt or "csv", scores)

    def scorers(self) -> list[tuple[str, ModelRecord]]:
        pairs = [("live", self.live)]
        if self.canary is not None:
            pairs.append(("canary", self.canary))
        pairs.extend(("shadow", record) for record in self.shadows)
        return pairs


@dataclass(frozen=True)
class Outcome:
    """How a batch ended, for summaries and the CLI."""

    batch_id: str
    source: str
    state: str
    rows_in: int = 0
    rows_scored: int = 0
    rows_quarantined: int = 0
    reason: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    served_by: dict[str, int] = field(default_factory=dict)
    rows_late: int = 0



@dataclass
class Prepared:
    """A chunk after validation and enrichment: what the bins score, and how many were set aside."""

    chunk: int
    rows: pd.DataFrame
    enriched: pd.DataFrame
    times: pd.Series  # the rows' request times, parsed once (``request_time.request_times``)
    rejected_reason: str | None = None


def available_features(services: Services) -> set[str]:
    """The columns every scored row will have: the contract's, the reference's, the preprocess's."""
    contract = services.contract()
    declared = dtypes(contract)
    empty = pd.DataFrame({name: pd.Series(dtype=declared.get(name, "str")) for name in contract.columns})
    enriched = enrich(empty, services.reference(), "keep", services.preprocess(), services.settings.id_column)
    return set(map(str, enriched.frame.columns))


def archive_raw(services: Services, source_url: str, sha256: str, name: str, owner: str) -> str:
    """Keep the bytes as they arrived, content-addressed (immutable, written once).

    Only the claimant archives, through a temporary name of its own, published by a rename:
    a run that took the batch over after a crash never trips over a dead run's half copy.
    """
    inner, codec = split_suffix(name)
    suffix = inner.rsplit(".", 1)[-1] if "." in inner else "bin"
    if not (suffix.isascii() and suffix.isalnum() and len(suffix) <= 16):
        suffix = "bin"  # the extension is the sender's text: it must not break the archive name
    if codec is not None:  # kept: the reader decompresses by it
        suffix += name[len(inner) :].lower()
    target = join(services.settings.archive_url, "raw", sha256[:2], f"{sha256}.{suffix}")
    fs, path = filesystem(target)
    if not fs.exists(path):
        fs.makedirs(fs._parent(path), exist_ok=True)
        partial = f"{path}.{owner.rsplit(':', 1)[-1]}.tmp"
        src_fs, src = filesystem(source_url)
        with src_fs.open(src, "rb") as reader, fs.open(partial, "wb") as writer:
            while block := reader.read(1 << 22):
                writer.write(block)
        fs.mv(partial, path)
    return target


GONE = "no longer in the inbox (taken by another run)"


def intake(services: Services, name: str) -> BatchJob | Outcome:
    """Fingerprint and claim one inbox file, then archive it; or say why it is not processed now.

    The claim comes first: of two runs that found the same file, the one that lost the
    compare-and-swap stops there. A file gone before it could be read was taken (and moved on)
    by another run; any other error after the claim gives the claim back and is raised.
    """
    settings = services.settings
    services.contract()  # a missing or broken suite leaves the file in the inbox, untouched
    source_url = join(settings.inbox_url, name)
    try:
        sha256 = sha256_file(source_url)
    except FileNotFoundError:  # the only path read here is the inbox file itself
        # listed a moment ago, moved since: another run (worker) took it and finished it
        return Outcome("", name, "gone", reason=GONE)
    fmt = detect_format(name)
    arrival = services.ledger.receive(name, sha256, fmt)
    if arrival.status == "busy":
        return Outcome(arrival.batch_id, name, "busy", reason=arrival.detail)
    if arrival.status in ("duplicate", "finish_move"):
        return _settle_terminal(services, arrival.batch_id, name, arrival.detail, arrival.status)
    live, canary, shadows = services.registry.serving_set()
    if canary is None and settings.response_roles == ("canary",):
        # checked before the claim: the file waits in the inbox for a canary, or another order
        raise MissingSetting("RENDEZVOUS_RESPONSE_ORDER names only the canary, and no model is canary")
    owner = new_owner()
    attempt = services.ledger.claim(
        arrival.batch_id,
        owner,
        {"live": live.version, "canary": canary.version if canary else None},
    )
    if attempt is None:
        if services.ledger.get(arrival.batch_id).state == "failed":
            return _settle_terminal(services, arrival.batch_id, name, "", "finish_move")
        return Outcome(arrival.batch_id, name, "busy", reason="claimed by another run")
    try:
        archive_url = archive_raw(services, source_url, sha256, name, owner)
    except Exception as exc:
        services.ledger.release(arrival.batch_id, owner, f"archiving failed: {type(exc).__name__}: {exc}")
        raise
    job = BatchJob(
        batch_id=arrival.batch_id,
        source_name=name,
        source_url=source_url,
        archive_url=archive_url,
        fmt=fmt,
        owner=owner,
        attempt=attempt,
        live=live,
        canary=canary,
        shadows=tuple(shadows),
    )
    job.outputs(services).reset()
    crash_point("after-claim")
    return job


def _settle_terminal(services: Services, batch_id: str, name: str, detail: str, status: str) -> Outcome:
    row = services.ledger.get(batch_id)
    settings = services.settings
    folder = settings.done_url if row.state == "committed" else settings.failed_url
    if status == "duplicate":
        if not move_source(join(settings.inbox_url, name), settings.done_url, note=detail):
            # read before the run that processed it moved it on: the same file, not a copy
            return Outcome(batch_id, name, "gone", reason=GONE)
        return Outcome(batch_id, name, "duplicate", reason=detail)
    move_source(join(settings.inbox_url, name), folder, note=row.reason)
    services.ledger.mark_moved(batch_id)
    return _outcome(row)


def chunks(services: Services, job: BatchJob) -> Iterator[tuple[int, pd.DataFrame, list[MalformedRow]]]:
    """The batch in bounded chunks, read from the immutable archive copy."""
    if job.fmt is None:
        raise unknown_format(job.source_name)
    for number, (frame, malformed) in enumerate(
        read_chunks(job.archive_url, job.fmt, services.settings.chunk_rows, Limits.of(services.settings))
    ):
        yield number, frame, malformed


def prepare(
    services: Services,
    job: BatchJob,
    chunk: int,
    frame: pd.DataFrame,
    malformed: list[MalformedRow],
    unlogged: Sequence[pd.Series] = (),
) -> Prepared:
    """Validate, set aside repeated ids, enrich; quarantined rows and lineage are written here.

    ``unlogged``: ids of earlier chunks of this attempt being scored meanwhile, whose live scores
    may not be in the score files yet (the check for ids an earlier chunk carried reads both)."""
    settings = services.settings
    id_column = settings.id_column
    contract = services.contract()
    result = validate(frame, contract, id_column, settings.max_invalid_share, unreadable=len(malformed))
    times = request_times(result.valid, settings.timestamp_column)
    quarantined = [result.quarantine, _malformed_rows(malformed)]
    steps: list[dict[str, Any]] = [
        {
            "step": "read",
            "rows_in": len(frame) + len(malformed),
            "rows_out": len(frame),
            "detail": {
                "format": job.fmt,
                "archive": job.archive_url,
                "malformed_lines": len(malformed),
            },
        },
        {
            "step": "validate",
            "rows_in": len(frame),
            "rows_out": len(result.valid),
            "detail": {
                "suite": contract.name,
                "suite_sha256": contract.fingerprint,
                "rejected": result.rejected_reason,
                "request_time": request_range(times),
            },
        },
    ]
    valid = result.valid
    seen = 0  # rows set aside because their request was scored already (here or by another batch)
    if result.rejected_reason is None and not valid.empty:
        valid, undated = _with_request_time(valid, times, settings.timestamp_column, id_column)
        quarantined.append(undated)
        valid, held, deduplicated = _one_row_per_request(services, job, frame, valid, unlogged)
        quarantined.extend(held)
        steps.append(deduplicated)
        seen = deduplicated["detail"]["already_scored"] + deduplicated["detail"]["duplicate_in_batch"]
        enriched = enrich(
            valid,
            services.reference(),
            settings.on_missing_reference,
            services.preprocess(),
            id_column,
        )
        quarantined.append(enriched.quarantine)
        steps.extend(enriched.steps)
        rows, frame_out = valid.loc[enriched.frame.index], enriched.frame
    else:
        rows, frame_out = valid.iloc[0:0], valid.iloc[0:0]
    rejected_reason = result.rejected_reason
    total = len(frame) + len(malformed)
    # every reason counts: ids the store cannot keep, ids already scored, keys not in the reference
    too_many_set_aside = too_many("rows set aside", total - len(rows), total, settings.max_invalid_share)
    # a chunk whose every request was scored before is left to the commit, which names the batches
    if rejected_reason is None and too_many_set_aside is not None and seen != total:
        rejected_reason = too_many_set_aside
        quarantined.append(q.of_rows(rows, id_column, BATCH_REJECTED, value=rejected_reason))
        rows, frame_out = rows.iloc[0:0], frame_out.iloc[0:0]
        steps.append(
            {"step": "reject", "rows_in": total, "rows_out": 0, "detail": {"reason": rejected_reason}}
        )
    with services.store.begin() as conn:
        records.write_quarantine(
            services.store,
            conn,
            job.batch_id,
            pd.concat([lines for lines in quarantined if not lines.empty] or [q.empty()]),
        )
        records.write_lineage(conn, job.batch_id, chunk, steps)
    services.ledger.heartbeat(job.batch_id, job.owner)
    crash_point("after-prepare")
    return Prepared(chunk, rows, frame_out, times.loc[rows.index], rejected_reason)


def _with_request_time(
    valid: pd.DataFrame, times: pd.Series, column: str | None, id_column: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows whose timestamp is there but does not parse are set aside with its text: filed under
    the scoring day they would make a backfill look like today's traffic."""
    bad = unparsable(valid, column, times)
    if not bad.any():
        return valid, q.empty()
    return valid.loc[~bad], q.of_rows(valid.loc[bad], id_column, UNPARSABLE_TIMESTAMP, column=column)


def _one_row_per_request(
    services: Services, job: BatchJob, frame: pd.DataFrame, valid: pd.DataFrame, unlogged: Sequence[pd.Series]
) -> tuple[pd.DataFrame, list[pd.DataFrame], dict[str, Any]]:
    """Each request scored once, whatever the suite says: rows whose id the store cannot keep,
    whose id an earlier row of this batch carried (in this chunk or an earlier one), or (id scope
    global) whose id another batch scored already are set aside. The rows kept, the lines, the
    lineage step."""
    id_column = services.settings.id_column
    unstorable = records.unstorable_ids(valid[id_column])
    storable = valid.loc[unstorable.isna()]
    in_batch, scored_elsewhere = records.seen_before(
        services.store,
        job.outputs(services).scores,
        storable[id_column],
        unlogged,
        services.scored_ids,
    )
    repeated = _repeated_in_chunk(frame, storable, id_column) | in_batch
    scored_elsewhere &= ~repeated
    held = [
        q.of_rows(valid.loc[unstorable.notna()], id_column, unstorable[unstorable.notna()], column=id_column),
        q.of_rows(storable.loc[repeated], id_column, DUPLICATE_IN_BATCH, column=id_column),
        q.of_rows(storable.loc[scored_elsewhere], id_column, ALREADY_SCORED, column=id_column),
    ]
    kept = storable.loc[~(repeated | scored_elsewhere)]
    step = {
        "step": "deduplicate",
        "rows_in": len(valid),
        "rows_out": len(kept),
        "detail": {
            "already_scored": int(scored_elsewhere.sum()),
            "duplicate_in_batch": int(repeated.sum()),
            "unstorable_ids": int(unstorable.notna().sum()),
        },
    }
    return kept, held, step


def _repeated_in_chunk(frame: pd.DataFrame, valid: pd.DataFrame, id_column: str) -> pd.Series:
    """Per valid row: does an earlier row of the chunk carry its id? Ids compare as the text
    they are stored as: valid rows' as typed by the contract, the others' as sent."""
    sent = frame[id_column]
    ids = sent.astype("str").where(sent.notna())
    ids.loc[valid.index] = valid[id_column].astype("str")
    return (ids.duplicated(keep="first") & ids.notna()).loc[valid.index]


def _malformed_rows(malformed: list[MalformedRow]) -> pd.DataFrame:
    return q.lines_for(
        [None] * len(malformed),
        None,
        None,
        [m.rule for m in malformed],
        [f"line {m.line}: {m.value}" if m.line else m.value for m in malformed],
    )


def quarantine_all(services: Services, job: BatchJob, chunk: int, frame: pd.DataFrame, reason: str) -> None:
    """Rows of a rejected batch that were not examined one by one: set aside with the reason."""
    rows = q.of_rows(frame, services.settings.id_column, q.BATCH_REJECTED, value=reason)
    with services.store.begin() as conn:
        records.write_quarantine(services.store, conn, job.batch_id, rows)
        records.write_lineage(
            conn,
            job.batch_id,
            chunk,
            [
                {
                    "step": "read",
                    "rows_in": len(frame),
                    "rows_out": len(frame),
                    "detail": {"format": job.fmt},
                },
                {
                    "step": "reject",
                    "rows_in": len(frame),
                    "rows_out": 0,
                    "detail": {"reason": reason},
                },
            ],
        )


def score_bin(
    services: Services, job: BatchJob, role: str, record: ModelRecord, prepared: Prepared
) -> pd.DataFrame:
    """Score the chunk with one model, log what it said, and return its answer for the rendezvous.

    Rows the model raised on are isolated by asking it again on halves of the chunk, and logged
    without a score but with the error: the log holds one line per request per model, whatever
    the model said. The
    scores are a file of this attempt named by the chunk: a retry of this bin overwrites it, and
    nothing reads it before the commit lists it.
    """
    estimator = services.registry.load(record)
    id_column = services.settings.id_column
    scored, errors = score_contained(
        lambda rows: score_frame(estimator, record, rows, id_column),
        prepared.enriched,
        services.settings.max_model_slices,
    )
    scored["request_id"] = prepared.enriched[id_column].astype("str").array  # by position, as Arrow
    scored["error"] = errors.to_numpy()
    records.write_scores(job.outputs(services).scores, prepared.chunk, role, record.version, scored)
    crash_point(f"in-{role}-bin")
    return scored.assign(label=_response_labels(estimator, scored), model_version=record.version)


def respond(
    services: Services,
    job: BatchJob,
    prepared: Prepared,
    answers: dict[str, pd.DataFrame],
    pending: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Stage the chunk's response from the models' answers in hand (``pending``: the models that
    had not answered by the deadline); a row no model answered is quarantined with every model's
    reason. The counts go to the lineage, where the commit adds them up."""
    settings = services.settings
    choice = choose(settings.response_roles, answers, len(prepared.enriched), pending)
    response = choice.response
    positions = response.index.to_numpy()
    response = response.assign(request_id=_response_ids(services, prepared).iloc[positions].array)
    versions = {role: record.version for role, record in job.scorers()}
    unanswered = [
        q.of_rows(
            prepared.rows.iloc[reasons.index],
            settings.id_column,
            NO_MODEL_ANSWERED,
            value=f"{role} {versions[role]}: " + reasons.astype("str"),
        )
        for role, reasons in choice.unanswered.items()
    ]
    detail = {"served_by": choice.served_by, "late": choice.late, "pending": list(pending)}
    rows = len(prepared.enriched)
    step = {"step": "rendezvous", "rows_in": rows, "rows_out": len(response), "detail": detail}
    with services.store.begin() as conn:
        records.write_quarantine(services.store, conn, job.batch_id, pd.concat(unanswered or [q.empty()]))
        records.write_lineage(conn, job.batch_id, prepared.chunk, [step])
        job.outputs(services).stage_response(prepared.chunk, response.reset_index(drop=True))
    return detail


def publish_response(services: Services, job: BatchJob) -> str | None:
    """Publish the response before the commit, when models still to be logged are past the
    deadline: the requester has the answer, the batch closes once every model's scores are in."""
    published = job.outputs(services).publish_response()
    crash_point("after-response")
    return published


def _response_ids(services: Services, prepared: Prepared) -> pd.Series:
    """Ids in the response as the contract declares them (an integer id stays an integer, from
    any format); an id of no declared type is answered as the text it is stored as."""
    id_column = services.settings.id_column
    ids = prepared.enriched[id_column].reset_index(drop=True)
    return ids if id_column in services.contract().kinds else ids.astype("str")


def _response_labels(estimator: Any, scored: pd.DataFrame) -> pd.Series:
    """Predicted labels as the model's own classes (integers stay integers in a Parquet or JSON
    Lines response, as a CSV reader would see them); stored scores keep the classes' text. Rows
    the model did not score have no label."""
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return scored["label"]
    native = np.asarray(classes)
    by_text = dict(zip(classes_of(estimator).names, native.tolist(), strict=True))
    labels = per_distinct(scored["label"], by_text.__getitem__)  # None where the model gave none
    if scored["label"].isna().any():
        return pd.Series(labels, dtype=object, name="label")
    return pd.Series(labels.astype(native.dtype), name="label")


def log_bin(services: Services, job: BatchJob, prepared: Prepared) -> str:
    """The transformed rows as the models saw them, kept beside the raw archive."""
    target = join(services.settings.archive_url, "log", job.batch_id, f"chunk-{prepared.chunk:06d}.parquet")
    fs, path = filesystem(target)
    fs.makedirs(fs._parent(path), exist_ok=True)
    with fs.open(path, "wb") as handle:
        pq.write_table(pa.Table.from_pandas(prepared.enriched, preserve_index=True), handle)
    crash_point("in-log-bin")
    with services.store.begin() as conn:
        records.write_lineage(
            conn,
            job.batch_id,
            prepared.chunk,
            [
                {
                    "step": "log",
                    "rows_in": len(prepared.enriched),
                    "rows_out": len(prepared.enriched),
                    "detail": {
                        "path": target,
                        "columns": list(map(str, prepared.enriched.columns)),
                    },
                }
            ],
        )
    return target


def dev_copy_bin(services: Services, job: BatchJob, prepared: Prepared) -> int:
    settings = services.settings
    frame = prepared.enriched if settings.dev_copy == "enriched" else prepared.rows
    frame = frame.assign(_batch_id=job.batch_id)
    crash_point("in-dev-copy-bin")
    job.outputs(services).stage_dev_copy(prepared.chunk, frame, partition_dates(prepared.times))
    return len(frame)


def commit(services: Services, job: BatchJob, rejected_reason: str | None) -> Outcome:
    """Publish outputs and close the batch, only if every row is accounted for.

    Idempotent: a retry after the ledger closed (the source move failed, say) only moves.
    """
    if services.ledger.get(job.batch_id).state not in TERMINAL:
        _close(services, job, rejected_reason)
    row = services.ledger.get(job.batch_id)
    crash_point("after-commit")
    folder = services.settings.done_url if row.state == "committed" else services.settings.failed_url
    move_source(job.source_url, folder, note=row.reason)
    services.ledger.mark_moved(job.batch_id)
    if row.state == "committed" and services.scored_ids is not None:
        services.scored_ids.merge()  # the response is out: a merge's seconds delay no one
    return _outcome(services.ledger.get(job.batch_id))


def _close(services: Services, job: BatchJob, rejected_reason: str | None) -> None:
    outputs = job.outputs(services)
    with services.store.begin() as conn:
        if rejected_reason:
            records.quarantine_rejected_scores(services.store, conn, outputs.scores, rejected_reason)
        rows_in = conn.execute(
            select(func.coalesce(func.sum(lineage.c.rows_in), 0)).where(
                lineage.c.batch_id == job.batch_id, lineage.c.step == "read"
            )
        ).scalar_one()
        served = Served() if rejected_reason else _served(conn, job.batch_id)
        counted = {
            **records.counts(conn, job.batch_id, served.rows),
            "served_by": served.by_role,
            "rows_late": served.late,
        }
        if rows_in != counted["rows_scored"] + counted["rows_quarantined"]:
            raise AccountingError(
                f"batch {job.batch_id}: {rows_in} rows in, {counted['rows_scored']} scored, "
                f"{counted['rows_quarantined']} quarantined"
            )
        if not rejected_reason and rows_in and not counted["rows_scored"]:
            rejected_reason = _all_scored_before(conn, job.batch_id, services.scored_ids)
        state = "rejected" if rejected_reason or rows_in == 0 else "committed"
        reason = rejected_reason or ("no rows (empty or header only)" if rows_in == 0 else None)
        if state == "rejected":
            outputs.reset()
        elif services.scored_ids is not None:
            records.record_scored_ids(services.scored_ids, conn, job.batch_id, outputs.scores)
        crash_point("before-publish")
        published = outputs.publish(records.rejects_frame(conn, job.batch_id))
        crash_point("after-publish")
        services.ledger.finish(
            conn, job.batch_id, job.owner, state, {"rows_in": rows_in, **counted}, reason, published
        )


@dataclass(frozen=True)
class Served:
    """The batch's response: rows answered, by which role, and how many past the deadline."""

    rows: int = 0
    by_role: dict[str, int] = field(default_factory=dict)
    late: int = 0


def _served(conn: Any, batch_id: str) -> Served:
    """The chunks' rendezvous steps added up (one lineage row per chunk)."""
    steps = conn.execute(
        select(lineage.c.rows_out, lineage.c.detail).where(
            lineage.c.batch_id == batch_id, lineage.c.step == "rendezvous"
        )
    ).all()
    by_role = added_up(detail["served_by"] for _, detail in steps)
    return Served(sum(rows for rows, _ in steps), by_role, sum(detail["late"] for _, detail in steps))


def _all_scored_before(conn: Any, batch_id: str, scored: ScoredIds | None) -> str | None:
    """A batch none of whose rows was scored because other batches scored its ids already (a
    file sent again under another name) is rejected, naming those batches, not committed empty."""
    earlier = records.earlier_scorers(
        conn, batch_id, ALREADY_SCORED, (ALREADY_SCORED, DUPLICATE_IN_BATCH), scored
    )
    if earlier is None:
        return None
    return f"every request id was scored before, by batch {', '.join(earlier)}"


def reject_unreadable(services: Services, job: BatchJob, reason: str) -> Outcome:
    """A file that cannot be read as rows: nothing is scored, the reason is recorded."""
    with services.store.begin() as conn:
        records.erase_batch_rows(conn, job.batch_id)
        records.write_lineage(
            conn,
            job.batch_id,
            0,
            [{"step": "read", "rows_in": 0, "rows_out": 0, "detail": {"error": reason}}],
        )
    job.outputs(services).reset()
    return commit(services, job, reason)


def fail(services: Services, job: BatchJob, message: str) -> Outcome:
    """An unexpected error: give the batch back for a retry, or fail it after max attempts."""
    verdict = services.ledger.release(job.batch_id, job.owner, message)
    if verdict == "failed":
        job.outputs(services).reset()
        move_source(job.source_url, services.settings.failed_url, note=message)
        services.ledger.mark_moved(job.batch_id)
    row = services.ledger.get(job.batch_id)
    return (
        _outcome(row) if row is not None else Outcome(job.batch_id, job.source_name, "error", reason=message)
    )


def _outcome(row: Any) -> Outcome:
    return Outcome(
        batch_id=row.id,
        source=row.source,
        state=row.state,
        rows_in=row.rows_in,
        rows_scored=row.rows_scored,
        rows_quarantined=row.rows_quarantined,
        reason=row.reason,
        outputs={k: v for k, v in (row.outputs or {}).items() if isinstance(v, str)},
        served_by=row.served_by or {},
        rows_late=row.rows_late or 0,
    )
