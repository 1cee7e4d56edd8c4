"""Flow `score-batches`: every batch waiting in the inbox, each in its own sub-flow run."""

from __future__ import annotations

from dataclasses import asdict

from prefect import flow, get_run_logger
from prefect.futures import wait

from rendezvous.batchfiles import BadInput
from rendezvous.pipeline import Outcome, chunks
from rendezvous.services import get_services
from tasks import scoring
from tasks.runners import task_runner_for


@flow(name="score-batch", flow_run_name="batch-{name}", log_prints=False)
def score_batch(name: str) -> dict:
    """One batch: claim, then per chunk validate+enrich and the bins in parallel, then commit."""
    logger = get_run_logger()
    job = scoring.intake(name)
    if isinstance(job, Outcome):
        logger.info("%s: %s (%s)", name, job.state, job.reason or "")
        return asdict(job)
    services = get_services()
    rejected: str | None = None
    try:
        for chunk, frame, malformed in chunks(services, job):
            if rejected:
                scoring.quarantine_all(job, chunk, frame, rejected)
                continue
            prepared = scoring.prepare(job, chunk, frame, malformed)
            rejected = prepared.rejected_reason
            if rejected or prepared.enriched.empty:
                continue
            futures = [
                scoring.score_bin.submit(job, role, record, prepared)
                for role, record in job.scorers()
            ]
            futures.append(scoring.log_bin.submit(job, prepared))
            futures.append(scoring.dev_copy_bin.submit(job, prepared))
            wait(futures)
            for future in futures:
                future.result()
        outcome = scoring.commit(job, rejected)
    except BadInput as exc:
        outcome = scoring.reject_unreadable(job, str(exc))
    except Exception as exc:
        outcome = scoring.release(job, f"{type(exc).__name__}: {exc}")
        logger.error("batch %s: %s; %s", job.batch_id, exc, outcome.state)
        raise
    logger.info(
        "%s: %s, %d rows in, %d scored, %d quarantined%s",
        job.batch_id,
        outcome.state,
        outcome.rows_in,
        outcome.rows_scored,
        outcome.rows_quarantined,
        f" ({outcome.reason})" if outcome.reason else "",
    )
    return asdict(outcome)


@flow(name="score-batches", log_prints=False)
def score_batches(limit: int | None = None) -> list[dict]:
    """Score what waits in the inbox; one batch's failure never stops the others."""
    settings = get_services().settings
    names = scoring.list_inbox()
    if limit is not None:
        names = names[:limit]
    runner = task_runner_for(settings)
    results: list[dict] = []
    failures = []
    for name in names:
        state = score_batch.with_options(task_runner=runner)(name, return_state=True)
        if state.is_completed():
            results.append(state.result())
        else:
            failures.append(name)
            results.append({"source": name, "state": "error", "reason": state.message})
    if failures:
        raise RuntimeError(
            f"{len(failures)} batch(es) failed and stay claimable: {', '.join(failures)}"
        )
    return results
