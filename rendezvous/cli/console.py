"""One console for every command: full width when piped, so tables stay readable in logs."""

import sys

from rich.console import Console

console = Console(width=None if sys.stdout.isatty() else 160)
