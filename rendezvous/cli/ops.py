"""`rendezvous serve`: the deployments of prefect.yaml served from one process (no work pool).

With `rendezvous server` in one terminal and this in another, one machine gets scheduled scoring,
the UI and approvals. Prefect is imported lazily so the rest of the CLI stays quick.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from rendezvous.cli.console import console, fail
from rendezvous.printing import terminal
from rendezvous.runtime import configure_prefect_env


def serve(
    deployment: Annotated[
        list[str] | None,
        typer.Option("--deployment", "-d", help="Serve only this deployment (repeatable)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="At most this many runs at once in this process.")
    ] = None,
) -> None:
    """Serve prefect.yaml's deployments here, with their schedules, until interrupted."""
    configure_prefect_env(quiet=False)
    if not os.environ.get("PREFECT_API_URL"):
        console.print(
            "[yellow]PREFECT_API_URL is not set: serving against a temporary local API without a UI. "
            "Start `rendezvous server` and export the URL it prints.[/]"
        )
    from prefect import serve as prefect_serve

    from flows.deployments import runner_deployments

    try:
        deployments = runner_deployments(deployment)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    for d in deployments:
        console.print(terminal(f"serving {d.flow_name}/{d.name}: {_schedule_text(d.schedules)}"))
    prefect_serve(*deployments, limit=limit, print_starting_message=False)


def _schedule_text(schedules: list) -> str:
    parts = []
    for entry in schedules or []:
        schedule = entry.schedule
        if getattr(schedule, "interval", None):
            parts.append(f"every {schedule.interval.total_seconds():g} s")
        elif getattr(schedule, "cron", None):
            parts.append(f"cron '{schedule.cron}' {schedule.timezone or 'UTC'}")
        else:
            parts.append(str(schedule))
    return ", ".join(parts) or "by hand only"


def register(app: typer.Typer) -> None:
    """Add the operations commands to the root CLI."""
    app.command()(serve)
