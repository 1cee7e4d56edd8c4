"""Split a batch into rows that honour the request contract and quarantined rows with reasons.

Bad rows are expected and cheap to set aside; a batch whose *shape* is wrong (columns, aggregate
expectations) or that is mostly bad is rejected whole, because scoring the few rows that happen to
pass would hide an upstream break.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rendezvous.validation import engine
from rendezvous.validation import quarantine as q
from rendezvous.validation.coercion import coerce, finish
from rendezvous.validation.contract import TABLE_COLUMNS_SET, Check, Contract

MAX_REASON = 1000  # characters of a batch-level reason


@dataclass
class ValidationResult:
    """``valid`` keeps the input index and has declared columns in their declared types."""

    valid: pd.DataFrame
    quarantine: pd.DataFrame  # row, request_id, column, rule, value
    rejected_reason: str | None = None


def _names(values: object, limit: int = 20) -> str:
    """A sorted list of names for a reason, at most ``limit`` of them: reasons are for people."""
    names = sorted(map(str, values))  # type: ignore[call-overload]
    shown = ", ".join(repr(n if len(n) <= 80 else n[:77] + "...") for n in names[:limit])
    more = f", ... and {len(names) - limit} more" if len(names) > limit else ""
    return f"[{shown}{more}]"


def _columns_reason(mismatched: dict[str, object]) -> str:
    parts = [f"{k} columns {_names(v)}" for k, v in sorted(mismatched.items()) if v]
    return "columns do not match the contract: " + "; ".join(parts)


def _shape_precheck(frame: pd.DataFrame, contract: Contract) -> str | None:
    """The table-columns expectation, judged before GX sees a frame of the wrong shape."""
    if contract.closed_columns is None:
        return None
    actual, expected = set(map(str, frame.columns)), set(contract.columns)
    mismatched = {"missing": expected - actual}
    if contract.closed_columns:
        mismatched["unexpected"] = actual - expected
    return _columns_reason(mismatched) if any(mismatched.values()) else None


def _batch_reason(check: Check, outcome: engine.Outcome) -> str:
    result = outcome.result
    where = f"({check.column})" if check.column else ""
    mismatched = (result.get("details") or {}).get("mismatched")
    if check.rule == TABLE_COLUMNS_SET and isinstance(mismatched, dict):
        return _columns_reason(mismatched)
    details = f", details {mismatched!r}" if mismatched else ""
    return f"{check.rule}{where} failed: observed {result.get('observed_value')!r}{details}"


def _shape_reason(pairs: list[tuple[Check, engine.Outcome]]) -> str | None:
    """Why the batch as a whole breaks the contract: table-level first, then errors, aggregates."""
    table = [
        _batch_reason(c, o) for c, o in pairs if c.kind == "batch" and c.column is None and not o.success
    ]
    if table:  # column expectations on missing columns raise too; the table reason says why
        return "; ".join(table)
    errors = [f"{c.rule}({c.column}) not evaluated: {o.error}" for c, o in pairs if o.error]
    if errors:
        return "; ".join(errors)
    aggregate = [_batch_reason(c, o) for c, o in pairs if c.kind == "batch" and not o.success]
    if aggregate:
        return "; ".join(aggregate)
    broken = [c.rule for c, o in pairs if not o.success and o.unexpected_count is None]
    return f"{', '.join(broken)} failed without row counts" if broken else None


def too_many(what: str, count: int, n: int, max_share: float) -> str | None:
    if n and count / n > max_share:
        return (
            f"{what}: {count} of {n} rows ({count / n:.1%}) invalid, above max_invalid_share {max_share:.1%}"
        )
    return None


def _reject(
    df: pd.DataFrame, coerced: pd.DataFrame, id_column: str, reason: str, found: pd.DataFrame
) -> ValidationResult:
    """Every row to quarantine: rows with a known fault keep it, the rest carry the reason."""
    if len(reason) > MAX_REASON:  # it is repeated on every row of the batch
        reason = reason[: MAX_REASON - 3] + "..."
    rest = np.ones(len(df), dtype=bool)
    rest[found["pos"].to_numpy()] = False
    parts = [
        q.lines(df, id_column, found),
        q.lines(df, id_column, q.failures(np.flatnonzero(rest), None, q.BATCH_REJECTED), reason),
    ]
    lines = pd.concat([p for p in parts if len(p)] or [q.empty()], ignore_index=True)
    return ValidationResult(
        valid=coerced.iloc[:0],
        quarantine=lines.sort_values("row", kind="stable", ignore_index=True),
        rejected_reason=reason,
    )


def _row_failures(
    coerced: pd.DataFrame, contract: Contract, typed: pd.DataFrame, max_share: float
) -> tuple[str | None, pd.DataFrame]:
    """GX's verdict: a reason to reject the batch (and the rows known bad), or the failing rows.

    Counts come first, from a cheap result format; failing rows are only asked for when no single
    rule already condemns the batch, because listing them is what is slow when many rows fail.
    """
    n = len(coerced)
    with engine.session(coerced.reset_index(drop=True)) as gx:
        outcomes = gx.outcomes(contract.suite)
        pairs = [(c, outcomes[c.expectation.id]) for c in contract.checks]
        reason = _shape_reason(pairs)
        if reason is not None:  # the batch's shape is the fault, not its rows
            return reason, q.no_failures()
        failed = [(c, o) for c, o in pairs if not o.success and c.kind == "row"]
        # Values not of their kind first: after typing they are nulls too, and the cause should
        # be named.
        per_rule = [(f"{r}({c})", len(g)) for (c, r), g in typed.groupby(["column", "rule"], sort=False)]
        per_rule += [(f"{c.rule}({c.column})", o.unexpected_count or 0) for c, o in failed]
        reason = next((r for w, k in per_rule if (r := too_many(w, k, n, max_share))), None)
        if reason is not None:
            return reason, typed
        found = [typed] + [
            q.failures(gx.failing_positions(c.expectation), c.column, c.rule) for c, _ in failed
        ]
    all_found = pd.concat(found, ignore_index=True)
    echo = pd.MultiIndex.from_frame(all_found[["pos", "column"]]).isin(
        pd.MultiIndex.from_frame(typed[["pos", "column"]])
    )
    echo[: len(typed)] = False  # the type failures themselves stay
    return None, all_found[~echo]


def validate(
    df: pd.DataFrame,
    contract: Contract,
    id_column: str,
    max_invalid_share: float,
    unreadable: int = 0,
) -> ValidationResult:
    """Check ``df`` against ``contract``; quarantine lines name ``df``'s index values as rows.

    Rows failing a row-level expectation are quarantined, one line per (row, rule), unless the
    expectation still succeeds thanks to its ``mostly``. Failing table-level or aggregate
    expectations, one rule failing more than ``max_invalid_share`` of the rows, or more than that
    share of rows failing in total reject the whole batch: ``valid`` is then empty.

    ``unreadable`` lines of the same chunk (wrong field count, not a JSON object) never reach
    ``df`` but are rows that failed: they count towards the share, so a file that is mostly
    garbage is rejected rather than committed on its few readable rows.
    """
    frame = df.loc[:, ~df.columns.duplicated()]
    coerced, typed = coerce(frame, contract)
    if frame.shape[1] != df.shape[1]:
        twice = _names(set(map(str, df.columns[df.columns.duplicated()])))
        reason = f"columns do not match the contract: duplicated columns {twice}"
        return _reject(frame, coerced, id_column, reason, q.no_failures())
    total = len(df) + unreadable
    shape = too_many("lines unreadable as rows", unreadable, total, max_invalid_share)
    shape = shape or _shape_precheck(frame, contract)
    if shape is not None:
        return _reject(frame, coerced, id_column, shape, q.no_failures())
    reason, found = _row_failures(coerced, contract, typed, max_invalid_share)
    if reason is None:
        bad = np.unique(found["pos"].to_numpy())
        reason = too_many("rows failing the contract", len(bad) + unreadable, total, max_invalid_share)
    if reason is not None:
        return _reject(frame, coerced, id_column, reason, found)
    keep = np.ones(len(df), dtype=bool)
    keep[bad] = False
    return ValidationResult(
        valid=finish(coerced[keep], contract),
        quarantine=q.lines(frame, id_column, found) if len(found) else q.empty(),
    )
