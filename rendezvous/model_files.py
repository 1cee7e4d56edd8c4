"""Model files: skops, which loads without running code, and the one door joblib comes in by.

A joblib file is a pickle: loading it runs whatever code it names. A skops file is a zip of
plain data plus the names of the types to rebuild, and ``skops.io`` builds only the types it
is told to trust. So the store holds skops files, each with the list of types it needs
(recorded at registration), and every load trusts exactly that list. Types outside
scikit-learn, numpy and scipy are the ones a person has to vouch for by name.

``skops.io``, joblib and scikit-learn are imported where they are used: skops pulls in scipy and
takes seconds, which commands that never load a model (status, models list) must not pay.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Collection, Iterable
from pathlib import PurePath
from typing import Any

SKOPS_SUFFIX = ".skops"
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
REVIEWED_PACKAGES = ("sklearn", "numpy", "scipy")
# functools.partial only binds a function to arguments (skops rebuilds it without calling it);
# the function it binds is a type of its own in the list, judged by its package.
REVIEWED_TYPES = ("functools.partial",)

PICKLE_WARNING = (
    "{source} is a joblib/pickle file: loading it runs any code it contains, with your "
    "permissions. Go on only if you made this file or trust whoever did. It is loaded once, here, "
    "and stored as skops; no worker or flow ever unpickles it."
)


class ModelFileError(Exception):
    """A model file is not what it must be (format, types); the message says why."""


def is_skops(path: str | PurePath) -> bool:
    return str(path).lower().endswith(SKOPS_SUFFIX)


def needs_approval(types: Iterable[str]) -> list[str]:
    """The types outside scikit-learn, numpy and scipy: their code is not the ML stack's."""
    return sorted(
        name
        for name in types
        if name not in REVIEWED_TYPES and name.split(".", 1)[0] not in REVIEWED_PACKAGES
    )


def types_needed(data: bytes) -> list[str]:
    """The types a skops file needs beyond skops's defaults, read without building anything."""
    import skops.io as sio

    try:
        return sorted(sio.get_untrusted_types(data=data))
    except Exception as exc:  # a torn zip, a foreign file, a schema skops cannot read
        raise ModelFileError(f"not a readable skops file ({type(exc).__name__}: {exc})") from exc


def unvouched(types: Iterable[str], trusted: Collection[str]) -> list[str]:
    """Types needing approval that nobody named."""
    return [name for name in needs_approval(types) if name not in set(trusted)]


def load_skops(data: bytes, recorded: Collection[str]) -> tuple[Any, str]:
    """The estimator in a skops file, trusting exactly the ``recorded`` types, and the
    scikit-learn version it was saved with. A file needing any other type, or not needing a
    recorded one (the record and the file disagree), is refused before anything is built."""
    found = set(types_needed(data))
    expected = set(recorded)
    if found != expected:
        extra, absent = sorted(found - expected), sorted(expected - found)
        parts = [f"needs types not recorded at registration: {', '.join(extra)}"] if extra else []
        parts += [f"lacks recorded types: {', '.join(absent)}"] if absent else []
        raise ModelFileError(f"the file and its registry record disagree: it {'; it '.join(parts)}")
    import skops.io as sio

    try:
        return _saved_with(lambda: sio.loads(data, trusted=sorted(expected)))
    except Exception as exc:  # the types were fine, the content is not
        raise ModelFileError(f"the skops file cannot be loaded ({type(exc).__name__}: {exc})") from exc


def to_skops(estimator: Any) -> bytes:
    import skops.io as sio

    return sio.dumps(estimator)


def types_of(estimator: Any) -> list[str]:
    """The types an estimator in memory will need once stored as skops."""
    return types_needed(to_skops(estimator))


def unpickle_own_file(data: bytes) -> tuple[Any, str]:
    """Load a joblib file in the process of the person registering it (see PICKLE_WARNING).

    The only joblib load in the project: the registration and conversion commands call it;
    workers and flows load skops files only.
    """
    import joblib

    try:
        return _saved_with(lambda: joblib.load(io.BytesIO(data)))
    except Exception as exc:
        raise ModelFileError(f"not a loadable joblib file ({type(exc).__name__}: {exc})") from exc


def _saved_with(load: Any) -> tuple[Any, str]:
    """Run ``load`` and report the scikit-learn version the estimator was saved with."""
    import sklearn
    from sklearn.exceptions import InconsistentVersionWarning

    saved_with = sklearn.__version__
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InconsistentVersionWarning)
        estimator = load()
    for warning in caught:
        if isinstance(warning.message, InconsistentVersionWarning):
            saved_with = warning.message.original_sklearn_version
    return estimator, saved_with
