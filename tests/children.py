"""Processes that tests kill: `rendezvous score` in a session of its own, so one SIGKILL to its
process group takes whatever it started too."""

from __future__ import annotations

import subprocess
import sys
from typing import IO


def start_scoring(env: dict[str, str], stderr: IO[bytes] | None = None) -> subprocess.Popen:
    """``stderr``: a file for what the process says (default: discarded)."""
    return subprocess.Popen(
        [sys.executable, "-m", "rendezvous.cli", "score"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr or subprocess.DEVNULL,
        start_new_session=True,
    )
