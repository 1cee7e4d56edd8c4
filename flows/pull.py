"""The pull step of prefect.yaml: a worker runs the flows from the clone it was installed from.

`pip install -e .` (what `make install` does) ties the worker's Python to one clone, so the clone
is known without configuration; RENDEZVOUS_PROJECT_DIR overrides it (a clone elsewhere). Prefect's
own `set_working_directory` would need the variable set on every worker, or bake the deploying
machine's path into the deployment.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def enter_project(directory: str | None = None) -> dict[str, str]:
    """Change into the project clone; returns it as ``directory`` (as Prefect's steps do)."""
    target = Path(directory or os.environ.get("RENDEZVOUS_PROJECT_DIR") or PROJECT_ROOT)
    if not (target / "prefect.yaml").is_file():
        raise FileNotFoundError(f"{target} is not a rendezvous clone (no prefect.yaml in it)")
    os.chdir(target)
    return {"directory": str(target.resolve())}
