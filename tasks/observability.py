"""What the Prefect UI shows of a scoring run beyond its tasks: model-version tags and batch progress.

Both are for people watching; an API hiccup here is logged and never costs a batch.
"""

from __future__ import annotations

from uuid import UUID

from prefect import get_client, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.context import FlowRunContext
from prefect.events import emit_event

from rendezvous.pipeline import BatchJob, Outcome
from rendezvous.printing import markdown
from rendezvous.progress import BatchProgress, estimate_rows
from rendezvous.served_by import fell_back
from rendezvous.services import get_services

PROGRESS_KEY = "batch-progress"


def model_tags(job: BatchJob) -> list[str]:
    """`live:<version>`, `canary:<version>`, `shadow:<version>`: the models that score this batch."""
    names = [f"live:{job.live.version}"]
    if job.canary is not None:
        names.append(f"canary:{job.canary.version}")
    names.extend(f"shadow:{record.version}" for record in job.shadows)
    return names


def tag_run_with_models(job: BatchJob) -> None:
    """The flow run carries the batch's model versions (the runs list filters by them).

    Only the run: a tagged task run asks the API for its tags' concurrency slots before it
    starts, one round trip per task, which profiled as the largest fixed cost of a warm batch.
    """
    names = model_tags(job)
    try:
        add_run_tags(names)
    except Exception as exc:
        get_run_logger().warning("could not tag the run with %s: %s", names, exc)


def add_run_tags(names: list[str]) -> None:
    """Add ``names`` to the run's tags: one call, and none when it has them (its tags are read
    from the run's own context, which this process alone updates)."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    run = context.flow_run
    missing = [name for name in names if name not in run.tags]
    if missing:
        with get_client(sync_client=True) as client:
            client.update_flow_run(run.id, tags=[*run.tags, *missing])
        run.tags = [*run.tags, *missing]


class ProgressArtifact:
    """A progress artifact on the run page for a batch of more than one chunk, updated per chunk."""

    def __init__(self, job: BatchJob, chunk_rows: int) -> None:
        self.name = job.source_name
        self.state = BatchProgress(chunk_rows, _expected_rows(job))
        self.artifact_id: UUID | None = None

    def chunk(self, rows: int) -> None:
        self.state.start_chunk(rows)
        self._show()

    def finish(self) -> None:
        self.state.finish()
        if self.artifact_id is not None:
            self._show()

    def _show(self) -> None:
        if not self.state.worth_showing:
            return
        percent, text = self.state.percent(), self.state.describe(markdown(self.name))
        try:
            if self.artifact_id is None:
                self.artifact_id = create_progress_artifact(percent, key=PROGRESS_KEY, description=text)
            else:
                update_progress_artifact(self.artifact_id, percent, description=text)
        except Exception as exc:
            get_run_logger().warning("progress artifact of %s not updated: %s", self.name, exc)


def _expected_rows(job: BatchJob) -> int | None:
    try:
        return estimate_rows(job.archive_url, job.fmt)
    except Exception as exc:  # the bar is sized by the chunks seen instead
        get_run_logger().warning("cannot estimate the rows of %s: %s", job.source_name, exc)
        return None


FALLBACK_EVENT = "rendezvous.fallback"


def report_fallback(outcome: Outcome) -> None:
    """A batch some of whose rows the preferred model did not answer (in time): an event an
    automation can page on, and the rows per role on the run page."""
    if not fell_back(outcome.served_by, outcome.rows_late, get_services().settings.response_roles):
        return
    try:
        emit_event(
            FALLBACK_EVENT,
            resource={
                "prefect.resource.id": f"rendezvous.batch.{outcome.batch_id}",
                "prefect.resource.name": outcome.source,
            },
            payload={
                "batch_id": outcome.batch_id,
                "source": outcome.source,
                "served_by": outcome.served_by,
                "rows_late": outcome.rows_late,
                "rows_in": outcome.rows_in,
            },
        )
        create_markdown_artifact(served_by_markdown(outcome), description=f"who answered {outcome.batch_id}")
    except Exception as exc:
        get_run_logger().warning("fallback of %s not reported: %s", outcome.batch_id, exc)


def served_by_markdown(outcome: Outcome) -> str:
    """The batch's response rows per role that served them, and the rows served late."""
    lines = [
        f"### Response of {markdown(outcome.batch_id)}: {outcome.rows_scored} rows answered",
        "",
        "| served by | rows |",
        "| --- | --- |",
        *(f"| {markdown(role)} | {rows} |" for role, rows in outcome.served_by.items()),
        f"| late (a preferred model past the deadline) | {outcome.rows_late} |",
    ]
    return "\n".join(lines)
