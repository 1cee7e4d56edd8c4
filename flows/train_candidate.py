"""Flow `train-candidate`: fit the recipe on labelled dev data, judge it with live and canary on
the same holdout, register it as a candidate (scheduled; a rerun with no new data registers nothing)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from rendezvous.names import Version
from rendezvous.promotion.training import default_version
from tasks import promotion


@flow(name="train-candidate", log_prints=False)
def train_candidate(version: Version | None = None, force: bool = False) -> dict[str, Any]:
    """Train and register a candidate; ``force`` retrains even if these rows were used before."""
    logger = get_run_logger()
    data = promotion.load_training_data()
    if not force:
        same = promotion.existing_candidate(data.fingerprint)
        if same is not None:
            logger.info("no new labelled data since %s; nothing registered", same["version"])
            return {"registered": False, **same}
    estimator = promotion.fit_candidate(data)
    version = version or default_version(data)
    candidate = promotion.evaluate_candidate(data, estimator, version)
    summary = promotion.register_candidate(data, candidate, version, str(flow_run.id))
    promotion.publish_training_report(summary)
    logger.info("registered candidate %s", summary["version"])
    return {"registered": True, **summary}
