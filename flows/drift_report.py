"""Flow `drift-report`: the HTML drift report of the last days, written daily by its deployment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from rendezvous.printing import markdown
from rendezvous.services import get_services
from tasks import monitoring


@flow(name="drift-report", log_prints=False)
def drift_report(days: int | None = None, output: str | None = None) -> str:
    """Write the report covering ``days`` (default: settings.monitoring.report_days) to ``output``
    (default: reports/drift-report-<date>.html under RENDEZVOUS_HOME); return its location."""
    settings = get_services().settings
    days = days or settings.monitoring.report_days
    since = datetime.now(UTC) - timedelta(days=days)
    path = monitoring.drift_report(since, output)
    create_markdown_artifact(
        key="drift-report",
        markdown=f"Drift report of the last {days} day(s): {markdown(path)}",
        description="Where the latest drift report was written",
    )
    get_run_logger().info("drift report written to %s", path)
    return path
