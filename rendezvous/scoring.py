"""Score rows with a registered model: the one piece of code every role's bin shares."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from rendezvous.classes import classes_of
from rendezvous.registry import ModelRecord

SCORE_COLUMNS = ["request_id", "score", "label"]


class ModelInputError(Exception):
    """The model cannot take the rows: features they lack, or values it cannot score (a column
    typed otherwise than it learned it, say)."""


def score_frame(
    estimator: Any, record: ModelRecord, frame: pd.DataFrame, id_column: str
) -> pd.DataFrame:
    """request_id, score (probability of the positive class, or the prediction) and label."""
    missing = [name for name in record.feature_names if name not in frame.columns]
    if missing:
        raise ModelInputError(
            f"model {record.version} expects features the batch does not have: {', '.join(missing)}"
        )
    ids = frame[id_column].astype("str").array  # Arrow-backed text stays so: no Python str per row
    if frame.empty:
        return pd.DataFrame({"request_id": ids, "score": np.array([], dtype=float), "label": ids})
    features = frame[record.feature_names]
    if record.kind == "classifier":
        proba = estimator.predict_proba(features)
        # spelled as the classes recorded at registration, which stored outcomes follow
        classes = pa.array(classes_of(estimator).names, pa.string())
        score = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
        labels = classes.take(proba.argmax(axis=1)).to_pandas().array  # Arrow text: no str per row
    else:
        score = np.asarray(estimator.predict(features), dtype=float)
        labels = np.full(len(score), None, dtype=object)
    return pd.DataFrame({"request_id": ids, "score": score.astype(float), "label": labels})
