"""One spelling per class: registration, predicted labels and stored outcomes agree as text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from rendezvous.classes import Classes, classes_of, normalise_outcomes, render_class
from rendezvous.promotion.evaluation import transient_record
from rendezvous.scoring import score_frame


def _fitted(targets: np.ndarray) -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=len(targets))})
    ids = [str(i) for i in range(len(frame))]
    return LogisticRegression().fit(frame, targets), frame.assign(request_id=ids)


@pytest.mark.parametrize(
    ("targets", "names"),
    [
        (np.array([0.0, 1.0] * 20), ("0", "1")),
        (np.array([-1, 1] * 20), ("-1", "1")),
        (np.array([False, True] * 20), ("False", "True")),
        (np.array(["no", "yes"] * 20, dtype=object), ("no", "yes")),
    ],
)
def test_predicted_labels_are_spelled_as_the_recorded_classes(targets: np.ndarray, names: tuple) -> None:
    model, frame = _fitted(targets)
    assert classes_of(model) == Classes(names, names[1])
    labels = score_frame(model, transient_record(model, "m"), frame, "request_id")["label"]
    assert set(labels) <= set(names)


def test_large_numbers_keep_their_value() -> None:
    assert render_class(1e20) == "1e+20"
    assert render_class(np.float64(2.0**60)) == repr(2.0**60)
    assert render_class(np.int64(-9_223_372_036_854_775_808)) == "-9223372036854775808"
    spelled, reason = normalise_outcomes(pd.Series(["1e20", "1e400", "1"]), Classes(("0", "1"), "1"))
    assert reason.fillna("").tolist() == ["not_a_class", "not_a_class", ""]
    assert spelled.iloc[2] == "1"
