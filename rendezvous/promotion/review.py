"""Assemble the evidence on one candidate for the person who approves or rejects it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rendezvous.promotion import dataset, evaluation, gate, margin, rotation, training
from rendezvous.promotion.errors import ApprovalRefused, PromotionError, TrainingError
from rendezvous.promotion.gate import Promotion
from rendezvous.promotion.report import PromotionReport
from rendezvous.registry import ModelRecord
from rendezvous.services import Services
from rendezvous.trust import signing
from rendezvous.trust.consent import Subject, policy_of
from rendezvous.trust.keys import TrustError


def build_report(services: Services, promotion: Promotion) -> PromotionReport:
    """Candidate vs the live and canary the promotion would displace, on labelled rows newer
    than the candidate's training data and on the live traffic it scored in shadow.

    Every model is loaded through the registry's sha256 gate, so a tampered file fails here.
    Each comparison with live carries an interval on the primary metric's difference, so the
    verdict can tell an edge from noise.
    """
    s = services.settings
    registry = services.registry
    candidate = registry.get(promotion.candidate)
    compared: evaluation.Compared = {"candidate": (candidate, registry.load(candidate))}
    for role in ("live", "canary"):
        version = promotion.before.get(role)
        if version:
            record = registry.get(version)
            compared[role] = (record, registry.load(record))
    since = (candidate.metadata or {}).get("train_to")
    notes = []
    if since is None:
        notes.append(
            "the candidate records no training time range (registered by hand): the newer-rows "
            "figures use every labelled row, some of which it may have been trained on"
        )
    kind = evaluation.kind_of(compared)
    positives = evaluation.positive_classes(compared)
    # one positive class for both, or no interval (their figures are still reported)
    shared = positives["candidate"] if positives["candidate"] == positives.get("live") else None
    margins: dict[str, dict[str, Any] | None] = {}
    try:
        newer = dataset.newer_than(training.labelled_data(services), since)
        scored = evaluation.rescore(newer, compared, s.id_column)
        newer_results = evaluation.figures_of(newer, compared, scored, s.label_column)
        if "live" in scored:
            outcome = newer[s.label_column].astype("str").reset_index(drop=True)
            margins["newer"] = margin.difference(
                kind, outcome, scored["candidate"]["score"], scored["live"]["score"], shared
            )
    except TrainingError as exc:
        notes.append(f"no labelled dev rows to re-score: {exc}")
        newer_results = {}
    logged = evaluation.logged_scores(services.store, candidate.version)
    _, labelled = evaluation.logged_rows(logged)
    if not labelled.empty:
        margins["shadow"] = margin.difference(
            kind, labelled["outcome"], labelled["shadow_score"], labelled["live_score"], shared
        )
    by_role = {"shadow": positives["candidate"], "live": positives.get("live"),
               "canary": positives.get("canary")}
    return PromotionReport(
        candidate=candidate.version,
        kind=kind,
        sha256=candidate.sha256,
        roles={"live": promotion.before.get("live"), "canary": promotion.before.get("canary")},
        newer_since=since,
        newer=newer_results,
        shadow=evaluation.logged_metrics(logged, kind, by_role),
        agreement=evaluation.agreement(logged, kind),
        margins=margins,
        min_rows=s.min_verdict_rows,
        notes=notes,
        types=candidate.trusted_types or [],
        needs_approval=candidate.types_needing_approval,
    )


def pick_candidate(services: Services, version: str | None) -> ModelRecord:
    """The named model, or the newest candidate when no version is given."""
    if version:
        return services.registry.get(version)
    candidates = [r for r in services.registry.list() if r.role == "candidate"]
    if not candidates:
        raise PromotionError("no candidate registered: `rendezvous train` first")
    return candidates[-1]


def start(services: Services, version: str | None, flow_run_id: str | None) -> Promotion:
    """Open a promotion; a candidate whose file fails its sha256 check is refused before anything opens."""
    record = pick_candidate(services, version)
    if record.role != "candidate":
        raise PromotionError(f"{record.version} is {record.role}; only a candidate can be promoted")
    services.registry.verify_file(record)
    return gate.open_promotion(
        services.store, record.version, flow_run_id, gate.EVALUATION_HOLD_SECONDS
    )


def subject(services: Services, promotion: Promotion, report: dict[str, Any]) -> Subject:
    """What a decision on this promotion signs: the candidate, its registered sha256, the report."""
    record = services.registry.get(promotion.candidate)
    return Subject(promotion.id, record.version, record.sha256, signing.report_hash(report))


def propose(
    services: Services, promotion: Promotion, about: Subject, key_file: str | None, name: str | None
) -> dict[str, Any] | None:
    """The proposal document (signed with ``key_file`` when given), audited as the `propose` row
    by the proposer it names; refused and audited if the policy does not accept it (signed mode
    without a key, a key not in the approvers file, an unreadable name)."""
    try:
        document = policy_of(services.settings).propose(about, Path(key_file) if key_file else None, name)
    except TrustError as exc:
        who = rotation.shown(name) if name else "unverified proposer"
        rotation.refuse(services.store, promotion, who, f"proposal refused: {exc}")
        raise ApprovalRefused(f"proposal refused: {exc}") from exc
    gate.record_proposal(services.store, promotion, document)
    return document


def check_decision(
    services: Services,
    promotion: Promotion,
    about: Subject,
    proposal: dict[str, Any] | None,
    earlier: list[dict[str, Any]],
    answer: dict[str, str],
) -> dict[str, Any]:
    """The verified decision document, or ApprovalRefused after the promotion is closed as
    refused and the refused attempt (as sent) audited: a refused decision ends the promotion."""
    try:
        return policy_of(services.settings).decide(
            about, proposal, earlier, answer["decision"], answer["approver"], answer.get("signature", "")
        )
    except TrustError as exc:
        attempt = {**about.fields(answer["decision"], answer["approver"]),
                   "signature": answer.get("signature") or None}
        rotation.refuse(
            services.store, promotion, rotation.shown(answer["approver"]), f"decision refused: {exc}", attempt
        )
        raise ApprovalRefused(f"decision refused: {exc}; nothing changed") from exc


def decide(
    services: Services,
    promotion: Promotion,
    decision: str,
    approver: str,
    comment: str | None,
    document: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply a verified decision: rotate on approve, record and change nothing on reject.

    ``document`` holds the proposal and the verified decisions, kept in the audit row.
    """
    approver = approver.strip()
    if not approver:
        raise PromotionError("a decision needs the approver's name")
    comment = (comment or "").strip() or None
    if decision == "approve":
        return rotation.approve(services.store, services.registry, promotion, approver, comment, document)
    if decision == "reject":
        return rotation.decline(services.store, promotion, "reject", approver, comment, document)
    raise PromotionError(f"unknown decision {decision!r}; expected approve or reject")


def await_decision(services: Services, promotion: Promotion) -> int:
    """Hold the gate for the approval timeout (and the grace to apply a decision); the timeout."""
    timeout = services.settings.approval_timeout_seconds
    gate.extend(services.store, promotion.id, timeout + gate.DECISION_GRACE_SECONDS)
    return timeout


def time_out(services: Services, promotion: Promotion, timeout: int) -> None:
    """Nobody decided in time: the roles stay, and the audit says so."""
    rotation.decline(services.store, promotion, "timeout", "system", f"no decision within {timeout} s")
