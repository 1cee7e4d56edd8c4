"""Train a candidate on what production saw: labelled dev rows, split by time, a replaceable recipe.

The recipe (settings ``training_recipe``, 'module:function') returns an unfitted scikit-learn
estimator, fitted on the live model's own feature columns only, so no id, label, timestamp or
bookkeeping column can become a feature (a ``ColumnTransformer`` would otherwise remember, and
later require, every column it was fitted on). A recipe that wants other columns returns
``(estimator, feature_names)`` and gets exactly those. The candidate, live and canary are then
scored on the same holdout, and the candidate is registered with those figures, the training
data's fingerprint and its time range, stored as skops (never pickled).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rendezvous.importing import load_callable
from rendezvous.model_files import types_of
from rendezvous.monitoring.reference import model_profile
from rendezvous.promotion import dataset, evaluation
from rendezvous.promotion.errors import TrainingError
from rendezvous.promotion.labels import load_labels, typed_outcomes
from rendezvous.registry import ModelRecord
from rendezvous.services import Services
from rendezvous.settings import MissingSetting


@dataclass(frozen=True)
class TrainingData:
    """The labelled rows of the dev copy, split by time, and where they came from."""

    rows: dataset.LabelledRows
    split: dataset.Split
    fingerprint: str


@dataclass(frozen=True)
class Candidate:
    estimator: Any
    record: ModelRecord
    metrics: dict[str, dict[str, Any]]


def load_recipe(path: str) -> Any:
    """Import the factory named 'module:function'."""
    return load_callable(path, "RENDEZVOUS_TRAINING_RECIPE")


def labelled_data(services: Services) -> dataset.LabelledRows:
    """The dev copy joined with the stored labels, oldest first."""
    s = services.settings
    dev, files = dataset.read_dev_storage(s.dev_url)
    return dataset.labelled_rows(
        dev, files, load_labels(services.store), s.id_column, s.label_column, s.timestamp_column
    )


def training_data(services: Services) -> TrainingData:
    s = services.settings
    try:
        s.required("training_recipe", "training a candidate")
    except MissingSetting as exc:  # said before the dev copy is read, as a training refusal
        raise TrainingError(str(exc)) from exc
    rows = labelled_data(services)
    if len(rows.frame) < s.min_training_rows:
        raise TrainingError(
            f"{len(rows.frame)} labelled rows in the dev copy, fewer than min_training_rows="
            f"{s.min_training_rows}: add labels (`rendezvous labels add FILE`) for scored batches"
        )
    split = dataset.time_split(rows, s.holdout_fraction)
    return TrainingData(rows=rows, split=split, fingerprint=dataset.fingerprint(split.train))


def recipe(services: Services) -> tuple[Any, list[str]]:
    """The recipe's unfitted estimator and the columns it is fitted on: the ones it names, or
    else the live model's feature names."""
    spec = services.settings.required("training_recipe", "training a candidate")
    made = load_recipe(spec)()
    estimator, names = made if isinstance(made, tuple) and len(made) == 2 else (made, None)
    if not hasattr(estimator, "fit"):
        raise TrainingError(
            f"{spec} returned {type(estimator).__name__}, not an estimator or (estimator, feature_names)"
        )
    if names is None:
        live = services.registry.by_role("live")
        if live is None:
            raise TrainingError(
                f"no live model to take the feature names from: have {spec} return (estimator, feature_names)"
            )
        names = live.feature_names
    if isinstance(names, str) or not all(isinstance(name, str) for name in names):
        raise TrainingError(f"{spec} named its features as {names!r}, not a list of column names")
    return estimator, list(names)


def fit(services: Services, data: TrainingData) -> Any:
    """Fit the recipe's estimator on the training part's feature columns."""
    s = services.settings
    estimator, names = recipe(services)
    train = data.split.train
    y = typed_outcomes(train[s.label_column])
    if y.nunique() < 2:
        raise TrainingError(f"the training rows have a single outcome ({y.iloc[0]!r}); nothing to learn")
    never = [s.id_column, s.label_column, *dataset.BOOKKEEPING_COLUMNS]
    return estimator.fit(dataset.feature_frame(train, names, never), y)


def evaluate(services: Services, data: TrainingData, estimator: Any, version: str) -> Candidate:
    """Candidate, live and canary on the same holdout rows."""
    s = services.settings
    record = evaluation.transient_record(estimator, version)
    compared: dict[str, tuple[ModelRecord, Any]] = {"candidate": (record, estimator)}
    for role in ("live", "canary"):
        serving = services.registry.by_role(role)
        if serving is not None:
            compared[role] = (serving, services.registry.load(serving))
    results = evaluation.compare_on(data.split.holdout, compared, s.id_column, s.label_column)
    return Candidate(estimator=estimator, record=record, metrics=results)


def existing_candidate(services: Services, fingerprint: str) -> ModelRecord | None:
    """A model already trained by this recipe on exactly these rows (a rerun with no new data)."""
    recipe = services.settings.training_recipe
    for record in services.registry.list():
        meta = record.metadata or {}
        if meta.get("data_fingerprint") == fingerprint and meta.get("recipe") == recipe:
            return record
    return None


def default_version(data: TrainingData) -> str:
    return f"candidate-{datetime.now(UTC):%Y%m%d-%H%M%S}-{data.fingerprint[:8]}"


def register(
    services: Services,
    data: TrainingData,
    candidate: Candidate,
    version: str,
    flow_run_id: str | None = None,
) -> ModelRecord:
    """Register the fitted candidate (role candidate) with its figures, data and provenance."""
    s = services.settings
    estimator = candidate.estimator
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    split = data.split
    metadata = {
        "source": "train-candidate",
        "recipe": s.training_recipe,
        "estimator": type(final).__name__,
        "label_column": s.label_column,
        "data_fingerprint": data.fingerprint,
        "trained_rows": len(split.train),
        "holdout_rows": len(split.holdout),
        "holdout_fraction": s.holdout_fraction,
        "dev_files": data.rows.files,
        **split.ranges,
        "holdout_metrics": candidate.metrics,
        "flow_run_id": flow_run_id,
    }
    record = candidate.record
    # The drift reference, as for the demo's models: the newest rows the model did not train
    # on, and its scores on them (scores on training rows are more confident than on new ones).
    profile = model_profile(
        estimator,
        record,
        split.holdout,
        s.id_column,
        source=f"train-candidate holdout ({len(split.holdout)} newest labelled rows)",
    )
    # The recipe is configured code this worker has just run to fit the estimator, so the types
    # its estimator needs are vouched for by whoever set the recipe; the promotion report still
    # marks those outside scikit-learn, numpy and scipy for the approver.
    return services.registry.register_estimator(
        estimator,
        "candidate",
        version,
        metadata=metadata,
        profile=profile.to_dict(),
        actor=f"train-candidate (flow run {flow_run_id})" if flow_run_id else "train-candidate",
        trust_types=types_of(estimator),
    )
