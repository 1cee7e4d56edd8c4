"""Columns into the types the contract declares, whatever the file format sent.

CSV and JSON Lines arrive as text, Parquet with its own types; after this step the same batch
is the same frame from every format (so the same scores, bit for bit). A value that is present
but not of its column's kind is a failure of that column's type rule: the row is quarantined
showing the text that was sent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api import types as ptypes

from rendezvous.validation import quarantine as q
from rendezvous.validation.contract import DTYPES, Contract, Kind

# Booleans as text: what Python, pandas, JSON and most exporters write (case aside).
BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False}


def coerce(df: pd.DataFrame, contract: Contract) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Declared columns in their kinds (integers as float64 until :func:`finish`, so GX sees no
    missing-integer dtype), and the failures: rows whose value was present but not of its kind."""
    out = df.copy(deep=False)
    found = []
    for column, kind in contract.kinds.items():
        if column not in df.columns:
            continue  # reported by the table-columns expectation
        typed, bad = _typed(df[column], kind)
        out[column] = typed
        if bad.any():
            found.append(q.failures(np.flatnonzero(bad), column, contract.type_rules[column]))
    return out, (pd.concat(found, ignore_index=True) if found else q.no_failures())


def _typed(raw: pd.Series, kind: Kind) -> tuple[pd.Series, np.ndarray]:
    """The values in ``kind``, and per value whether it was present but not of that kind."""
    typed = _TYPERS[kind](raw)
    bad = raw.notna().to_numpy() & typed.isna().to_numpy()
    if kind == "integer" and ptypes.is_float_dtype(typed):
        values = typed.to_numpy()
        with np.errstate(invalid="ignore"):
            bad |= np.isfinite(values) & (np.floor(values) != values)
    return typed, bad


def reads_as(raw: pd.Series, kind: Kind) -> bool:
    """Whether every present value would pass a contract declaring the column ``kind``."""
    return not _typed(raw, kind)[1].any()


def finish(valid: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The rows kept, each declared column in its final dtype: booleans and integers as numpy
    ``bool``/``int64`` when every value is present, nullable ``boolean``/``Int64`` otherwise."""
    for column, kind in contract.kinds.items():
        if column in valid.columns:
            complete, nullable = DTYPES[kind]
            values = valid[column]
            valid[column] = values.astype(nullable if values.isna().any() else complete)
    return valid


def _to_number(raw: pd.Series) -> pd.Series:
    """Text to float: Arrow's vectorised cast when every value parses (the usual case, ~10x
    faster than pandas), else pandas, which turns each bad value into NaN for the report."""
    if ptypes.is_numeric_dtype(raw) and not ptypes.is_bool_dtype(raw):
        return raw
    try:
        cast = pc.cast(pa.array(raw, from_pandas=True), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pd.to_numeric(raw, errors="coerce")
    return pd.Series(cast.to_numpy(zero_copy_only=False), index=raw.index, name=raw.name)


def _to_integer(raw: pd.Series) -> pd.Series:
    """Whole numbers exactly (an id above 2**53 must not pass through a float), else as float."""
    if ptypes.is_integer_dtype(raw) and not ptypes.is_bool_dtype(raw):
        return raw
    if not ptypes.is_numeric_dtype(raw):
        try:
            cast = pc.cast(pa.array(raw, from_pandas=True), pa.int64())
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass
        else:
            # values, not a Series: a Series would be aligned on its own 0..n-1 labels, and a chunk's
            # rows are labelled by their place in the batch
            return pd.Series(cast.to_numpy(zero_copy_only=False), index=raw.index, name=raw.name)
    return _to_number(raw)


def _to_boolean(raw: pd.Series) -> pd.Series:
    if ptypes.is_bool_dtype(raw):
        return raw.astype("boolean")
    text = raw.astype("str").str.strip().str.lower()
    return text.map(BOOLEAN_TEXT).astype("boolean")


def _to_timestamp(raw: pd.Series) -> pd.Series:
    """ISO 8601 with its offset, held as a UTC instant; a time without an offset is taken as UTC."""
    if ptypes.is_datetime64_any_dtype(raw):
        stamps = raw if getattr(raw.dtype, "tz", None) else raw.dt.tz_localize("UTC")
        return stamps.dt.tz_convert("UTC").astype(DTYPES["timestamp"][0])
    text = raw.astype("str")
    stamps = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    return stamps.astype(DTYPES["timestamp"][0])


def _to_string(raw: pd.Series) -> pd.Series:
    return raw if ptypes.is_string_dtype(raw) and raw.dtype != object else raw.astype("str")


_TYPERS = {
    "boolean": _to_boolean,
    "integer": _to_integer,
    "number": _to_number,
    "string": _to_string,
    "timestamp": _to_timestamp,
}
