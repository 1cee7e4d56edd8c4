"""The orchestrator's process defaults: what a user must not see, and what they still must."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from rendezvous.runtime import configure_prefect_env

POOL = "sqlalchemy.pool.impl.AsyncAdaptedQueuePool"


def _log_error(exc: BaseException) -> None:
    try:
        raise exc
    except BaseException:
        logging.getLogger(POOL).error("Exception during reset or similar", exc_info=True)


def test_a_cancelled_pool_reset_at_shutdown_is_dropped_other_pool_errors_are_not(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "environ", dict(os.environ))  # its Prefect variables stay in this test
    configure_prefect_env()
    with caplog.at_level(logging.ERROR, logger=POOL):
        _log_error(asyncio.CancelledError())
        _log_error(OSError("disk I/O error"))
    assert [r.exc_info[1].__class__ for r in caplog.records if r.name == POOL] == [OSError]
