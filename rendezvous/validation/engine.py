"""Great Expectations, set up once per process and run under a lock.

GX is imported lazily: it takes seconds to import and logs at INFO while doing so, and most
processes that import ``rendezvous`` never validate. Results are computed with GX's own
``Validator`` rather than ``ValidationDefinition.run``: the latter also stores every result in the
context's (in-memory) results store, which grows without bound in a long-lived worker.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

# Cheap format for the first pass: per-expectation unexpected counts, no row lists.
SUMMARY_FORMAT: dict[str, Any] = {"result_format": "BASIC"}
# Row positions of failing rows. The frame handed to GX has a RangeIndex, so GX's own index list
# *is* the row position: `unexpected_index_column_names` builds a dict per failing row and is
# ~150x slower (10 s vs 0.06 s for 330k failing rows out of 1M).
ROWS_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 0,
    "return_unexpected_index_query": False,
}

_lock = threading.Lock()
_engine: tuple[int, Any] | None = None  # (pid, batch definition)


def import_gx() -> ModuleType:
    """Import GX with its INFO chatter off, unless the application configured its logger."""
    gx_logger = logging.getLogger("great_expectations")
    quiet = gx_logger.level == logging.NOTSET
    if quiet:
        gx_logger.setLevel(logging.WARNING)
    import great_expectations

    if quiet:  # GX pins this one to INFO on import; it announces a temp docs directory per context
        logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    return great_expectations


def _skip_batch_fingerprint() -> None:
    """Stop GX hashing every DataFrame it is handed (it does so below 1 GB, for a batch marker).

    The fingerprint is only written into result metadata we never read (lineage has its own
    content hash), yet it is ~40% of a validation at 1M rows. GX has no setting for it, so this
    lowers the module's size threshold; process-wide, and a no-op if GX renames it.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0


def _batch_definition() -> Any:
    """The process's whole-DataFrame batch definition (rebuilt after a fork). Call under _lock."""
    global _engine
    if _engine is None or _engine[0] != os.getpid():
        gx = import_gx()
        _skip_batch_fingerprint()
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = {"globally": False}
        asset = context.data_sources.add_pandas("rendezvous").add_dataframe_asset("requests")
        _engine = (os.getpid(), asset.add_batch_definition_whole_dataframe("whole"))
    return _engine[1]


@dataclass(frozen=True)
class Outcome:
    """What one expectation said about the batch."""

    success: bool
    unexpected_count: int | None  # None for expectations that do not judge rows
    result: dict[str, Any]
    error: str | None  # set when GX could not evaluate the expectation


def _error_message(info: dict[str, Any] | None) -> str | None:
    """GX reports errors either flat or keyed by metric id; flatten both shapes."""
    if not info:
        return None
    if "raised_exception" in info:
        return (info.get("exception_message") or "error") if info["raised_exception"] else None
    messages = [
        str(v.get("exception_message") or "error")
        for v in info.values()
        if isinstance(v, dict) and v.get("raised_exception")
    ]
    return "; ".join(messages) or None


def _outcome(res: Any) -> Outcome:
    result = dict(res.result or {})
    count = result.get("unexpected_count")
    return Outcome(
        success=bool(res.success),
        unexpected_count=None if count is None else int(count),
        result=result,
        error=_error_message(res.exception_info),
    )


class Session:
    """One batch loaded into GX; evaluate a suite cheaply, then ask for failing rows."""

    def __init__(self, validator: Any) -> None:
        self._validator = validator

    def outcomes(self, suite: Any) -> dict[str, Outcome]:
        """Evaluate the whole suite with counts only; outcomes by expectation id."""
        self._validator.result_format = SUMMARY_FORMAT
        results = self._validator.validate_expectation_suite(suite).results
        return {r.expectation_config.id: _outcome(r) for r in results}

    def failing_positions(self, expectation: Any) -> np.ndarray:
        """Row positions that fail one row-level expectation."""
        self._validator.result_format = ROWS_FORMAT
        res = self._validator.validate_expectation(expectation)
        return np.asarray(res.result.get("unexpected_index_list") or [], dtype=np.int64)


@contextmanager
def session(frame: pd.DataFrame) -> Iterator[Session]:
    """Load ``frame`` (which must have a RangeIndex) into GX; one batch at a time per process."""
    from great_expectations.validator.v1_validator import Validator

    with _lock:
        validator = Validator(
            batch_definition=_batch_definition(),
            batch_parameters={"dataframe": frame},
            result_format=SUMMARY_FORMAT,
        )
        yield Session(validator)
