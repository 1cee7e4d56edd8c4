"""The request contract: a GX expectation suite (JSON) and what validation needs to know of it."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pandas.api import types as ptypes

from rendezvous.validation.engine import import_gx

TABLE_COLUMNS_SET = "expect_table_columns_to_match_set"
TABLE_COLUMNS_LIST = "expect_table_columns_to_match_ordered_list"
TYPE_RULES = ("expect_column_values_to_be_in_type_list", "expect_column_values_to_be_of_type")

Kind = Literal["boolean", "integer", "number", "string", "timestamp"]
# What a declared column holds once read, whatever the file format: the dtype when every value is
# present, and when some are missing (booleans and integers stay themselves, nullable).
DTYPES: dict[str, tuple[str, str]] = {
    "boolean": ("bool", "boolean"),
    "integer": ("int64", "Int64"),
    "number": ("float64", "float64"),
    "string": ("str", "str"),
    "timestamp": ("datetime64[us, UTC]", "datetime64[us, UTC]"),
}
_TIMESTAMP_NAMES = {"timestamp", "datetime", "datetime64", "date"}


@dataclass(frozen=True)
class Check:
    """One expectation GX evaluates, and whether its failures point at rows or at the batch."""

    expectation: Any = field(repr=False)
    rule: str
    kind: Literal["row", "batch"]
    column: str | None  # the column a failing row is blamed on; "a,b" for multi-column rules


@dataclass(frozen=True)
class Contract:
    """A loaded request contract. Load it with :func:`load_contract` (cached per path + mtime)."""

    name: str
    fingerprint: str  # sha256 of the suite file: which contract judged a batch, for lineage
    path: Path
    columns: list[str]  # expected columns (from the table-columns expectation, else referenced)
    # Whether a table-columns expectation fixes the columns: True exactly ``columns``, False at
    # least them, None no such expectation (checked before GX: a wrong shape is cheap to see and
    # GX copies the frame per metric, which takes minutes on a 50,000-column file).
    closed_columns: bool | None
    kinds: dict[str, Kind]  # column -> declared kind (by a type expectation): typed before GX
    type_rules: dict[str, str]  # typed column -> rule reported when a value is not of its kind
    checks: tuple[Check, ...] = field(repr=False, compare=False)
    suite: Any = field(repr=False, compare=False)  # GX suite of exactly the checks' expectations


    @property
    def numeric_columns(self) -> list[str]:
        return [c for c, k in self.kinds.items() if k in ("integer", "number")]

    @property
    def integer_columns(self) -> list[str]:
        return [c for c, k in self.kinds.items() if k == "integer"]


def dtypes(contract: Contract, nullable: bool = True) -> dict[str, str]:
    """The pandas dtype of each declared column once read (``nullable``: when values are missing).

    The one mapping from the contract to types: the reader's coercion, the empty frame the
    pipeline sizes features with, and the tests use it."""
    return {column: DTYPES[kind][1 if nullable else 0] for column, kind in contract.kinds.items()}


def _dtype(name: str) -> Any:
    if name.split("[", 1)[0].lower() in _TIMESTAMP_NAMES:
        return pd.DatetimeTZDtype(tz="UTC")
    try:
        return pd.api.types.pandas_dtype(name)
    except (TypeError, ValueError):
        return None


def _kind_of(dtype: Any) -> Kind | None:
    if ptypes.is_bool_dtype(dtype):
        return "boolean"
    if ptypes.is_integer_dtype(dtype):
        return "integer"
    if ptypes.is_numeric_dtype(dtype):
        return "number"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "timestamp"
    if ptypes.is_string_dtype(dtype):
        return "string"
    return None


def _declared_kind(types: list[str]) -> Kind | None:
    """The kind every declared type names (integers among floats: 'number'), else None: a type
    list that mixes kinds (say bool and str) is left to GX as written."""
    kinds = {_kind_of(d) if d is not None else None for d in map(_dtype, types)}
    if kinds == {"integer", "number"}:
        return "number"
    return kinds.pop() if len(kinds) == 1 else None


def _declared_type(rule: str, kwargs: dict[str, Any]) -> Kind | None:
    """The kind a type expectation declares for its column; None for any other expectation."""
    if rule not in TYPE_RULES or "column" not in kwargs:
        return None
    types = kwargs.get("type_list") or [kwargs.get("type_")]
    return _declared_kind([str(t) for t in types if t is not None])


def declared_kinds(path: Path) -> dict[str, Kind]:
    """Column -> declared kind, read from the suite's JSON alone: for a command that validates
    nothing (``labels add`` needs the id's kind), without the seconds GX takes to import."""
    suite = json.loads(Path(path).read_bytes())
    kinds: dict[str, Kind] = {}
    for expectation in suite.get("expectations", []):
        kwargs = expectation.get("kwargs") or {}
        kind = _declared_type(str(expectation.get("type")), kwargs)
        if kind is not None:
            kinds[str(kwargs["column"])] = kind
    return kinds


def _column_label(kwargs: dict[str, Any]) -> str | None:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if "column_list" in kwargs:
        return ",".join(map(str, kwargs["column_list"]))
    return None


def _kind(expectation: Any) -> Literal["row", "batch"]:
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    row_level = (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)
    return "row" if isinstance(expectation, row_level) else "batch"


def _build(path: Path, raw: bytes) -> Contract:
    gx = import_gx()
    suite = gx.ExpectationSuite(**json.loads(raw))
    columns: list[str] = []
    closed: bool | None = None
    referenced: list[str] = []
    kinds: dict[str, Kind] = {}
    type_rules: dict[str, str] = {}
    kept: list[tuple[Any, str, str | None]] = []
    for expectation in suite.expectations:
        config = expectation.configuration
        rule, kwargs = config.type, dict(config.kwargs)
        if rule in (TABLE_COLUMNS_SET, TABLE_COLUMNS_LIST):
            columns = [str(c) for c in kwargs.get("column_set") or kwargs.get("column_list") or []]
            exact = kwargs.get("exact_match", True)
            closed = rule == TABLE_COLUMNS_LIST or exact is None or exact is True
        label = _column_label(kwargs)
        for name in (label or "").split(","):
            if name and name not in referenced:
                referenced.append(name)
        kind = _declared_type(rule, kwargs)
        if kind is not None and label is not None:
            # Checked value by value before GX, while typing the column (GX would only check
            # the dtype, which typing sets anyway), so GX does not run it.
            kinds[label] = kind
            type_rules[label] = rule
            continue
        kept.append((expectation, rule, label))
    # GX returns results grouped by column, not in suite order: an id per expectation (GX's own
    # identity field, unset outside a stored suite) maps each result back to its check.
    copies = [copy.copy(e) for e, _, _ in kept]
    for e in copies:
        e.id = None  # a suite refuses expectations that already belong to one
    run_suite = gx.ExpectationSuite(name=suite.name, expectations=copies)
    for i, e in enumerate(run_suite.expectations):
        e.id = f"check-{i}"
    checks = tuple(
        Check(e, rule, _kind(e), label)
        for e, (_, rule, label) in zip(run_suite.expectations, kept, strict=True)
    )
    return Contract(
        name=suite.name,
        fingerprint=hashlib.sha256(raw).hexdigest(),
        path=path,
        columns=columns or referenced,
        closed_columns=closed if columns else None,
        kinds=kinds,
        type_rules=type_rules,
        checks=checks,
        suite=run_suite,
    )


@lru_cache(maxsize=16)
def _cached(path: str, mtime_ns: int, size: int) -> Contract:
    p = Path(path)
    return _build(p, p.read_bytes())


def load_contract(path: Path) -> Contract:
    """Parse the suite once per process; a changed file (mtime or size) is read again."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _cached(str(resolved), stat.st_mtime_ns, stat.st_size)
