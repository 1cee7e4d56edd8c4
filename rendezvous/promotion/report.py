"""The evaluation report a person reads before approving: figures, the rows behind them, a verdict.

The verdict is advice computed from the primary metric (ROC AUC for classifiers, RMSE for
regressors); the decision is the approver's. A comparison with live counts only with at least
``min_verdict_rows`` labelled rows, and is a win or a loss only when the interval on the
difference (``rendezvous.promotion.margin``) excludes zero; otherwise it is noise, and the
verdict "undecided".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rendezvous.metrics import METRICS, PRIMARY_METRIC
from rendezvous.roles import promotion

NAMES = {"roc_auc": "ROC AUC", "log_loss": "log loss", "accuracy": "accuracy",
         "positive_rate": "positive rate", "rmse": "RMSE", "mae": "MAE", "r2": "R2"}
EVIDENCE = {"newer": "newer labelled rows", "shadow": "labelled shadow traffic"}
"""Kinds of evidence, keyed as in ``margins``."""


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
    margins: dict[str, dict[str, Any] | None]
    min_rows: int
    notes: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    """The types the candidate's skops file needs, trusted when it is loaded."""
    needs_approval: list[str] = field(default_factory=list)
    """Those outside scikit-learn, numpy and scipy: approving the promotion approves their code."""

    @property
    def metric(self) -> str:
        return PRIMARY_METRIC[self.kind][0]

    def comparisons(self) -> list[dict[str, Any]]:
        """Candidate vs live on the primary metric, per kind of evidence that has both figures:
        the difference, its interval and what it says (better, worse, noise, too few rows)."""
        higher_is_better = PRIMARY_METRIC[self.kind][1]
        found = []
        for key, evidence in EVIDENCE.items():
            results, cand_key = self._evidence(key)
            cand = results.get(cand_key, {}).get(self.metric)
            live = results.get("live", {}).get(self.metric)
            if cand is None or live is None:
                continue
            interval = self.margins.get(key)
            rows = results[cand_key]["rows"]
            if rows < self.min_rows:
                outcome = "too few rows"
            elif interval is None or interval["low"] <= 0 <= interval["high"]:
                outcome = "noise"
            elif (interval["low"] > 0) == higher_is_better:
                outcome = "better"
            else:
                outcome = "worse"
            found.append(
                {
                    "evidence": evidence,
                    "rows": rows,
                    "candidate": cand,
                    "live": live,
                    "delta": cand - live,
                    "interval": interval,
                    "outcome": outcome,
                }
            )
        return found

    def verdict(self) -> tuple[str, str]:
        """(recommendation, sentence): approve, reject or undecided, and why."""
        name = NAMES[self.metric]
        found = self.comparisons()
        if not found:
            return "undecided", f"no labelled evidence yet: no {name} for both candidate and live"
        counted = [c for c in found if c["outcome"] != "too few rows"]
        if not counted:
            rows = max(c["rows"] for c in found)
            return "undecided", (
                f"only {rows:,} labelled rows, fewer than min_verdict_rows={self.min_rows:,}: "
                "wait for more outcomes"
            )
        outcomes = [c["outcome"] for c in counted]
        shadowed = any(c["evidence"] == "labelled shadow traffic" for c in counted)
        if "worse" in outcomes and "better" not in outcomes:
            return "reject", f"the candidate is worse than live on {name} beyond noise ({_spans(counted)})"
        if outcomes.count("better") == len(outcomes) and not shadowed:
            return "undecided", (
                f"the candidate beats live on {name} on newer labelled rows ({_spans(counted)}), but "
                f"has no labelled shadow traffic (at least {self.min_rows:,} rows) yet: turn shadow "
                "on and wait for outcomes"
            )
        if outcomes.count("better") == len(outcomes):
            return "approve", (
                f"the candidate beats live on {name} beyond noise in every labelled comparison "
                f"({_spans(counted)})"
            )
        if "better" in outcomes:
            return "undecided", (
                f"mixed: the candidate beats live on {name} beyond noise in "
                f"{outcomes.count('better')} of {len(outcomes)} comparisons ({_spans(counted)})"
            )
        return "undecided", f"the difference in {name} is within noise ({_spans(counted)})"

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

    def _types_line(self) -> str:
        """The candidate's types, those outside scikit-learn, numpy and scipy marked."""
        if not self.types:
            return "- Types: only those skops trusts by default (scikit-learn, numpy, Python builtins)."
        marked = [
            f"`{name}` (**outside scikit-learn, numpy, scipy: needs explicit approval**)"
            if name in self.needs_approval
            else f"`{name}`"
            for name in self.types
        ]
        return "- Types the model file needs besides skops's defaults: " + ", ".join(marked) + "."

    def _evidence(self, key: str) -> tuple[dict[str, dict[str, Any]], str]:
        """One kind of evidence's figures by model, and the candidate's key among them."""
        return (self.newer, "candidate") if key == "newer" else (self.shadow, "shadow")

    def _line(self, label: str, key: str) -> str:
        results, cand_key = self._evidence(key)
        name = NAMES[self.metric]
        cand = results.get(cand_key, {})
        if not cand.get("rows"):
            return f"- {label}: no rows yet."
        figures = [f"candidate {_fmt(cand.get(self.metric))}"]
        for role in ("live", "canary"):
            if role in results:
                figures.append(f"{role} {_fmt(results[role].get(self.metric))}")
        line = f"- {name} on {cand['rows']:,} {label}: " + ", ".join(figures)
        interval = self.margins.get(key)
        if interval:
            line += f"; candidate - live {_span(interval)}"
        return line + "."

    def markdown(self) -> str:
        recommendation, sentence = self.verdict()
        since = f" (after {self.newer_since})" if self.newer_since else ""
        lines = [
            f"# Promotion of `{self.candidate}`",
            "",
            f"**Verdict: {recommendation}** - {sentence}. Advice only: the approver decides.",
            "",
            self._line(f"labelled rows newer than the candidate's training data{since}", "newer"),
            self._line("labelled requests scored live with the candidate in shadow", "shadow"),
            f"- Shadow traffic: {self.agreement['rows']:,} requests scored by candidate and live; "
            f"{self._agreement_text()}.",
            f"- Integrity: the candidate file's sha256 `{self.sha256[:16]}` matches the registry.",
            self._types_line(),
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
                self._line("newer labelled rows", "newer"),
                self._line("labelled shadow requests", "shadow"),
                f"- Shadow agreement with live on {self.agreement['rows']:,} requests: "
                f"{self._agreement_text()}.",
                self._types_line(),
                "",
                f"Approve rotates {self.rotation()}. Reject changes nothing.",
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        recommendation, sentence = self.verdict()
        return {**asdict(self), "recommendation": recommendation, "verdict": sentence}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _span(interval: dict[str, Any]) -> str:
    return (
        f"{interval['delta']:+.4f} ({interval['level']:.0%} interval {interval['low']:+.4f} to "
        f"{interval['high']:+.4f}, {interval['method']}, {interval['rows']:,} rows)"
    )


def _spans(comparisons: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{c['evidence']}: " + (_span(c["interval"]) if c["interval"] else "no interval")
        for c in comparisons
    )
