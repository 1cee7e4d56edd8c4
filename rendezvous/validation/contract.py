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
    numeric_columns: list[str]  # declared numeric by a type expectation: coerced before GX
    integer_columns: list[str]  # numeric columns whose declared types are all integers
    type_rules: dict[str, str]  # numeric column -> rule reported when a value is not a number
    checks: tuple[Check, ...] = field(repr=False, compare=False)
    suite: Any = field(repr=False, compare=False)  # GX suite of exactly the checks' expectations


def _dtype(name: str) -> Any:
    try:
        return pd.api.types.pandas_dtype(name)
    except (TypeError, ValueError):
        return None


def _numeric_kind(types: list[str]) -> Literal["integer", "number"] | None:
    """'integer' / 'number' when every declared type is one, else None (not a numeric column)."""
    dtypes = [_dtype(t) for t in types]
    if not dtypes or any(
        d is None or not ptypes.is_numeric_dtype(d) or ptypes.is_bool_dtype(d) for d in dtypes
    ):
        return None
    return "integer" if all(ptypes.is_integer_dtype(d) for d in dtypes) else "number"


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
    numeric: dict[str, Literal["integer", "number"]] = {}
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
        if rule in TYPE_RULES and "column" in kwargs:
            types = kwargs.get("type_list") or [kwargs.get("type_")]
            kind = _numeric_kind([str(t) for t in types if t is not None])
            if kind is not None:
                # Checked value by value before GX (GX only checks the dtype of a numeric
                # column, which coercion makes numeric anyway), so GX does not run it.
                numeric[label] = kind
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
        numeric_columns=list(numeric),
        integer_columns=[c for c, k in numeric.items() if k == "integer"],
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
