"""The one way a setting names code to run: 'module:function', resolved by ``pkgutil.resolve_name``.

The current working directory is searched too, last and only while the name is resolved, so a
preprocess step or a training recipe kept in a file beside the data (``my_steps.py`` ->
``my_steps:clean``) imports without being installed, while an installed module of the same name
still wins. Modules that file imports at its top are found the same way; one it imports later,
inside a function, must be installed or on PYTHONPATH.
"""

from __future__ import annotations

import os
import pkgutil
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_path_lock = threading.RLock()


class ImportPathError(ValueError):
    """A setting names code that cannot be loaded; the message names the setting and the fix."""


def load_callable(spec: str, setting: str) -> Callable[..., Any]:
    """The function (or class) that ``setting`` names as 'module:function'."""
    try:
        with _cwd_searched():
            found = pkgutil.resolve_name(spec)
    except Exception as exc:  # whatever the module raised while importing: report it, keep the cause
        raise ImportPathError(
            f"{setting}={spec!r} cannot be loaded ({type(exc).__name__}: {exc}); name a function as "
            "'module:function' of an installed module or of a .py file in the working directory"
        ) from exc
    if not callable(found):
        raise ImportPathError(f"{setting}={spec!r} names a {type(found).__name__}, not a function")
    return found


@contextmanager
def _cwd_searched() -> Iterator[None]:
    """The working directory last on ``sys.path`` for the duration (held under a lock, so
    concurrent loads never see it removed under them)."""
    with _path_lock:
        cwd = os.getcwd()
        added = cwd not in sys.path and "" not in sys.path
        if added:
            sys.path.append(cwd)
        try:
            yield
        finally:
            if added and cwd in sys.path:
                sys.path.remove(cwd)
