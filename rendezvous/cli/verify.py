"""`rendezvous verify`: the invariants, checked over the whole store; non-zero exit on a breach."""

from __future__ import annotations

import typer
from rich.table import Table

from rendezvous.cli.console import JsonFlag, console, print_json
from rendezvous.printing import terminal
from rendezvous.services import get_services


def verify_command(json_out: JsonFlag = False) -> None:
    """Check every invariant (accounting, one score per role, outputs, model files, role audit and
    its signed decisions)."""
    from rendezvous.verify import verify

    results = verify(get_services())
    if json_out:
        print_json([r.to_dict() for r in results])
    else:
        table = Table(title="rendezvous verify", title_justify="left")
        for name in ("check", "checked", "breaches", "examples"):
            table.add_column(name, overflow="fold")
        for r in results:
            mark = "[green]ok[/]" if r.ok else f"[red]{r.breach_count}[/]"
            table.add_row(terminal(r.name), str(r.checked), mark, "\n".join(map(terminal, r.breaches)))
        console.print(table)
    if not all(r.ok for r in results):
        raise typer.Exit(1)
