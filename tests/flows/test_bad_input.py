"""Every kind of bad input named in the scoring issue, in one inbox: each gets a recorded reason,
none stops the others, and no row is lost."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from flows.score_batches import score_batches
from rendezvous.demo.bootstrap import build_demo
from rendezvous.demo.data import make_customers, make_requests
from rendezvous.services import get_services
from rendezvous.store.schema import quarantine

pytestmark = pytest.mark.usefixtures("prefect_api")


def _clean(n: int, seed: int) -> pd.DataFrame:
    return make_requests(
        n, make_customers(5000, seed=7), datetime(2026, 11, 10, tzinfo=UTC), seed=seed, id_prefix=f"bad{seed}"
    )


def _write_inbox(inbox: Path, scored_ids: list[str]) -> dict[str, str | None]:
    """File name -> the rule expected in its quarantine (None: the whole file is rejected)."""
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "empty.csv").write_bytes(b"")
    (inbox / "header-only.csv").write_text(",".join(_clean(1, 1).columns) + "\n")
    (inbox / "spreadsheet.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (inbox / "latin1.csv").write_bytes(_clean(5, 2).to_csv(index=False).encode() + b"r-x,caf\xe9\n")
    _clean(5, 3).drop(columns=["purpose"]).to_csv(inbox / "missing-column.csv", index=False)
    _clean(5, 4).assign(favourite_colour="blue").to_csv(inbox / "extra-column.csv", index=False)
    full = _clean(10, 5)
    full.to_parquet(inbox / "truncated.parquet")
    raw = (inbox / "truncated.parquet").read_bytes()
    (inbox / "truncated.parquet").write_bytes(raw[: len(raw) // 2])

    cases = {
        "wrong-type.csv": ("loan_amount", "lots", "expect_column_values_to_be_in_type_list"),
        "null.csv": ("annual_income", None, "expect_column_values_to_not_be_null"),
        "out-of-range.csv": ("credit_score", 1200, "expect_column_values_to_be_between"),
        "unknown-category.csv": ("purpose", "yacht", "expect_column_values_to_be_in_set"),
        "infinite.csv": ("debt_to_income", float("inf"), "expect_column_values_to_be_between"),
    }
    expected: dict[str, str | None] = {}
    for seed, (name, (column, value, rule)) in enumerate(cases.items(), start=10):
        frame = _clean(20, seed).astype({column: object})
        frame.loc[3, column] = value
        frame.to_csv(inbox / name, index=False)
        expected[name] = rule
    dupes = _clean(20, 30)
    dupes.loc[5, "request_id"] = dupes.loc[4, "request_id"]
    dupes.to_csv(inbox / "duplicate-ids.csv", index=False)
    expected["duplicate-ids.csv"] = "expect_column_values_to_be_unique"
    again = _clean(20, 31)
    again.loc[0, "request_id"] = scored_ids[0]
    again.to_csv(inbox / "already-scored.csv", index=False)
    expected["already-scored.csv"] = "request_id_already_scored"
    for name in (
        "empty.csv",
        "header-only.csv",
        "spreadsheet.xlsx",
        "latin1.csv",
        "missing-column.csv",
        "extra-column.csv",
        "truncated.parquet",
    ):
        expected[name] = None
    return expected


def test_each_bad_input_is_recorded_and_nothing_is_lost(home: Path) -> None:
    build_demo(get_services(), rows_per_batch=30)
    first = score_batches()
    scored_ids = pd.read_csv(next(o for o in first if o["state"] == "committed")["outputs"]["response"])
    expected = _write_inbox(home / "inbox", scored_ids["request_id"].tolist())

    outcomes = {o["source"]: o for o in score_batches()}
    assert set(outcomes) == set(expected)
    reasons = {
        "empty.csv": "empty file",
        "header-only.csv": "no rows",
        "spreadsheet.xlsx": "unknown format",
        "latin1.csv": "not UTF-8",
        "missing-column.csv": "purpose",
        "extra-column.csv": "favourite_colour",
        "truncated.parquet": "parquet",
    }
    for name, rule in expected.items():
        outcome = outcomes[name]
        assert outcome["rows_in"] == outcome["rows_scored"] + outcome["rows_quarantined"], name
        if rule is None:
            assert outcome["state"] == "rejected", (name, outcome)
            assert reasons[name] in outcome["reason"], (name, outcome["reason"])
            assert (home / "failed" / f"{name}.reason.txt").read_text().strip() == outcome["reason"]
            continue
        assert outcome["state"] == "committed", (name, outcome)
        assert outcome["rows_quarantined"] >= 1, name
        with get_services().store.begin() as conn:
            rules = set(
                conn.execute(
                    select(quarantine.c.rule).where(quarantine.c.batch_id == outcome["batch_id"])
                ).scalars()
            )
        assert rule in rules, (name, rules)
    missing = outcomes["missing-column.csv"]
    assert missing["rows_in"] == 5 and missing["rows_quarantined"] == 5
