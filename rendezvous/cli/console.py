"""One console for every command: full width when piped, so tables stay readable in logs.

`errors` is the same on stderr: progress and failure messages, so that stdout holds only the
answer (and, with --json, only JSON).
"""

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from rendezvous.printing import terminal

console = Console(width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def print_json(payload: Any) -> None:
    """The answer of a --json command on stdout (dates and other values as text)."""
    typer.echo(json.dumps(payload, indent=2, default=str))


def fail(message: str, code: int = 1, json_out: bool = False) -> typer.Exit:
    """A refusal or failure, for ``raise fail(...)``: the message on stderr, escaped, and with
    --json also ``{"error": message}`` on stdout, so that stdout is JSON whatever happened."""
    if json_out:
        typer.echo(json.dumps({"error": message}))
    errors.print(f"[red]{terminal(message)}[/]")
    return typer.Exit(code)
