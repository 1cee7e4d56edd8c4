"""Run the CLI in a fresh process and learn which heavy packages it imported (from ``sys.modules``:
a behaviour, not a timing)."""

from __future__ import annotations

import json
import sys

HEAVY = ("prefect", "scipy", "sklearn", "great_expectations", "flows", "tasks")

_PROBE = """
import json, sys
from rendezvous.cli.app import app
try:
    app(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
else:
    code = 0
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
sys.exit(code)
"""


def probe_argv(*args: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """The command line that runs ``rendezvous *args`` and prints, last on stderr, what it imported."""
    return [sys.executable, "-c", _PROBE.format(heavy=heavy), *args]


def imported(stderr: str) -> list[str]:
    """The heavy packages a probed run imported, from its stderr."""
    return json.loads(stderr.strip().splitlines()[-1])
