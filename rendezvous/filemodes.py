"""State files readable by their owner only (0600, folders 0700), or shared with a group (0660,
folders 0770): the store, the raw archive and model files hold requests and code that runs.

Set as the process's umask when the services are built, so every file any step creates (SQLite,
archive, models, outbox, dev copy, Prefect's own files) is covered, whoever creates it. Secrets
(the server's API credential, a private key) are 0600 whatever the setting: ``write_private``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the trust commands write keys without building settings
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


def write_private(path: Path, data: bytes, overwrite: bool = True) -> None:
    """Write a secret readable by this user only: created 0600 whatever the umask, never widened.

    Written beside ``path`` and renamed over it, so a reader sees the old or the new bytes whole;
    without ``overwrite``, ``path`` itself is created and one that exists is FileExistsError.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(f"{path.name}.tmp") if overwrite else path
    if overwrite:
        target.unlink(missing_ok=True)
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(data)
    if overwrite:
        target.replace(path)
