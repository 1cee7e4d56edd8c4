"""Prefect tasks over monitoring: the per-batch monitor (metrics, artifacts, event) and the report.

Monitoring never costs a batch: any error here is logged, recorded as a ``monitor_error``
metric and shown as the verdict artifact, and the task still completes, so the batch commits.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.futures import PrefectFuture

from rendezvous.monitoring import verdict
from rendezvous.pipeline import BatchJob
from rendezvous.printing import markdown
from rendezvous.services import get_services

if TYPE_CHECKING:
    from rendezvous.monitoring.batch_monitor import MonitorResult


def publish(result: MonitorResult) -> None:
    """Table and verdict artifacts under stable keys (the UI keeps their history); the event."""
    create_table_artifact(
        key=verdict.TABLE_KEY,
        table=verdict.table_rows(result),
        description=f"Drift statistics of batch {markdown(result.source)} ({result.n_rows:,} rows)",
    )
    create_markdown_artifact(
        key=verdict.VERDICT_KEY,
        markdown=verdict.verdict_markdown(result),
        description=f"Drift verdict of batch {markdown(result.source)}",
    )
    if result.alert:
        emit_event(
            event=verdict.DRIFT_EVENT,
            resource=verdict.event_resource(result),
            related=verdict.event_related(result),
            payload=verdict.event_payload(result),
        )


@task(name="monitor", task_run_name="monitor-{job.source_name}", cache_policy=NO_CACHE)
def monitor_batch(job: BatchJob, commit: PrefectFuture | None = None) -> dict:
    """Live vs canary, shadows vs live, features vs the live model's reference.

    ``commit``: the batch's commit, running meanwhile (given quoted): the batch is measured while
    it commits, and its metrics are written once it has."""
    from rendezvous.monitoring import batch_monitor  # scipy: paid by a batch, not by an empty inbox

    logger = get_run_logger()
    services = get_services()
    committed = partial(_committed, commit)
    try:
        result = batch_monitor.monitor_batch(services, job, committed)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if not committed():
            return {"batch_id": job.batch_id, "monitored": False, "error": error}
        logger.exception("monitoring of batch %s failed; the batch commits anyway", job.batch_id)
        try:
            batch_monitor.record_failure(services, job, error)
            create_markdown_artifact(
                key=verdict.VERDICT_KEY, markdown=verdict.failure_markdown(job.source_name, error)
            )
        except Exception:
            logger.exception("could not record the monitoring failure of %s", job.batch_id)
        return {"batch_id": job.batch_id, "monitored": False, "error": error}
    if result is None:
        return {"batch_id": job.batch_id, "monitored": False}
    try:
        publish(result)
    except Exception:
        logger.exception("batch %s: metrics stored, but artifacts or event failed", job.batch_id)
    if result.alert:
        logger.warning("batch %s: drift alert (%s)", job.batch_id, verdict.alert_summary(result))
    return {
        "batch_id": job.batch_id,
        "monitored": True,
        "alerts": len(result.alerts),
        "drifted_features": sorted(set(result.drifted_features)),
        "seconds": round(result.seconds, 3),
    }


def _committed(commit: PrefectFuture | None) -> bool:
    """Did the batch's commit go through? (Waits for it; None: it had, before monitoring began.)
    A commit that completes may still close the batch as rejected (every id scored before)."""
    if commit is None:
        return True
    commit.wait()
    return commit.state.is_completed() and commit.result().state == "committed"


@task(name="write-drift-report", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def drift_report(since: datetime | None, output: str | None) -> str:
    """The self-contained HTML report; returns where it was written."""
    from rendezvous.monitoring.report import write_report  # plotly: not for score-batches' import

    return write_report(get_services(), since=since, output=output)
