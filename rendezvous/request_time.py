"""Request time: when a request was made (the timestamp column), not when it was scored.

One rule for every place that files rows by time (the dev copy's date partitions, performance
per day or week, the batch's request-time range): the timestamp column when one is set and the
row's value parses, scoring time when no column is set. A value that is present but does not
parse is never filed under today: the pipeline quarantines it under ``UNPARSABLE_TIMESTAMP``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from rendezvous.per_distinct import per_distinct

UNPARSABLE_TIMESTAMP = "unparsable_timestamp"
REQUEST_TIME = "request time"
SCORING_TIME = "scoring time"


def parsed(values: pd.Series) -> pd.Series:
    """UTC timestamps, NaT where a value is missing or does not parse (timezone-naive: UTC)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True)
    text = values.astype("str").where(values.notna())
    return pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")


def unparsable(frame: pd.DataFrame, column: str | None) -> pd.Series:
    """Per row: is a timestamp there that does not parse? (All False without a column.)"""
    if column is None or column not in frame.columns:
        return pd.Series(False, index=frame.index, dtype=bool)
    return frame[column].notna() & parsed(frame[column]).isna()


def partition_dates(frame: pd.DataFrame, column: str | None) -> pd.Series:
    """The day each row is filed under: its request day, or today (UTC) without a request time."""
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    if column is None or column not in frame.columns:
        return pd.Series(today, index=frame.index, dtype="str")
    days = per_distinct(parsed(frame[column]).dt.floor("D"), lambda day: day.strftime("%Y-%m-%d"), today)
    return pd.Series(days, index=frame.index, dtype="str")


def time_basis(column: str | None) -> str:
    """What a time axis means under these settings, to say beside it."""
    return f"{REQUEST_TIME} ({column})" if column else SCORING_TIME


def request_range(frame: pd.DataFrame, column: str | None) -> dict[str, str | None]:
    """The earliest and latest request time of these rows, ISO 8601 (None without any): kept in
    the batch's lineage, so a batch's time span is known without reading its rows again."""
    stamps = parsed(frame[column]).dropna() if column and column in frame.columns else pd.Series()
    if stamps.empty:
        return {"from": None, "to": None}
    return {"from": stamps.min().isoformat(), "to": stamps.max().isoformat()}
