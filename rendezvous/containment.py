"""A model that raises on a chunk is asked again on halves of it, to find the rows it cannot score.

One bad row must not cost the other rows of its chunk their score from that model: the slices
that still raise are halved again, breadth first, until each raising slice is one row or the
budget of calls is spent; the rows left are the model's errors, each with what it raised.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import pandas as pd

from rendezvous.scoring import SCORE_COLUMNS, ModelInputError


def score_contained(
    score: Callable[[pd.DataFrame], pd.DataFrame], frame: pd.DataFrame, max_calls: int
) -> tuple[pd.DataFrame, pd.Series]:
    """Per row of ``frame`` (in its order): the score columns (missing where the model raised)
    and the error it raised (None where it scored); ``score`` is called at most ``max_calls``
    times. Missing features (``ModelInputError``) fail every row at once: no slice would do better."""
    positions = pd.RangeIndex(len(frame))
    parts: list[pd.DataFrame] = []
    errors = pd.Series(None, index=positions, dtype=object)
    todo: deque[tuple[int, int]] = deque([(0, len(frame))])
    calls = 0
    while todo:
        start, stop = todo.popleft()
        if calls >= max_calls:  # the budget is spent: these rows keep the error of their slice
            continue
        calls += 1
        try:
            scored = score(frame.iloc[start:stop])
        except ModelInputError as exc:  # features missing: no slice would do better
            for first, last in [(start, stop), *todo]:
                errors.iloc[first:last] = _describe(exc)
            todo.clear()
            continue
        except Exception as exc:  # a model's own code raises anything: it is its answer here
            if stop - start <= 1:
                errors.iloc[start:stop] = _describe(exc)
            else:
                middle = (start + stop) // 2
                todo.extend([(start, middle), (middle, stop)])
                errors.iloc[start:stop] = _describe(exc)  # kept for rows the budget leaves
            continue
        errors.iloc[start:stop] = None
        parts.append(scored.set_axis(positions[start:stop]))
    found = pd.concat(parts) if parts else pd.DataFrame(columns=SCORE_COLUMNS)
    return found.reindex(positions), errors


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
