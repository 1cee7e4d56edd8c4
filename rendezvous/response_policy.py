"""The rendezvous: per request, the response comes from the most preferred model that answered.

Every model scores the same rows; what each said (a score, or the error it raised) is an
``answer`` frame, one row per request in the chunk's order. A row's response is the first model
in the order of preference with a valid score (finite: NaN and infinities are not scores). A row
no model answered is not dropped: the caller quarantines it with every model's reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ANSWER_COLUMNS = ["request_id", "score", "label", "model_version", "error"]
NO_MODEL_ANSWERED = "no_model_answered"
NOT_IN_TIME = "did not answer by the response deadline"


@dataclass(frozen=True)
class Choice:
    """Who answers each row of a chunk: ``response`` (the answer columns but ``error``, plus
    ``served_by``) for the answered rows, and for the others each model's reason."""

    response: pd.DataFrame
    unanswered: dict[str, pd.Series] = field(default_factory=dict)
    served_by: dict[str, int] = field(default_factory=dict)
    late: int = 0


def valid_scores(answer: pd.DataFrame) -> np.ndarray:
    """Rows the model answered: it did not raise, and its score is a finite number."""
    score = pd.to_numeric(answer["score"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.isfinite(score) & answer["error"].isna().to_numpy(bool)


def every_row_answered(answers: Iterable[pd.DataFrame], rows: int) -> bool:
    """Whether each of the ``rows`` rows has a valid score in one of these answers."""
    answered = np.zeros(rows, dtype=bool)
    for answer in answers:
        answered |= valid_scores(answer)
    return bool(answered.all())


def why_not(answer: pd.DataFrame) -> pd.Series:
    """Per row, why this model's answer cannot serve it (None where it can)."""
    reasons = answer["error"].astype(object).copy()
    invalid = ~valid_scores(answer) & answer["error"].isna().to_numpy(bool)
    reasons[invalid] = [f"score is {score}" for score in answer["score"][invalid]]
    return reasons.where(~valid_scores(answer), None)


def choose(
    order: Sequence[str], answers: Mapping[str, pd.DataFrame], rows: int, pending: Sequence[str] = ()
) -> Choice:
    """The response of ``rows`` rows from the ``answers`` in hand, by ``order``; the roles still
    ``pending`` (past the deadline) neither serve nor wait. A row served by a model after a
    pending one in the order is served late: the preferred model might have answered it."""
    ranks = [role for role in order if role in answers]
    chosen = np.full(rows, -1)
    for rank, role in enumerate(ranks):
        chosen[(chosen < 0) & valid_scores(answers[role])] = rank
    served = [
        answers[role].loc[chosen == rank, ANSWER_COLUMNS[:-1]].assign(served_by=role)
        for rank, role in enumerate(ranks)
    ]
    response = pd.concat(served).sort_index() if served else pd.DataFrame(columns=ANSWER_COLUMNS[:-1])
    response["label"] = response["label"].infer_objects()
    missing = chosen < 0
    unanswered = {role: why_not(answers[role])[missing] for role in ranks} if missing.any() else {}
    waited = [role for role in order if role in pending]
    if missing.any():
        unanswered.update({role: pd.Series(NOT_IN_TIME, index=np.flatnonzero(missing)) for role in waited})
    first_pending = min((order.index(role) for role in waited), default=len(order))
    late_ranks = [rank for rank, role in enumerate(ranks) if order.index(role) > first_pending]
    counts = {role: int((chosen == rank).sum()) for rank, role in enumerate(ranks)}
    return Choice(
        response=response,
        unanswered=unanswered,
        served_by={role: counts.get(role, 0) for role in order if role in answers or role in pending},
        late=int(np.isin(chosen, late_ranks).sum()),
    )
