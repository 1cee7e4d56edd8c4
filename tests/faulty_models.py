"""Models that misbehave on purpose, for the response policy's tests: a registered classifier
wrapped so that it raises on some rows, answers NaN for them, fails every row, or answers only
once the batch's response is out (late past any deadline, whatever the machine's speed).

Registered as skops files, trusting this type by name (``FAULTY``), as a user's own type is."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.base import BaseEstimator, ClassifierMixin

from rendezvous.registry import ModelRecord
from rendezvous.services import Services

LATE_AT_MOST_SECONDS = 120.0  # a late model that never sees its response stops waiting, then


class Faulty(ClassifierMixin, BaseEstimator):
    """``model``, except on rows whose ``feature`` is below ``below``: ``raise`` raises on a call
    holding any of them, ``nan`` answers NaN for them; ``late`` answers every row once the file
    ``wait_for`` exists (the batch's response)."""

    def __init__(
        self,
        model: Any = None,
        mode: str = "raise",
        feature: str = "",
        below: float = 0.0,
        wait_for: str = "",
    ) -> None:
        self.model, self.mode, self.feature, self.below, self.wait_for = model, mode, feature, below, wait_for

    def fit(self, X: Any, y: Any = None) -> Faulty:
        return self

    def hit(self, X: pd.DataFrame) -> np.ndarray:
        """The rows this model misbehaves on."""
        return (X[self.feature] < self.below).to_numpy(bool) if self.feature else np.zeros(len(X), bool)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if self.mode == "late":
            waited = time.monotonic()
            while not Path(self.wait_for).exists() and time.monotonic() - waited < LATE_AT_MOST_SECONDS:
                time.sleep(0.02)
        hit = self.hit(X)
        if self.mode == "raise" and hit.any():
            raise ValueError(f"cannot score {int(hit.sum())} of {len(X)} rows")
        proba = np.asarray(self.model.predict_proba(X), dtype=float)
        if self.mode == "nan":
            proba[hit] = np.nan
        return proba

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


FAULTY = f"{Faulty.__module__}.{Faulty.__qualname__}"


def register_faulty(
    services: Services, wrapped: ModelRecord, role: str, version: str, folder: Path, **how: Any
) -> ModelRecord:
    """Register ``wrapped`` misbehaving as ``how`` says (``Faulty``'s parameters) under ``role``."""
    model = services.registry.load(wrapped)
    faulty = Faulty(model, **how)
    faulty.classes_, faulty.feature_names_in_ = model.classes_, model.feature_names_in_
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{version}.skops"
    sio.dump(faulty, path)
    return services.registry.register(
        path, role, version=version, trust_types=[*wrapped.trusted_types, FAULTY]
    )
