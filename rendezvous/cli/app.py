"""`rendezvous`: run the flows and read the store, for people (rich tables) and machines (--json)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated, Any

import typer
from rich.table import Table

from rendezvous.cli.api import register as register_api
from rendezvous.cli.console import JsonFlag, console, errors, fail, print_json
from rendezvous.cli.init import register as register_init
from rendezvous.cli.models import register as register_model_files
from rendezvous.cli.monitoring import print_monitoring
from rendezvous.cli.monitoring import register as register_monitoring
from rendezvous.cli.ops import register as register_ops
from rendezvous.cli.ops import ui_location
from rendezvous.cli.promotion import register as register_promotion
from rendezvous.cli.verify import verify_command
from rendezvous.printing import terminal, visible
from rendezvous.served_by import fell_back
from rendezvous.services import get_services
from rendezvous.settings import get_settings

app = typer.Typer(
    help="rendezvous: logged, canary-checked, gated ML scoring on Prefect.", no_args_is_help=True
)
models_app = typer.Typer(help="The model registry.", no_args_is_help=True)
batches_app = typer.Typer(help="Batches in the ledger.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(batches_app, name="batches")
app.command("verify")(verify_command)
register_model_files(models_app)
register_monitoring(app)
register_promotion(app, models_app)
register_ops(app)
register_init(app)
register_api(app)


def _short(path: str) -> str:
    """Paths under RENDEZVOUS_HOME are shown relative to it."""
    home = str(get_services().settings.home)
    return path[len(home) + 1 :] if path.startswith(home + "/") else path


def outcome_table(outcomes: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("batch", no_wrap=True)
    for name in ("rows", "scored", "quarantined"):
        table.add_column(name, justify="right")
    table.add_column("state")
    table.add_column("outputs / reason", overflow="fold")
    style = {"committed": "green", "rejected": "yellow", "duplicate": "cyan", "failed": "red", "error": "red"}
    for o in outcomes:
        outputs = [_short(v) for k, v in (o.get("outputs") or {}).items() if k != "dev"]
        detail = "\n".join(map(terminal, [*outputs, *([o["reason"]] if o.get("reason") else [])]))
        table.add_row(
            terminal(o.get("source") or ""),
            str(o.get("rows_in", "")),
            str(o.get("rows_scored", "")),
            str(o.get("rows_quarantined", "")),
            f"[{style.get(o['state'], 'white')}]{terminal(o['state'])}[/]",
            detail,
        )
    return table


@app.command()
def score(
    json_out: JsonFlag = False,
    watch: Annotated[bool, typer.Option(help="Keep running: score each batch as soon as it lands.")] = False,
    poll: Annotated[float, typer.Option(help="Seconds between inbox checks with --watch.")] = 0.2,
) -> None:
    """Run the `score-batches` flow over the inbox now (or on every arrival, with --watch).

    Exits 1 when a batch failed or a file could not be taken in (the others are still reported);
    with --json, stdout is one JSON list of outcomes (with --watch, one JSON object per line).
    """
    from rendezvous.cli.scoring import failures, score_inbox, watch_inbox

    if watch:
        inbox = terminal(get_services().settings.inbox_url)
        errors.print(f"Watching {inbox} (every {poll:g} s); Ctrl-C to stop.")
        still_failing = watch_inbox(poll, _json_lines if json_out else _outcome_lines)
        errors.print("Stopped.")
        _exit_if_failed(still_failing)
        return
    with errors.status("Scoring the inbox...", spinner="dots"):
        outcomes, warm_pid = score_inbox()
    if warm_pid is not None:
        errors.print(f"[dim]Scored by the warm scorer (pid {warm_pid}).[/]")
    if json_out:
        print_json(outcomes)
    elif outcomes:
        console.print(outcome_table(outcomes, "score-batches"))
        _print_accounting(outcomes)
    else:
        console.print(
            f"The inbox is empty. Batch files go into {terminal(get_settings().inbox_url)}", highlight=False
        )
    _exit_if_failed(failures(outcomes))


def _outcome_lines(outcomes: list[dict[str, Any]]) -> None:
    for o in outcomes:
        console.print(
            visible(
                f"{o.get('source')}: {o['state']}, {o.get('rows_scored', 0)} scored, "
                f"{o.get('rows_quarantined', 0)} quarantined"
                + (f" ({o['reason']})" if o.get("reason") else "")
            ),
            markup=False,
        )


def _json_lines(outcomes: list[dict[str, Any]]) -> None:
    for o in outcomes:
        typer.echo(json.dumps(o, default=str))


def _exit_if_failed(failed: list[dict[str, Any]]) -> None:
    """Exit 1 naming what failed (on stderr, so stdout stays the answer)."""
    if not failed:
        return
    names = ", ".join(str(o.get("source") or "the run") for o in failed)
    errors.print(f"[red]{len(failed)} failed:[/] {terminal(names)}")
    raise typer.Exit(1)


def _print_accounting(outcomes: list[dict[str, Any]]) -> None:
    rows_in = sum(o.get("rows_in") or 0 for o in outcomes if o["state"] != "duplicate")
    scored = sum(o.get("rows_scored") or 0 for o in outcomes if o["state"] != "duplicate")
    quarantined = sum(o.get("rows_quarantined") or 0 for o in outcomes if o["state"] != "duplicate")
    mark = (
        "[green]every row accounted for[/]" if rows_in == scored + quarantined else "[red]ROWS UNACCOUNTED[/]"
    )
    console.print(f"rows in {rows_in} = scored {scored} + quarantined {quarantined}: {mark}")
    served: Counter[str] = Counter()
    for outcome in outcomes:
        served.update(outcome.get("served_by") or {})
    late = sum(o.get("rows_late") or 0 for o in outcomes)
    if fell_back(served, late, get_settings().response_roles):  # say who answered
        console.print(f"[yellow]{served_text(dict(served), late)}[/]")


@app.command()
def demo(
    rows: Annotated[int, typer.Option(help="Rows per demo batch.")] = 2000,
    fresh: Annotated[
        bool, typer.Option(help="Delete what an earlier demo built in RENDEZVOUS_HOME first.")
    ] = True,
    force: Annotated[
        bool, typer.Option(help="Also delete the state of a home the demo did not build.")
    ] = False,
) -> None:
    """Build the loan-default demo from nothing (data, models, inbox, its settings in the home's
    rendezvous.toml) and score it. Only a home the demo built is wiped without --force."""
    from rendezvous.demo.bootstrap import DemoRefused, build_demo

    services = get_services()
    building = "Building the demo: customers, history, live and canary models..."
    try:
        with console.status(building, spinner="dots"):
            built = build_demo(services, rows_per_batch=rows, fresh=fresh, force=force)
    except DemoRefused as exc:
        raise fail(f"refused: {exc}", 2) from exc
    services = get_services()
    for line in built.describe():
        console.print(f"  {terminal(line)}")
    from rendezvous.cli.scoring import failures, score_inbox

    with console.status(f"Scoring {len(built.batches)} demo batches...", spinner="dots"):
        outcomes, _ = score_inbox()
    console.print(outcome_table(outcomes, "Demo: score-batches"))
    _print_accounting(outcomes)
    console.print(
        f"State under {terminal(services.settings.home)}: responses and rejects in outbox/, "
        "the dev copy in dev/, processed sources in done/ and failed/, raw bytes in archive/."
    )
    console.print("Next: `rendezvous status`, `rendezvous batches show loans-2026-11-04-bad-rows.csv`.")
    console.print(ui_location(), highlight=False)
    _exit_if_failed(failures(outcomes))


@app.command()
def status(json_out: JsonFlag = False) -> None:
    """Models by role, batches by state, totals."""
    from rendezvous.status import system_status

    services = get_services()
    report = system_status(services.store, services.registry)
    if json_out:
        print_json(report)
        return
    console.print(models_table(report["models"]))
    states = ", ".join(f"{state}: {n}" for state, n in sorted(report["batches_by_state"].items())) or "none"
    totals = report["totals"]
    console.print(f"Batches: {states}; duplicates received: {report['duplicates_received']}")
    console.print(
        f"Rows: {totals['rows_in']} in, {totals['rows_scored']} scored, "
        f"{totals['rows_quarantined']} quarantined; {served_text(totals['served_by'], totals['rows_late'])}"
    )
    if report["recent_batches"]:
        console.print(
            outcome_table([{**b, "source": b["id"]} for b in report["recent_batches"]], "Recent batches")
        )
    print_monitoring(console, report["monitoring"])


def served_text(served_by: dict[str, int], late: int) -> str:
    """``served by live 180, canary 20; 5 late``: who answered the response rows."""
    roles = ", ".join(f"{terminal(role)} {rows}" for role, rows in served_by.items()) or "no model yet"
    return f"served by {roles}; {late} late"


def models_table(models: list[dict[str, Any]]) -> Table:
    table = Table(title="Models")
    for name in (
        "version",
        "role",
        "shadow",
        "kind",
        "features",
        "sklearn",
        "sha256",
        "registered",
    ):
        table.add_column(name)
    flagged = any(m.get("role_disagreement") for m in models)
    if flagged:
        table.add_column("role check", style="bold red", overflow="fold")
    for m in models:
        table.add_row(
            *map(
                terminal,
                (
                    m["version"],
                    f"{m['role']} (!)" if m.get("role_disagreement") else m["role"],
                    "yes" if m["shadow"] else "",
                    m["kind"],
                    m["features"],
                    m["sklearn_version"],
                    m["sha256"][:12],
                    m["registered_at"][:19],
                    *([m.get("role_disagreement") or ""] if flagged else []),
                ),
            )
        )
    return table


@models_app.command("list")
def models_list(json_out: JsonFlag = False) -> None:
    """Every registered model and its role; a role the models table and the audit disagree on
    (written by hand: the audit's is the one served) is flagged, `role_disagreement` in --json."""
    from rendezvous.roles import disagreements

    services = get_services()
    with services.store.begin() as conn:
        flags = disagreements(conn)
    models = [{**r.summary(), "role_disagreement": flags.get(r.version)} for r in services.registry.list()]
    if json_out:
        print_json(models)
    else:
        console.print(models_table(models))
        if flags:
            errors.print("[red](!) the models table and the role audit disagree: `rendezvous verify`[/]")


@batches_app.command("show")
def batches_show(batch_id: str, json_out: JsonFlag = False) -> None:
    """Counts, lineage and quarantine reasons of one batch (id or source file name)."""
    from rendezvous.status import batch_detail

    detail = batch_detail(get_services().store, batch_id)
    if detail is None:
        raise fail(f"no batch {batch_id!r}", 1, json_out)
    if json_out:
        print_json(detail)
        return
    console.print(
        f"[bold]{terminal(detail['id'])}[/] from {terminal(detail['source'])} ({terminal(detail['format'])}, "
        f"sha256 {detail['sha256'][:12]}): [bold]{terminal(detail['state'])}[/]"
    )
    console.print(
        f"rows in {detail['rows_in']}, scored {detail['rows_scored']}, quarantined "
        f"{detail['rows_quarantined']}; live {terminal(detail['live_version'])}, canary "
        f"{terminal(detail['canary_version'])}"
    )
    if detail["served_by"]:
        console.print(served_text(detail["served_by"], detail["rows_late"]))
    if detail["reason"]:
        console.print(f"reason: {terminal(detail['reason'])}")
    steps = Table(title="Lineage")
    for name in ("chunk", "step", "rows in", "rows out", "detail"):
        steps.add_column(name)
    for s in detail["lineage"]:
        steps.add_row(
            *map(
                terminal,
                (
                    s["chunk"],
                    s["step"],
                    s["rows_in"],
                    s["rows_out"],
                    json.dumps(s["detail"], default=str)[:120],
                ),
            )
        )
    console.print(steps)
    if detail["quarantine_reasons"]:
        reasons = Table(title="Quarantine reasons")
        for name in ("column", "rule", "rows"):
            reasons.add_column(name)
        for r in detail["quarantine_reasons"]:
            reasons.add_row(*map(terminal, (r["column"] or "", r["rule"], r["rows"])))
        console.print(reasons)
    for key, value in detail["outputs"].items():
        console.print(f"{terminal(key)}: {terminal(value)}")


@batches_app.command("list")
def batches_list(json_out: JsonFlag = False) -> None:
    """Recent batches."""
    from rendezvous.status import system_status

    services = get_services()
    recent = system_status(services.store, services.registry)["recent_batches"]
    if json_out:
        print_json(recent)
    else:
        console.print(outcome_table([{**b, "source": b["id"]} for b in recent], "Batches"))
