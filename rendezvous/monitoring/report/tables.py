"""The report's tables as plain text cells: the template lays them out and escapes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rendezvous.monitoring.overview import profile_lines
from rendezvous.monitoring.report.period import utc_text
from rendezvous.monitoring.report.rotations import roles_after
from rendezvous.monitoring.verdict import comparison_of, fmt_number, note_text, rule_text
from rendezvous.services import Services


@dataclass
class Row:
    cells: list[str]
    alert: bool = False


@dataclass
class Table:
    headers: list[str]
    rows: list[Row] = field(default_factory=list)


def is_numeric_text(value: object) -> bool:
    """Whether a cell reads as a number (``1,234``, ``0.5``): such cells align right."""
    try:
        float(str(value).replace(",", ""))
    except ValueError:
        return False
    return True


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def alerts_table(m: pd.DataFrame, time_label: str) -> Table:
    """Every statistic that broke its rule, at its batch's time on the report's axis."""
    headers = ["batch", "comparison", "feature", "metric", "value", "rule", "note"]
    table = Table([f"{time_label} (UTC)", *headers])
    for row in m[m["alert"]].to_dict("records"):
        table.rows.append(
            Row(
                [
                    utc_text(row["at"]),
                    _text(row["source"]),
                    comparison_of(row),
                    _text(row["feature"]),
                    _text(row["metric"]),
                    fmt_number(row["value"]),
                    rule_text(row),
                    note_text(row),
                ]
            )
        )
    return table


def _grouped_alerts(rows: list[dict[str, Any]]) -> str:
    """``live vs canary: psi, ks; live vs reference: psi``."""
    by_comparison: dict[str, list[str]] = {}
    for row in rows:
        by_comparison.setdefault(comparison_of(row), []).append(row["metric"])
    return "; ".join(f"{name}: {', '.join(metrics)}" for name, metrics in by_comparison.items())


def _batch_row(part: pd.DataFrame) -> Row:
    features = part[part["feature"].notna()]
    drifted = sorted(set(features.loc[features["alert"], "feature"]))
    score_alerts = part[part["feature"].isna() & part["alert"] & (part["metric"] != "drift_share")]
    pair = part[(part["role"] == "canary")].set_index("metric")["value"]
    failed = (part["metric"] == "monitor_error").any()
    verdict = "monitoring failed" if failed else ("ALERT" if part["alert"].any() else "ok")
    cells = [
        utc_text(part["at"].iloc[0]),
        _text(part["source"].iloc[0]),
        fmt_number(part.loc[part["metric"] == "n_rows", "value"].max()),
        verdict,
        ", ".join(drifted) or ("-" if len(features) else "no reference yet"),
        _grouped_alerts(score_alerts.to_dict("records")) or "-",
        fmt_number(pair.get("agreement")),
    ]
    return Row(cells, alert=verdict != "ok")


def batches_table(m: pd.DataFrame, time_label: str) -> Table:
    """One line per monitored batch: its verdict, drifted features, broken score rules."""
    headers = [f"{time_label} (UTC)", "batch", "rows", "verdict", "drifted features", "score alerts"]
    table = Table([*headers, "live/canary agreement"])
    table.rows = [_batch_row(part) for _, part in m.groupby("batch_id", sort=False)]
    return table


def models_table(services: Services) -> Table:
    """Models in service (live, canary, candidates) and where their reference comes from."""
    lines = profile_lines(services.store, services.registry)
    return Table(
        ["model", "role", "reference profile"],
        [Row([line["version"], line["role"], line["profile"]]) for line in lines],
    )


def rotations_table(rotations: pd.DataFrame) -> Table:
    """Registrations, promotions and rollbacks, oldest first."""
    return Table(
        ["time (UTC)", "action", "by", "roles after", "comment"],
        [
            Row([utc_text(r["at"]), _text(r["action"]), _text(r["actor"]), roles_after(r["after"]),
                 _text(r.get("comment"))])
            for r in rotations.to_dict("records")
        ],
    )  # fmt: skip


def performance_table(perf: pd.DataFrame) -> Table:
    """Realized figures per batch and role, with the labelled rows behind them."""
    return Table(
        ["batch", "role", "model", "labelled rows", "ROC AUC", "log loss", "accuracy"],
        [
            Row(
                [
                    _text(r["window"]),
                    _text(r["role"]),
                    _text(r["model_version"]),
                    f"{int(r['n']):,}",
                    fmt_number(r["roc_auc"]),
                    fmt_number(r["log_loss"]),
                    fmt_number(r["accuracy"]),
                ]
            )
            for r in perf.to_dict("records")
        ],
    )
