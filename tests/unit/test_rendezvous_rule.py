"""The rendezvous rule on inline answers: per row the first model in order with a finite score;
a row no model answered keeps every model's reason; isolating the rows a model raises on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rendezvous.containment import score_contained
from rendezvous.response_policy import NOT_IN_TIME, choose, every_row_answered
from rendezvous.scoring import ModelInputError
from rendezvous.served_by import fell_back

ORDER = ("live", "canary")


def _answer(version: str, scores: list[float], errors: list[str | None] | None = None) -> pd.DataFrame:
    n = len(scores)
    return pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "score": scores,
            "label": [1 if s == s and s > 0.5 else 0 for s in scores],
            "model_version": version,
            "error": errors or [None] * n,
        }
    )


def test_each_row_is_served_by_the_first_model_with_a_finite_score() -> None:
    live = _answer("v2", [0.9, np.nan, np.inf, np.nan], [None, None, None, "ValueError: bad row"])
    canary = _answer("v1", [0.1, 0.2, 0.3, 0.4])

    choice = choose(ORDER, {"live": live, "canary": canary}, 4)

    assert choice.response["served_by"].tolist() == ["live", "canary", "canary", "canary"]
    assert choice.response["model_version"].tolist() == ["v2", "v1", "v1", "v1"]
    assert choice.response["score"].tolist() == [0.9, 0.2, 0.3, 0.4]
    assert choice.response["label"].dtype == np.int64  # labels keep the models' own type
    assert choice.served_by == {"live": 1, "canary": 3}
    assert choice.unanswered == {} and choice.late == 0


def test_the_order_of_preference_is_the_settings_not_the_answers() -> None:
    answers = {"live": _answer("v2", [0.9, 0.8]), "canary": _answer("v1", [0.1, 0.2])}

    assert choose(("canary", "live"), answers, 2).response["served_by"].tolist() == ["canary", "canary"]
    assert choose(("live",), answers, 2).served_by == {"live": 2}


def test_a_row_no_model_answered_keeps_each_models_reason() -> None:
    live = _answer("v2", [0.9, np.nan], [None, "ZeroDivisionError: x"])
    canary = _answer("v1", [0.1, np.nan])

    choice = choose(ORDER, {"live": live, "canary": canary}, 2)

    assert choice.response.index.tolist() == [0]
    assert {role: reasons.to_dict() for role, reasons in choice.unanswered.items()} == {
        "live": {1: "ZeroDivisionError: x"},
        "canary": {1: "score is nan"},
    }


def test_rows_served_past_a_pending_preferred_model_are_late() -> None:
    canary = _answer("v1", [0.1, 0.2, np.nan])

    choice = choose(ORDER, {"canary": canary}, 3, pending=("live",))

    assert choice.served_by == {"live": 0, "canary": 2} and choice.late == 2
    assert choice.unanswered["live"].to_dict() == {2: NOT_IN_TIME}
    assert choice.unanswered["canary"].to_dict() == {2: "score is nan"}
    # the preferred model in hand, a less preferred one pending: nothing is late
    assert choose(ORDER, {"live": _answer("v2", [0.5])}, 1, pending=("canary",)).late == 0


def test_every_row_answered_and_fell_back() -> None:
    assert not every_row_answered([_answer("v2", [0.9, np.nan])], 2)
    assert every_row_answered([_answer("v2", [0.9, np.nan]), _answer("v1", [np.nan, 0.3])], 2)
    assert not fell_back({"live": 5}, 0, ORDER)
    assert fell_back({"live": 4, "canary": 1}, 0, ORDER)
    assert fell_back({"live": 5}, 5, ORDER)


def _scorer(bad: set[int], calls: list[int]):
    """Scores column x; raises on a slice holding any row whose x is in ``bad``."""

    def score(rows: pd.DataFrame) -> pd.DataFrame:
        calls.append(len(rows))
        if bad & set(rows["x"]):
            raise ValueError(f"cannot score {sorted(bad & set(rows['x']))}")
        return pd.DataFrame({"request_id": rows["x"].astype(str), "score": rows["x"] / 10.0, "label": None})

    return score


def test_halving_isolates_the_rows_a_model_raises_on() -> None:
    frame = pd.DataFrame({"x": range(8)}, index=range(100, 108))  # row numbers of the file
    calls: list[int] = []

    scored, errors = score_contained(_scorer({5}, calls), frame, max_calls=64)

    assert errors.notna().tolist() == [i == 5 for i in range(8)]
    assert errors[5] == "ValueError: cannot score [5]"
    assert scored["score"].isna().tolist() == [i == 5 for i in range(8)]
    assert scored["score"].iloc[7] == pytest.approx(0.7)
    assert len(calls) == 7  # 8, then 4+4, 2+2, 1+1: the clean halves are scored once


def test_a_model_failing_every_row_costs_at_most_its_budget() -> None:
    frame = pd.DataFrame({"x": range(1000)})
    calls: list[int] = []

    scored, errors = score_contained(_scorer(set(range(1000)), calls), frame, max_calls=16)

    assert len(calls) == 16
    assert errors.notna().all() and scored["score"].isna().all()


def test_missing_features_fail_the_chunk_without_halving() -> None:
    calls: list[int] = []

    def score(rows: pd.DataFrame) -> pd.DataFrame:
        calls.append(len(rows))
        raise ModelInputError("model v1 expects features the batch does not have: age")

    _, errors = score_contained(score, pd.DataFrame({"x": range(10)}), max_calls=64)

    assert calls == [10]
    assert (errors == "ModelInputError: model v1 expects features the batch does not have: age").all()
