"""Monitoring commands: `rendezvous report`, `rendezvous drift`, `rendezvous performance`, and the
monitoring part of `rendezvous status`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rendezvous.cli.console import fail
from rendezvous.printing import terminal
from rendezvous.services import get_services

console = Console(width=None if sys.stdout.isatty() else 160)
SinceOption = Annotated[
    str | None,
    typer.Option(help="Only batches since then: 7d, 24h, 30m, or an ISO date/time (UTC)."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _since(text: str | None, json_out: bool = False):
    from rendezvous.monitoring.report import parse_since

    try:
        return parse_since(text)
    except ValueError as exc:
        raise fail(f"--since {text!r}: {exc}", 2, json_out) from exc


def report(
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the HTML page.")] = Path(
        "report.html"
    ),
    since: SinceOption = None,
) -> None:
    """Write the drift report: one self-contained HTML page with plots (opens offline)."""
    from rendezvous.monitoring.report import write_report

    with console.status("Writing the drift report...", spinner="dots"):
        path = write_report(get_services(), since=_since(since), output=str(output.resolve()))
    console.print(f"drift report written to {terminal(path)}")


def drift(
    batch: Annotated[str | None, typer.Argument(help="Batch id or source file; default: the latest.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Every drift statistic of one batch, alerts first."""
    from rendezvous.monitoring.metrics_store import metric_rows
    from rendezvous.monitoring.verdict import QUIET_METRICS, comparison_of, fmt_number, note_text, rule_text

    rows = metric_rows(get_services().store, batch_id=batch, committed_only=False)
    if not rows:
        raise fail(f"no monitored batch {batch!r}" if batch else "No batch monitored yet.", 1, json_out)
    latest = rows[-1]["batch_id"]
    rows = [r for r in rows if r["batch_id"] == latest]
    if json_out:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    when = rows[0]["at"].strftime("%Y-%m-%d %H:%M:%S")
    console.print(f"[bold]{terminal(rows[0]['source'])}[/] ({terminal(latest)}), monitored {when} UTC")
    for r in rows:
        if r["metric"] == "reference":
            note = r["detail"]["profile"]
            console.print(f"Reference of live {terminal(r['model_version'])}: {terminal(note)}")
    table = Table()
    for name in ("", "comparison", "feature", "metric", "value", "rule", "model", "note"):
        table.add_column(name, overflow="fold")
    rows.sort(key=lambda r: (not r["alert"], comparison_of(r), r["feature"] or ""))
    for r in rows:
        if r["metric"] in QUIET_METRICS:
            continue
        table.add_row(
            "[red]ALERT[/]" if r["alert"] else "",
            *map(
                terminal,
                (
                    comparison_of(r),
                    r["feature"] or "",
                    r["metric"],
                    fmt_number(r["value"]),
                    rule_text(r),
                    r["model_version"] or "",
                    note_text(r),
                ),
            ),
        )
    console.print(table)


def performance(
    by: Annotated[
        str, typer.Option(help="'batch', 'day' or 'week' (request time when a timestamp column is set).")
    ] = "batch",
    since: SinceOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Realized performance per model role once labels have arrived, with row counts."""
    from rendezvous.monitoring.performance import realized_performance, request_days
    from rendezvous.monitoring.verdict import fmt_number
    from rendezvous.request_time import time_basis

    if by not in ("batch", "day", "week"):
        raise fail("--by is 'batch', 'day' or 'week'", 2, json_out)
    services = get_services()
    s = services.settings
    timed = s.timestamp_column if by != "batch" else None
    request_time = request_days(s.dev_url, s.id_column) if timed else None
    frame = realized_performance(
        services.store,
        since=_since(since, json_out),
        by=by,  # type: ignore[arg-type]
        request_time=request_time,
        scored=services.scored_ids,
    )
    if json_out:
        typer.echo(frame.to_json(orient="records", date_format="iso", indent=2))
        return
    if frame.empty:
        console.print("No labelled scores yet: labels join scores by request id once they arrive.")
        return
    regression = (frame["kind"] == "regressor").any()
    names = ["rmse", "mae", "r2"] if regression else ["roc_auc", "log_loss", "accuracy", "positive_rate"]
    basis = f" ({time_basis(timed)})" if by != "batch" else ""
    table = Table(title=f"Realized performance per {by}{basis}")
    for name in (by, "role", "model", "labelled rows", *names):
        table.add_column(name, justify="right" if name not in (by, "role", "model") else "left")
    for _, r in frame.iterrows():
        table.add_row(
            *map(terminal, (r["window"], r["role"], r["model_version"])),
            f"{int(r['n']):,}",
            *(fmt_number(r[name]) for name in names),
        )
    console.print(table)


def print_monitoring(out: Console, overview: dict[str, Any]) -> None:
    """The monitoring part of `rendezvous status`: references, then recent alerts."""
    for line in overview["profiles"]:
        out.print(
            f"Reference of {terminal(line['role'])} {terminal(line['version'])}: {terminal(line['profile'])}"
        )
    alerts = overview["alerts"]
    if not alerts:
        out.print(f"Drift: no alerts in {overview['batches_monitored']} monitored batch(es).")
        return
    table = Table(title="Drift alerts (latest batches)", title_justify="left")
    table.add_column("batch", no_wrap=True)
    table.add_column("monitored")
    table.add_column("alerts", overflow="fold")
    for entry in alerts:
        table.add_row(
            f"[red]{terminal(entry['source'])}[/]",
            terminal(entry["at"][:19].replace("T", " ")),
            "\n".join(map(terminal, entry["alerts"])),
        )
    out.print(table)
    out.print("Details: `rendezvous drift BATCH`, `rendezvous report -o report.html`.")


def register(app: typer.Typer) -> None:
    """Add the monitoring commands to the root CLI."""
    app.command()(report)
    app.command()(drift)
    app.command()(performance)
