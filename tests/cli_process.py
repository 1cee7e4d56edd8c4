"""The CLI in a fresh process, as a user's shell runs it, and which heavy packages it imported
(from ``sys.modules``: a behaviour, not a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

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


def run_cli(env: dict[str, str], *args: str, probe: bool = False) -> subprocess.CompletedProcess[str]:
    """``rendezvous *args`` from the clone, which must exit 0; with ``probe``, its stderr ends with
    the heavy packages (and pandas) it imported."""
    argv = (
        probe_argv(*args, heavy=(*HEAVY, "pandas")) if probe else [sys.executable, "-m", "rendezvous", *args]
    )
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done
