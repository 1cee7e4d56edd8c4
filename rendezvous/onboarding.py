"""`rendezvous init SAMPLE_FILE`: a first `rendezvous.toml` and a draft request contract, from a
sample of the requests, for the user to read and edit.

Each column is declared the first kind every present value of the sample reads as, by the
contract's own coercion (``validation.coercion.reads_as``): integers, then floats, booleans,
timestamps, else text; so the draft accepts its sample exactly as scoring will. Columns without
a missing value get a not-null rule, numeric ones their observed range, text columns with few
values their category set. A sample is only a sample: ranges and sets are drafts to widen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.api import types as ptypes

from rendezvous.batchfiles import Limits, detect_format, read_chunks, unknown_format
from rendezvous.settings import Settings
from rendezvous.validation.coercion import reads_as
from rendezvous.validation.contract import Kind

KINDS: tuple[Kind, ...] = ("integer", "number", "boolean", "timestamp", "string")
SUITE_TYPES = {"integer": "int64", "number": "float64", "boolean": "bool", "string": "str",
               "timestamp": "datetime64[ns, UTC]"}  # fmt: skip
MAX_CATEGORIES = 20


class InitError(Exception):
    """The sample cannot be drafted from, or a file would be overwritten; the message says why."""


def read_sample(path: Path, settings: Settings) -> pd.DataFrame:
    fmt = detect_format(path.name)
    if fmt is None:
        raise InitError(str(unknown_format(str(path))))
    if not path.is_file():
        raise InitError(f"{path}: no such file")
    frames = [frame for frame, _ in read_chunks(str(path), fmt, settings.chunk_rows, Limits.of(settings))]
    return pd.concat(frames)


def column_kind(values: pd.Series) -> Kind:
    """The first kind every present value reads as (text when nothing is present); a Parquet
    boolean or timestamp column is that kind (it would also read as numbers)."""
    if ptypes.is_bool_dtype(values):
        return "boolean"
    if ptypes.is_datetime64_any_dtype(values):
        return "timestamp"
    present = values.dropna()
    return next((k for k in KINDS if len(present) and reads_as(present, k)), "string")


def _expectation(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": f"expect_{kind}", "kwargs": kwargs}


def draft_suite(sample: pd.DataFrame, name: str, id_column: str) -> tuple[dict[str, Any], dict[str, Kind]]:
    """A GX suite (as JSON data) accepting the sample, and each column's kind."""
    kinds = {str(column): column_kind(sample[column]) for column in sample.columns}
    rules = [_expectation("table_columns_to_match_set", column_set=list(kinds))]
    for column, kind in kinds.items():
        values = sample[column]
        rules.append(_expectation("column_values_to_be_of_type", column=column, type_=SUITE_TYPES[kind]))
        if values.notna().all():
            rules.append(_expectation("column_values_to_not_be_null", column=column))
        if kind in ("integer", "number") and column != id_column and values.notna().any():
            numbers = pd.to_numeric(values)
            rules.append(
                _expectation(
                    "column_values_to_be_between",
                    column=column,
                    min_value=_plain(numbers.min()),
                    max_value=_plain(numbers.max()),
                )
            )
        if kind == "string" and column != id_column:
            categories = sorted(values.dropna().astype("str").unique())
            if len(categories) <= MAX_CATEGORIES:
                rules.append(_expectation("column_values_to_be_in_set", column=column, value_set=categories))
    return {"name": name, "expectations": rules}, kinds


def _plain(value: Any) -> int | float:
    return value.item() if hasattr(value, "item") else value


def settings_toml(suite: Path, id_column: str, timestamp_column: str | None) -> str:
    lines = [
        "# Written by `rendezvous init`: edit it and the suite it names (see the README's",
        '# "Use your own model"). Environment variables override it.',
        f"suite_path = {json.dumps(str(suite))}",
        f"id_column = {json.dumps(id_column)}",
    ]
    if timestamp_column:
        lines.append(f"timestamp_column = {json.dumps(timestamp_column)}")
    return "\n".join(lines) + "\n"


def pick_timestamp(kinds: dict[str, Kind], given: str | None) -> str | None:
    """The column given (it must be a timestamp), else the sample's only timestamp column."""
    stamps = [column for column, kind in kinds.items() if kind == "timestamp"]
    if given is None:
        return stamps[0] if len(stamps) == 1 else None
    if given not in stamps:
        raise InitError(
            f"--timestamp-column {given!r} is not a timestamp column of the sample "
            f"(timestamp columns: {', '.join(stamps) or 'none'})"
        )
    return given


def write_files(files: dict[Path, str], force: bool) -> None:
    """Write every file, or none: an existing one is overwritten only with ``force``."""
    existing = [str(path) for path in files if path.exists()]
    if existing and not force:
        raise InitError(f"{', '.join(existing)} exist(s); --force overwrites")
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
