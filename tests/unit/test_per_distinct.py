"""Worked out once per distinct value, the answers are those of a call per row: for timestamps
with offsets and garbage, integer and boolean classes, and rows a model left without a label."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier

from rendezvous.per_distinct import per_distinct
from rendezvous.pipeline import _response_labels
from rendezvous.request_time import partition_dates, request_times


def test_each_value_gets_its_answer_and_missing_values_the_fallback() -> None:
    values = pd.Series([7, None, 3, 7, 11, None], dtype="Int64")
    got = per_distinct(values, lambda v: v * 10, missing="none")
    assert got.tolist() == [70, "none", 30, 70, 110, "none"]


def test_partition_days_are_the_request_days_in_utc_and_today_without_one() -> None:
    stamps = pd.Series(
        [
            "2026-11-30T23:30:00-02:00",
            "2026-12-01T01:00:00+05:00",
            "not a time",
            None,
            "2026-12-01T00:00:00Z",
        ],
        dtype=object,
        index=[10, 11, 12, 13, 14],  # a chunk's rows: not numbered from 0
    )
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    days = partition_dates(request_times(pd.DataFrame({"at": stamps}), "at"))
    assert days.tolist() == ["2026-12-01", "2026-11-30", today, today, "2026-12-01"]
    assert days.index.tolist() == [10, 11, 12, 13, 14]


def test_response_labels_are_the_models_own_classes_integer_or_boolean() -> None:
    for classes in ([3, 7, 11], [False, True]):
        model = DummyClassifier(strategy="prior").fit(np.zeros((len(classes), 1)), classes)
        text = [str(c) for c in classes]
        scored = pd.DataFrame({"label": pd.Series([text[-1], text[0], text[-1]], dtype="str")})
        labels = _response_labels(model, scored)
        assert labels.tolist() == [classes[-1], classes[0], classes[-1]]
        assert labels.dtype == np.asarray(classes).dtype  # integers stay integers, booleans booleans
        scored.loc[1, "label"] = None  # a row the model did not score has no label
        assert _response_labels(model, scored).tolist() == [classes[-1], None, classes[-1]]
