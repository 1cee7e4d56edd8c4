"""State files readable by their owner only (0600, folders 0700), or shared with a group (0660,
folders 0770): the store, the raw archive and model files hold requests and code that runs.

Set as the process's umask when the services are built, so every file any step creates (SQLite,
archive, models, outbox, dev copy, Prefect's own files) is covered, whoever creates it.
"""

from __future__ import annotations

import os
from pathlib import Path

from rendezvous.settings import Settings

UMASKS = {"private": 0o077, "group": 0o007}


def protect(settings: Settings) -> None:
    """Apply ``settings.file_mode`` to what this process creates from now on, and to the home."""
    umask = UMASKS[settings.file_mode]
    os.umask(umask)
    home = Path(settings.home)
    home.mkdir(parents=True, exist_ok=True, mode=0o777 & ~umask)
    if home.stat().st_uid == os.getuid():
        home.chmod(0o777 & ~umask)
