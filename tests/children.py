"""Processes that tests kill: `rendezvous score` in a session of its own, so one SIGKILL to its
process group takes whatever it started too."""

from __future__ import annotations

import subprocess
import sys


def start_scoring(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rendezvous.cli", "score"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
