"""The one spelling of a class, which makes outcomes and predicted labels comparable as text.

A classifier's classes are recorded at registration as text (``render_class``) with the
positive class, the one whose probability the score is. Predicted labels are written with
the same spelling (``rendezvous.scoring``), and outcomes are normalised against the scoring
model's classes when they are stored (``rendezvous.promotion.labels``): once, when written.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rendezvous.per_distinct import per_distinct

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from rendezvous.registry import Registry

_EXACT_INTEGER = 2**53
"""Floats beyond this are not written as integers: they are not exact, and int64 overflows."""
_TRUE, _FALSE = {"true", "1"}, {"false", "0"}


def render_class(value: Any) -> str:
    """The text of a class or an outcome: 1, 1.0, np.float64(1.0) are "1"; True is "True"."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isfinite(number) and number.is_integer() and abs(number) < _EXACT_INTEGER:
            return str(int(number))
        return repr(number)
    return str(value).strip()


@dataclass(frozen=True)
class Classes:
    """A classifier's classes as text, and the class its score is the probability of."""

    names: tuple[str, ...]
    positive: str | None

    def to_metadata(self) -> dict[str, Any]:
        return {"classes": list(self.names), "positive_class": self.positive}


def classes_of(estimator: Any) -> Classes:
    """A fitted classifier's classes; binary ones score ``classes_[-1]`` (``predict_proba[:, 1]``)."""
    names = tuple(render_class(c) for c in estimator.classes_)
    return Classes(names, names[-1] if len(names) == 2 else None)


def model_classes(metadata: dict[str, Any] | None, load: Callable[[], Any]) -> Classes:
    """The classes recorded at registration; a model registered before they were recorded is
    loaded (``load``) and read from its ``classes_``, the positive class being the last one."""
    meta = metadata or {}
    if "classes" in meta:
        return Classes(tuple(meta["classes"]), meta.get("positive_class"))
    return classes_of(load())


def _rendered(values: pd.Series) -> pd.Series:
    """``render_class`` of each value, NA kept; once per distinct value where values are typed
    (a million labels repeat two classes). An object column is rendered value by value: hashing
    would take True and 1 for one value, and they are two classes."""
    if values.dtype == object:
        return values.map(render_class, na_action="ignore").astype("str")
    return pd.Series(per_distinct(values, render_class), index=values.index).astype("str")


def outcome_text(values: pd.Series) -> pd.Series:
    """Outcomes as read from a file, as stripped text (booleans "True"/"False"); blanks are NA."""
    text = _rendered(values)
    return text.mask(text == "")


def _number_text(text: pd.Series) -> pd.Series:
    """Each number's one spelling ("1.0" -> "1", "1e20" -> "1e+20"); NA where not a finite number."""
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    return _rendered(numbers.where(np.isfinite(numbers)))


def normalise_outcomes(outcome: pd.Series, classes: Classes | None) -> tuple[pd.Series, pd.Series]:
    """(outcome spelled as the model's class, reason for those that cannot be), by position.

    ``classes`` None means a regressor: the outcome must be a finite number. A classifier's
    outcome must be one of its classes, spelled as given or as the same number ("1.0" for the
    class 1 or 1.0) or, for boolean classes, as true/false or 1/0 in any case.
    """
    text = outcome.astype("str").str.strip()
    numbers = _number_text(text)
    if classes is None:
        out, why = numbers, "not_a_number"
    else:
        known = set(classes.names)
        out = text.where(text.isin(known)).fillna(numbers.where(numbers.isin(known)))
        if known == {"True", "False"}:
            lower = numbers.fillna(text).str.lower()
            spelled = np.where(lower.isin(_TRUE), "True", np.where(lower.isin(_FALSE), "False", None))
            out = out.fillna(pd.Series(spelled, index=lower.index))
        why = "not_a_class"
    reason = pd.Series(None, index=outcome.index, dtype="object").mask(out.isna(), why)
    return out.astype("str"), reason


def recorded_classes(
    registry: Registry, versions: Iterable[str], conn: Connection | None = None
) -> dict[str, Classes | None]:
    """Each model version's classes as recorded (None for a regressor)."""
    out: dict[str, Classes | None] = {}
    for version in versions:
        record = registry.get(version, conn)
        out[version] = (
            model_classes(record.metadata, lambda record=record: registry.load(record))
            if record.kind == "classifier"
            else None
        )
    return out
