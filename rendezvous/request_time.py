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


def request_times(frame: pd.DataFrame, column: str | None) -> pd.Series:
    """Each row's request time in UTC: NaT where it is missing or does not parse, or without a
    column. Parsed once per chunk, for its range, its unparsable rows and its dev copy's days."""
    if column is None or column not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    return parsed(frame[column])


def unparsable(frame: pd.DataFrame, column: str | None, times: pd.Series) -> pd.Series:
    """Per row: is a timestamp there that did not parse into ``times``? (All False without a column.)"""
    if column is None or column not in frame.columns:
        return pd.Series(False, index=frame.index, dtype=bool)
    return frame[column].notna() & times.isna()


def partition_dates(times: pd.Series) -> pd.Series:
    """The day each row is filed under: its request day, or today (UTC) without a request time."""
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    days = per_distinct(times.dt.floor("D"), lambda day: day.strftime("%Y-%m-%d"), today)
    return pd.Series(days, index=times.index, dtype="str")


def time_basis(column: str | None) -> str:
    """What a time axis means under these settings, to say beside it."""
    return f"{REQUEST_TIME} ({column})" if column else SCORING_TIME


def request_range(times: pd.Series) -> dict[str, str | None]:
    """The earliest and latest of these request times, ISO 8601 (None without any): kept in the
    batch's lineage, so a batch's time span is known without reading its rows again."""
    stamps = times.dropna()
    if stamps.empty:
        return {"from": None, "to": None}
    return {"from": stamps.min().isoformat(), "to": stamps.max().isoformat()}
