"""Flow `score-batches`: every batch waiting in the inbox, one after another, in one flow run.

Batches are task groups, not sub-flows: a Prefect flow run has a fixed cost (0.13 s against the
local server, and up to a second more where its heartbeat thread is joined at its end), which
every batch of a run would pay again.
The run is renamed after the batches it took, so the UI still lists runs by batch.
Large task inputs go through ``runners.task_input``: quoted on threads, as they are on Dask.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Self

import pandas as pd
from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture, wait
from prefect.utilities.annotations import quote

from rendezvous.batchfiles import BadInput
from rendezvous.pipeline import BatchJob, Outcome, Prepared, chunks
from rendezvous.read_ahead import read_ahead
from rendezvous.services import get_services
from rendezvous.verify import ROLE_CHECKS, Breached, verify
from tasks import monitoring, observability, scoring
from tasks.runners import RunnerFromSettings, on_threads, task_input


class BatchesFailed(ExceptionGroup, RuntimeError):
    """Some batches failed and stay claimable: each one's error, and every file's outcome.

    ``outcomes`` holds the whole run's results (the failed files as state ``error``), so a caller
    reports the batches that went through beside the ones that did not. Still a RuntimeError, as
    the run's failure was before it carried the causes, for the callers that catch that.
    """

    outcomes: list[dict]

    def __new__(cls, message: str, errors: Sequence[Exception], outcomes: Sequence[dict] = ()) -> Self:
        return super().__new__(cls, message, errors)

    def __init__(self, message: str, errors: Sequence[Exception], outcomes: Sequence[dict] = ()) -> None:
        super().__init__(message, errors)  # outcomes stay out of args: the logged repr stays short
        self.outcomes = list(outcomes)

    def derive(self, errors: Sequence[Exception]) -> BatchesFailed:
        return BatchesFailed(self.message, errors, self.outcomes)


@dataclass
class _Flight:
    """A chunk whose bins were submitted: the main thread prepares the next chunk meanwhile."""

    prepared: Prepared
    bins: dict[str, PrefectFuture]
    copies: list[PrefectFuture]
    response: PrefectFuture | None  # None: the flow answers once it lands (on Dask)

    def futures(self) -> list[PrefectFuture]:
        return [*self.bins.values(), *self.copies, *([self.response] if self.response else [])]


def score_one(job: BatchJob) -> Outcome:
    """One claimed batch: per chunk validate+enrich, then the bins in parallel and the rendezvous
    of their answers; then, once every bin has finished, commit, and monitor what was committed.

    The next chunk is read (by a thread of its own, one chunk ahead) and prepared while the bins
    score the one before: its check for ids an earlier chunk carried is given the ids whose live
    scores may not be written yet.
    With a response deadline, a chunk's response does not wait for a model past it (nor does any
    chunk wait for the shadows): those bins finish in the background, the response is published
    once every chunk is answered, and the batch commits when their scores are logged.
    """
    services = get_services()
    settings = services.settings
    seconds = settings.response_deadline_seconds
    deadline = None if seconds is None else time.monotonic() + seconds
    rejected: str | None = None
    late: list[tuple[PrefectFuture, _Flight]] = []  # bins past the deadline, still running
    airborne: list[_Flight] = []  # chunks whose bins were submitted and not yet waited for
    progress = observability.ProgressArtifact(job, settings.chunk_rows)
    given = task_input(settings)
    job_in = given(job)

    def unlogged() -> list[pd.Series]:
        """Ids of chunks whose live scores may not be in the score files yet."""
        chunks_out = airborne + [f for future, f in late if f.bins.get("live") is future]
        return [f.prepared.enriched[settings.id_column] for f in chunks_out]

    def take_off(prepared: Prepared) -> None:
        prepared_in = given(prepared)
        bins = {
            role: scoring.score_bin.submit(job_in, role, given(record), prepared_in)
            for role, record in job.scorers()
        }
        copies = [copy.submit(job_in, prepared_in) for copy in (scoring.log_bin, scoring.dev_copy_bin)]
        # on threads the response is a task too, off the thread that prepares the next chunk; a
        # task on Dask cannot be handed futures, so there the flow answers when the chunk lands
        threads = on_threads(settings)
        response = scoring.respond.submit(job_in, prepared_in, quote(bins), deadline) if threads else None
        airborne.append(_Flight(prepared, bins, copies, response))

    def land() -> None:
        """Wait for the oldest chunk in flight: its response, then its bins."""
        nonlocal late
        chunk = airborne[0]
        if chunk.response is None:
            detail = scoring.respond(job_in, given(chunk.prepared), quote(chunk.bins), deadline)
        else:
            detail = chunk.response.result()
        for role, future in chunk.bins.items():
            if role in settings.response_roles and role not in detail["pending"]:
                continue  # answered in time
            # no deadline: the shadows are waited for per chunk, as ever
            if deadline is not None and not future.state.is_final():
                late.append((future, chunk))
            else:
                chunk.copies.append(future)
        _settle(chunk.copies)
        # a late bin holds its chunk until it finishes: the finished ones let theirs go
        finished = [future.state.is_final() for future, _ in late]
        _settle([future for (future, _), done in zip(late, finished, strict=True) if done])
        late = [pair for pair, done in zip(late, finished, strict=True) if not done]
        airborne.pop(0)

    try:
        for chunk, frame, malformed in read_ahead(chunks(services, job)):
            progress.chunk(len(frame) + len(malformed))
            if rejected:
                scoring.quarantine_all(job_in, chunk, given(frame), rejected)
                continue
            prepared = scoring.prepare(job_in, chunk, given(frame), given(malformed), given(unlogged()))
            rejected = prepared.rejected_reason
            if not (rejected or prepared.enriched.empty):
                take_off(prepared)
            while len(airborne) > (0 if rejected else 1):
                land()
        while airborne:
            land()
        if late and not rejected:
            scoring.publish_response(job_in)
        _settle([future for future, _ in late])
        progress.finish()
        outcome = _commit_and_monitor(job_in, rejected, on_threads(settings))
        observability.report_fallback(outcome)
        return outcome
    except BadInput as exc:
        _stop(airborne, late)  # no bin may log scores of a batch closed meanwhile
        return scoring.reject_unreadable(job_in, str(exc))
    except Exception as exc:
        _stop(airborne, late)
        scoring.release(job_in, f"{type(exc).__name__}: {exc}")
        raise


def _commit_and_monitor(job: BatchJob, rejected: str | None, threads: bool) -> Outcome:
    """Commit the batch, and monitor it if it committed (the commit may reject it too).

    Drift is about the batch, never changes it: the response (published at the commit) never
    waits for it, and its metrics are written only once the batch committed. On threads the
    batch is measured while it commits (the monitor task is handed the commit's future; a task on
    Dask cannot be), so the next batch starts sooner. return_state: a monitoring failure is
    recorded by the task and never fails the batch; a crash leaves it committed without metrics.
    """
    if rejected or not threads:
        outcome = scoring.commit(job, rejected)
        if outcome.state == "committed":
            monitoring.monitor_batch(job, return_state=True)
        return outcome
    committing = scoring.commit.submit(job, rejected)
    measuring = monitoring.monitor_batch.submit(job, quote(committing))
    try:
        return committing.result()
    finally:
        wait([measuring])


def _stop(airborne: list[_Flight], late: list[tuple[PrefectFuture, _Flight]]) -> None:
    wait([*(future for chunk in airborne for future in chunk.futures()), *(future for future, _ in late)])


def _settle(futures: list[PrefectFuture]) -> None:
    """Wait for the futures; a task that failed for good raises here."""
    wait(futures)
    for future in futures:
        future.result()


@flow(name="score-batches", task_runner=RunnerFromSettings(), log_prints=False)
def score_batches(limit: int | None = None, sources: list[str] | None = None) -> list[dict]:
    """Score what waits in the inbox (or only the ``sources`` named), oldest first; one batch's
    failure never stops the others, and fails the run at the end with every batch's error."""
    logger = get_run_logger()
    names = scoring.list_inbox()
    if sources is not None:
        wanted = set(sources)
        names = [name for name in names if name in wanted]
    if limit is not None:
        names = names[:limit]
    scoring.name_run_after(names)
    results: list[dict] = []
    errors: list[Exception] = []
    for name in names:
        try:
            job = scoring.intake(name)
        except Exception as exc:  # this file is left in the inbox; the others still run
            logger.error("%s could not be taken in and stays in the inbox: %s", name, exc, exc_info=exc)
            errors.append(exc)
            results.append({"source": name, "state": "error", "reason": f"intake failed: {exc}"})
            continue
        if isinstance(job, Outcome):
            logger.info("%s: %s (%s)", name, job.state, job.reason or "")
            results.append(asdict(job))
            continue
        try:
            observability.tag_run_with_models(job)
            with get_services().ledger.lease_kept(job.batch_id, job.owner):
                outcome = score_one(job)
        except Exception as exc:
            logger.error("batch %s failed and stays claimable: %s", job.batch_id, exc, exc_info=exc)
            errors.append(exc)
            results.append({"source": name, "batch_id": job.batch_id, "state": "error", "reason": str(exc)})
            continue
        logger.info(
            "%s: %s, %d rows in, %d scored, %d quarantined%s",
            job.batch_id,
            outcome.state,
            outcome.rows_in,
            outcome.rows_scored,
            outcome.rows_quarantined,
            f" ({outcome.reason})" if outcome.reason else "",
        )
        results.append(asdict(outcome))
    # committed batches stay committed; a tampered role audit fails the run, where operators look
    for check in verify(get_services(), ROLE_CHECKS):
        if not check.ok:
            breach = Breached(check)
            logger.error("%s", breach)
            errors.append(breach)
            results.append({"source": None, "state": "error", "reason": str(breach)})
    if errors:
        failed = [r["source"] for r in results if r["state"] == "error" and r["source"]]
        problems = (
            [f"{len(failed)} batch(es) failed and stay claimable: {', '.join(failed)}"] if failed else []
        )
        problems += [str(error) for error in errors if isinstance(error, Breached)]
        raise BatchesFailed("; ".join(problems), errors, results)
    return results
