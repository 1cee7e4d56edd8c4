"""Prefect tasks over the scoring steps: names, retries, no input hashing of DataFrames."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pandas as pd
from prefect import get_client, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed, wait
from prefect.runtime import flow_run

from rendezvous import pipeline
from rendezvous.batchfiles import MalformedRow, list_batches
from rendezvous.pipeline import BatchJob, Outcome, Prepared
from rendezvous.registry import ModelRecord
from rendezvous.response_policy import every_row_answered
from rendezvous.services import get_services


@task(name="list-inbox", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def list_inbox() -> list[str]:
    return list_batches(get_services().settings.inbox_url)


@task(name="intake", task_run_name="intake-{name}", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def intake(name: str) -> BatchJob | Outcome:
    return pipeline.intake(get_services(), name)


@task(name="validate-enrich", task_run_name="validate-enrich-{job.batch_id}-{chunk}", cache_policy=NO_CACHE)
def prepare(
    job: BatchJob,
    chunk: int,
    frame: pd.DataFrame,
    malformed: list[MalformedRow],
    unlogged: Sequence[pd.Series] = (),
) -> Prepared:
    return pipeline.prepare(get_services(), job, chunk, frame, malformed, unlogged)


@task(name="quarantine-rest", task_run_name="quarantine-rest-{job.batch_id}-{chunk}", cache_policy=NO_CACHE)
def quarantine_all(job: BatchJob, chunk: int, frame: pd.DataFrame, reason: str) -> None:
    pipeline.quarantine_all(get_services(), job, chunk, frame, reason)


@task(
    name="score-bin",
    task_run_name="{role}-bin-{job.batch_id}-{prepared.chunk} ({record.version})",
    cache_policy=NO_CACHE,
    retries=1,
    retry_delay_seconds=1,
)
def score_bin(job: BatchJob, role: str, record: ModelRecord, prepared: Prepared) -> pd.DataFrame:
    return pipeline.score_bin(get_services(), job, role, record, prepared)


def answers_in_time(
    bins: dict[str, PrefectFuture[pd.DataFrame]], rows: int, deadline: float | None
) -> tuple[dict[str, pd.DataFrame], tuple[str, ...]]:
    """The answers of the models that may serve, and the ones still pending: every one, or, once
    the ``deadline`` (a ``time.monotonic()`` instant) passed, as soon as the finished models
    answer every row (one more model at a time). A bin that failed for good raises here."""
    order = [role for role in get_services().settings.response_roles if role in bins]
    timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
    wait([bins[role] for role in order], timeout=timeout)
    while True:
        finished = {role: bins[role].result() for role in order if bins[role].state.is_final()}
        pending = tuple(role for role in order if role not in finished)
        if not pending or (finished and every_row_answered(finished.values(), rows)):
            return finished, pending
        next(as_completed([bins[role] for role in pending]))


@task(name="rendezvous", task_run_name="rendezvous-{job.batch_id}-{prepared.chunk}", cache_policy=NO_CACHE)
def respond(
    job: BatchJob, prepared: Prepared, bins: dict[str, PrefectFuture[pd.DataFrame]], deadline: float | None
) -> dict[str, Any]:
    """The chunk's response from the bins' answers in time (their futures, given quoted: this
    task waits for them itself, so a failed bin fails it with the bin's error)."""
    answers, pending = answers_in_time(bins, len(prepared.enriched), deadline)
    return pipeline.respond(get_services(), job, prepared, answers, pending)


@task(name="publish-response", task_run_name="publish-response-{job.batch_id}", cache_policy=NO_CACHE)
def publish_response(job: BatchJob) -> str | None:
    return pipeline.publish_response(get_services(), job)


@task(
    name="log-bin",
    task_run_name="log-bin-{job.batch_id}-{prepared.chunk}",
    cache_policy=NO_CACHE,
    retries=1,
    retry_delay_seconds=1,
)
def log_bin(job: BatchJob, prepared: Prepared) -> str:
    return pipeline.log_bin(get_services(), job, prepared)


@task(
    name="dev-copy-bin",
    task_run_name="dev-copy-bin-{job.batch_id}-{prepared.chunk}",
    cache_policy=NO_CACHE,
    retries=1,
    retry_delay_seconds=1,
)
def dev_copy_bin(job: BatchJob, prepared: Prepared) -> int:
    return pipeline.dev_copy_bin(get_services(), job, prepared)


@task(
    name="commit",
    task_run_name="commit-{job.batch_id}",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=1,
)
def commit(job: BatchJob, rejected_reason: str | None) -> Outcome:
    return pipeline.commit(get_services(), job, rejected_reason)


@task(name="reject-unreadable", cache_policy=NO_CACHE)
def reject_unreadable(job: BatchJob, reason: str) -> Outcome:
    return pipeline.reject_unreadable(get_services(), job, reason)


@task(name="release", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def release(job: BatchJob, error: str) -> Outcome:
    return pipeline.fail(get_services(), job, error)


def name_run_after(names: list[str]) -> None:
    """Runs are listed in the UI by the batches they took, not by a random name.

    Cosmetic: an API that refuses the rename costs a warning, never the run.
    """
    run_id = flow_run.id
    if not run_id:
        return
    label = "empty inbox" if not names else names[0] + (f" +{len(names) - 1} more" if len(names) > 1 else "")
    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run(run_id, name=label)
    except Exception as exc:
        get_run_logger().warning("could not rename the run to %r: %s", label, exc)
