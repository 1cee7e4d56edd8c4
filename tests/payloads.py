"""Model files that do harm when loaded the unsafe way: real pickle payloads, and a user type
whose construction from a file leaves a mark. Tests use them to show what never happens."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class ShellPayload:
    """Unpickling this runs a shell command (here: creates the marker file)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (f"touch '{self.marker}'",)


class SelfPromotion:
    """Unpickling this makes version ``version`` live by an UPDATE on the store."""

    def __init__(self, database_url: str, version: str) -> None:
        self.database_url, self.version = database_url, version

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        code = (
            "import sqlalchemy as sa\n"
            f"with sa.create_engine({self.database_url!r}).begin() as c:\n"
            "    c.execute(sa.text(\"UPDATE models SET role = 'retired' WHERE role = 'live'\"))\n"
            f"    c.execute(sa.text(\"UPDATE models SET role = 'live' WHERE version = {self.version!r}\"))\n"
        )
        return exec, (code,)


class Scale(TransformerMixin, BaseEstimator):
    """A user's own transformer: a type outside scikit-learn, numpy and scipy. Building it from
    a file runs ``__setstate__``, which here leaves a marker to show that it was built."""

    def __init__(self, factor: float = 2.0, marker: str = "") -> None:
        self.factor, self.marker = factor, marker

    def fit(self, X: Any, y: Any = None) -> Scale:
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X: Any) -> Any:
        return X * self.factor

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("marker"):
            Path(state["marker"]).touch()
        self.__dict__.update(state)


SCALE = f"{Scale.__module__}.{Scale.__qualname__}"
