"""The evaluation report a person reads before approving: figures, the rows behind them, a verdict.

The verdict is advice computed from the primary metric (ROC AUC for classifiers, RMSE for
regressors); the decision is the approver's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rendezvous.promotion.evaluation import METRICS, PRIMARY_METRIC
from rendezvous.roles import promotion

NAMES = {"roc_auc": "ROC AUC", "log_loss": "log loss", "accuracy": "accuracy", "rmse": "RMSE",
         "mae": "MAE", "r2": "R2"}


@dataclass
class PromotionReport:
    candidate: str
    kind: str
    sha256: str
    roles: dict[str, str | None]
    newer_since: str | None
    newer: dict[str, dict[str, Any]]
    shadow: dict[str, dict[str, Any]]
    agreement: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def metric(self) -> str:
        return PRIMARY_METRIC[self.kind][0]

    def comparisons(self) -> list[dict[str, Any]]:
        """Candidate vs live on the primary metric, per kind of evidence that has both figures."""
        higher_is_better = PRIMARY_METRIC[self.kind][1]
        found = []
        for evidence, results, key in (
            ("newer labelled rows", self.newer, "candidate"),
            ("labelled shadow traffic", self.shadow, "shadow"),
        ):
            cand = results.get(key, {}).get(self.metric)
            live = results.get("live", {}).get(self.metric)
            if cand is None or live is None:
                continue
            delta = cand - live
            found.append(
                {
                    "evidence": evidence,
                    "rows": results[key]["rows"],
                    "candidate": cand,
                    "live": live,
                    "delta": round(delta, 6),
                    "better": delta > 0 if higher_is_better else delta < 0,
                }
            )
        return found

    def verdict(self) -> tuple[str, str]:
        """(recommendation, sentence): approve, reject or undecided, and why."""
        found = self.comparisons()
        name = NAMES[self.metric]
        if not found:
            return "undecided", f"no labelled evidence yet: no {name} for both candidate and live"
        wins = sum(c["better"] for c in found)
        shadowed = any(c["evidence"] == "labelled shadow traffic" for c in found)
        if wins == len(found) and not shadowed:
            return "undecided", (
                f"the candidate beats live on {name} on newer labelled rows, but has no labelled "
                "shadow traffic yet: turn shadow on and wait for outcomes"
            )
        if wins == len(found):
            return "approve", f"the candidate beats live on {name} in every labelled comparison"
        if wins == 0:
            return "reject", f"the candidate does not beat live on {name} in any labelled comparison"
        return "undecided", f"mixed: the candidate beats live on {name} in {wins} of {len(found)} comparisons"

    def rotation(self) -> str:
        return promotion(self.roles, self.candidate).describe()

    def table(self) -> list[dict[str, Any]]:
        """One row per (evidence, model): the figures and the rows behind them."""
        rows = []
        since = f" (after {self.newer_since})" if self.newer_since else ""
        for evidence, results in (
            (f"labelled rows newer than the candidate's training data{since}", self.newer),
            ("labelled live traffic, logged scores (candidate in shadow)", self.shadow),
        ):
            for model, figures in results.items():
                rows.append(
                    {
                        "evidence": evidence,
                        "model": "candidate" if model == "shadow" else model,
                        "version": figures.get("version"),
                        "rows": figures.get("rows"),
                        **{NAMES[m]: figures.get(m) for m in METRICS[self.kind]},
                        "agreement with live": None,
                    }
                )
        a = self.agreement
        rows.append(
            {
                "evidence": "live traffic scored in shadow (labelled or not)",
                "model": "candidate vs live",
                "version": self.candidate,
                "rows": a["rows"],
                **{NAMES[m]: None for m in METRICS[self.kind]},
                "agreement with live": self._agreement_text(),
            }
        )
        return rows

    def _agreement_text(self) -> str:
        a = self.agreement
        if not a["rows"]:
            return "no shadow traffic yet"
        parts = []
        if a.get("label_agreement") is not None:
            parts.append(f"same label {a['label_agreement']:.1%}")
        if a.get("mean_abs_score_diff") is not None:
            parts.append(f"mean |score diff| {a['mean_abs_score_diff']:.4f}")
        if a.get("score_correlation") is not None:
            parts.append(f"score correlation {a['score_correlation']:.3f}")
        return ", ".join(parts)

    def _line(self, label: str, results: dict[str, dict[str, Any]], key: str) -> str:
        name = NAMES[self.metric]
        cand = results.get(key, {})
        if not cand.get("rows"):
            return f"- {label}: no rows yet."
        figures = [f"candidate {_fmt(cand.get(self.metric))}"]
        for role in ("live", "canary"):
            if role in results:
                figures.append(f"{role} {_fmt(results[role].get(self.metric))}")
        return f"- {name} on {cand['rows']:,} {label}: " + ", ".join(figures) + "."

    def markdown(self) -> str:
        recommendation, sentence = self.verdict()
        since = f" (after {self.newer_since})" if self.newer_since else ""
        lines = [
            f"# Promotion of `{self.candidate}`",
            "",
            f"**Verdict: {recommendation}** - {sentence}. Advice only: the approver decides.",
            "",
            self._line(f"labelled rows newer than the candidate's training data{since}", self.newer,
                       "candidate"),
            self._line("labelled requests scored live with the candidate in shadow", self.shadow,
                       "shadow"),
            f"- Shadow traffic: {self.agreement['rows']:,} requests scored by candidate and live; "
            f"{self._agreement_text()}.",
            f"- Integrity: the candidate file's sha256 `{self.sha256[:16]}` matches the registry.",
            *[f"- Note: {note}" for note in self.notes],
            "",
            f"Approving rotates {self.rotation()}, in one transaction, audited; "
            "`rendezvous rollback` undoes it.",
        ]
        return "\n".join(lines)

    def form_description(self) -> str:
        """The key figures, shown on the approval form itself."""
        recommendation, sentence = self.verdict()
        return "\n".join(
            [
                f"**Promote `{self.candidate}`?** Report verdict: **{recommendation}** ({sentence}).",
                "",
                self._line("newer labelled rows", self.newer, "candidate"),
                self._line("labelled shadow requests", self.shadow, "shadow"),
                f"- Shadow agreement with live on {self.agreement['rows']:,} requests: "
                f"{self._agreement_text()}.",
                "",
                f"Approve rotates {self.rotation()}. Reject changes nothing.",
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        recommendation, sentence = self.verdict()
        return {**asdict(self), "recommendation": recommendation, "verdict": sentence}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
