"""Prefect tasks over training and promotion: names, retries, artifacts; the logic is in the domain."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from rendezvous.promotion import gate, review, training
from rendezvous.promotion.gate import Promotion
from rendezvous.promotion.report import NAMES, PromotionReport
from rendezvous.promotion.training import Candidate, TrainingData
from rendezvous.services import get_services
from rendezvous.trust.consent import Subject


@task(name="load-labelled-dev-data", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def load_training_data() -> TrainingData:
    return training.training_data(get_services())


@task(name="fit-candidate", cache_policy=NO_CACHE)
def fit_candidate(data: TrainingData) -> Any:
    return training.fit(get_services(), data)


@task(name="evaluate-on-holdout", cache_policy=NO_CACHE)
def evaluate_candidate(data: TrainingData, estimator: Any, version: str) -> Candidate:
    return training.evaluate(get_services(), data, estimator, version)


@task(name="find-identical-candidate", cache_policy=NO_CACHE)
def existing_candidate(fingerprint: str) -> dict[str, Any] | None:
    record = training.existing_candidate(get_services(), fingerprint)
    return record.summary() if record else None


@task(name="register-candidate", cache_policy=NO_CACHE)
def register_candidate(
    data: TrainingData, candidate: Candidate, version: str, flow_run_id: str | None
) -> dict[str, Any]:
    record = training.register(get_services(), data, candidate, version, flow_run_id)
    return record.summary()


@task(name="publish-training-report", cache_policy=NO_CACHE)
def publish_training_report(summary: dict[str, Any]) -> None:
    meta = summary["metadata"]
    rows = [
        {"model": name, **{NAMES.get(k, k): v for k, v in figures.items()}}
        for name, figures in meta["holdout_metrics"].items()
    ]
    create_table_artifact(
        rows,
        key="candidate-holdout",
        description=f"{summary['version']}: candidate, live and canary on the same holdout rows",
    )
    create_markdown_artifact(
        "\n".join(
            [
                f"# Candidate `{summary['version']}`",
                "",
                f"- Recipe `{meta['recipe']}` ({meta['estimator']}), sha256 `{summary['sha256'][:16]}`",
                f"- Trained on {meta['trained_rows']:,} labelled rows from {meta['train_from']} to "
                f"{meta['train_to']}; data fingerprint `{meta['data_fingerprint'][:16]}`",
                f"- Held out the newest {meta['holdout_rows']:,} rows, {meta['holdout_from']} to "
                f"{meta['holdout_to']}",
                "",
                f"Next: `rendezvous models shadow {summary['version']} on`, then "
                f"`rendezvous promote {summary['version']}`.",
            ]
        ),
        key="candidate-summary",
    )


@task(name="open-promotion", cache_policy=NO_CACHE)
def open_promotion(version: str | None, flow_run_id: str | None) -> Promotion:
    return review.start(get_services(), version, flow_run_id)


@task(name="evaluation-report", cache_policy=NO_CACHE)
def build_report(promotion: Promotion) -> PromotionReport:
    return review.build_report(get_services(), promotion)


@task(name="publish-report", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def publish_report(promotion: Promotion, report: PromotionReport) -> None:
    """The report as the UI shows it (a table and a markdown verdict), also kept in the store."""
    create_table_artifact(
        report.table(),
        key="promotion-report",
        description=f"Promotion #{promotion.id} of {promotion.candidate}: figures and their rows",
    )
    create_markdown_artifact(
        report.markdown(),
        key="promotion-verdict",
        description=f"Promotion #{promotion.id} of {promotion.candidate}",
    )
    gate.attach_report(get_services().store, promotion.id, report.to_dict())


@task(name="sign-proposal", cache_policy=NO_CACHE)
def propose(
    promotion: Promotion, report: PromotionReport, key_file: str | None, proposer: str | None
) -> tuple[Subject, dict[str, Any] | None]:
    """What decisions on this promotion sign, and the proposal (signed when a key is given)."""
    services = get_services()
    about = review.subject(services, promotion, report.to_dict())
    return about, review.propose(services, promotion, about, key_file, proposer)


@task(name="verify-decision", cache_policy=NO_CACHE)
def verify_decision(
    promotion: Promotion,
    about: Subject,
    proposal: dict[str, Any] | None,
    earlier: list[dict[str, Any]],
    answer: dict[str, str],
) -> dict[str, Any]:
    return review.check_decision(get_services(), promotion, about, proposal, earlier, answer)


@task(name="apply-decision", cache_policy=NO_CACHE)
def apply_decision(
    promotion: Promotion,
    decision: str,
    approver: str,
    comment: str | None,
    document: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return review.decide(get_services(), promotion, decision, approver, comment, document)
