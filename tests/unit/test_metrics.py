"""Model figures on classes that are not the demo's "0"/"1": text with spaces, a missing label
(the model raised on that row), a positive class no row has. Compared with scikit-learn on the
text itself, which is what the class codes stand in for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from rendezvous.metrics import classification_figures

OUTCOME = pd.Series(["grand cru", "table", "table", "grand cru", "table"], dtype="str")
LABEL = pd.Series(["grand cru", "table", "grand cru", None, "table"], dtype="str")
SCORE = pd.Series([0.9, 0.2, 0.6, 0.7, 0.1])


def test_figures_on_text_classes_match_scikit_learn_on_the_text() -> None:
    found = classification_figures(OUTCOME, SCORE, LABEL, positive="grand cru")
    y = (OUTCOME == "grand cru").to_numpy()
    assert found["accuracy"] == accuracy_score(OUTCOME, LABEL.fillna("(none)")) == pytest.approx(3 / 5)
    assert found["roc_auc"] == pytest.approx(roc_auc_score(y, SCORE))
    assert found["log_loss"] == pytest.approx(log_loss(y, SCORE))
    assert found["positive_rate"] == pytest.approx(2 / 5)


def test_a_positive_class_no_row_has_is_never_matched_by_a_missing_value() -> None:
    outcome = pd.Series(["table", None, "sweet"], dtype="str")
    found = classification_figures(outcome, pd.Series([0.1, 0.5, 0.2]), pd.Series([None] * 3), "grand cru")
    assert found["positive_rate"] == 0.0
    assert found["roc_auc"] is None
    assert np.isfinite(found["log_loss"])
