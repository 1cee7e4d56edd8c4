"""Quarantine lines: one per (row, failed rule), with the offending value as text.

Every line, whoever sets a row aside (the contract, the reader, the id checks, the reference
join, a rejected batch), is built by ``lines_for`` here, so the schema is written once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

BATCH_REJECTED = "batch_rejected"
QUARANTINE_COLUMNS = ["row", "request_id", "column", "rule", "value"]

Text = str | None | pd.Series | np.ndarray | Sequence[str | None]
"""One text for every line, or one per line."""


def _repeat(text: str | None, n: int) -> pd.Series:
    """``n`` copies of one string (10x faster than from a list at a million rows)."""
    return pd.Series([text], dtype="str").repeat(n).reset_index(drop=True)


def _as_text(values: Text, n: int) -> pd.Series:
    """Values as strings, missing kept missing (NaN/None -> null, inf -> 'inf')."""
    if values is None or isinstance(values, str):
        return _repeat(values, n)
    series = values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(series.dtype, pd.StringDtype):
        return series
    return series.astype(object).astype("str")


def lines_for(
    row: Sequence[int | None] | pd.Index | np.ndarray,
    request_id: Text,
    column: Text,
    rule: Text,
    value: Text,
) -> pd.DataFrame:
    """Quarantine lines, one per entry of ``row`` (the row's number in the file, None when the
    line never became a row); the other fields are one text for all lines or one per line."""
    n = len(row)
    return pd.DataFrame(
        {
            "row": pd.array(np.asarray(row), dtype="Int64"),
            "request_id": _as_text(request_id, n),
            "column": _as_text(column, n),
            "rule": _as_text(rule, n),
            "value": _as_text(value, n),
        }
    )


def of_rows(
    rows: pd.DataFrame, id_column: str, rule: Text, column: str | None = None, value: Text = None
) -> pd.DataFrame:
    """Lines for every row of ``rows`` (its index holds the row numbers), with the id as sent;
    the value is ``value``, else the row's ``column`` as sent."""
    ids = rows[id_column] if id_column in rows.columns else None
    shown = rows[column] if value is None and column in rows.columns else value
    return lines_for(rows.index, ids, column, rule, shown)


def empty() -> pd.DataFrame:
    """A quarantine with no lines and the right dtypes."""
    return lines_for([], None, None, None, None)


def failures(positions: np.ndarray, column: str | None, rule: str) -> pd.DataFrame:
    """Failing row positions of one rule, before values and ids are looked up."""
    n = len(positions)
    return pd.DataFrame(
        {
            "pos": np.asarray(positions, dtype=np.int64),
            "column": _repeat(column, n),
            "rule": _repeat(rule, n),
        }
    )


def no_failures() -> pd.DataFrame:
    return failures(np.array([], dtype=np.int64), None, "")


def lines(df: pd.DataFrame, id_column: str, found: pd.DataFrame, value: str | None = None) -> pd.DataFrame:
    """Quarantine lines for ``found`` failures of ``df`` (positions -> index values, ids, values).

    Values come from ``df`` as it arrived, so a wrong-typed number shows what was sent. ``value``
    replaces them (used for whole-batch rejections, whose "value" is the reason).
    """
    pos = found["pos"].to_numpy(dtype=np.int64)
    ids = df[id_column].iloc[pos] if id_column in df.columns else None
    out = lines_for(df.index.to_numpy()[pos], ids, found["column"], found["rule"], value)
    if value is None:
        for column, where in found.groupby("column", sort=False).indices.items():
            if column in df.columns:
                texts = _as_text(df[column].iloc[pos[where]], len(where)).to_numpy()
                out.loc[out.index[where], "value"] = texts
    return out.sort_values("row", kind="stable", ignore_index=True)
