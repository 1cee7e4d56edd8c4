"""Build the demo from nothing: reference data, trained live and canary models, an inbox."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import joblib
from sklearn.metrics import roc_auc_score

from rendezvous.batchfiles import filesystem
from rendezvous.demo.batches import write_demo_inbox, write_demo_labels
from rendezvous.demo.data import LABEL, make_customers, make_history
from rendezvous.demo.features import MODEL_FEATURES
from rendezvous.demo.recipes import canary_pipeline, default_pipeline
from rendezvous.registry import ModelRecord
from rendezvous.services import Services, forget_services

STATE_FOLDERS = ("inbox", "outbox", "archive", "dev", "done", "failed", "reference", "labels")


@dataclass
class DemoBuild:
    reference_url: str
    labels_dir: Path
    models: list[ModelRecord] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        lines = [f"reference table: {self.reference_url}"]
        lines += [
            f"{m.role} model: {m.version} ({m.metadata.get('estimator')}, holdout ROC AUC "
            f"{m.metadata.get('holdout_roc_auc')})"
            for m in self.models
        ]
        lines.append(f"inbox: {len(self.batches)} batches ({', '.join(self.batches)})")
        lines.append(f"ground-truth labels for later: {self.labels_dir}")
        return lines


def wipe_state(services: Services) -> None:
    """Remove the demo's state under RENDEZVOUS_HOME (known folders and the SQLite file only)."""
    settings = services.settings
    services.store.dispose()
    forget_services()
    home = settings.home
    for name in STATE_FOLDERS:
        fs, path = filesystem(str(home / name))
        if fs.exists(path):
            fs.rm(path, recursive=True)
    if settings.database_url.startswith("sqlite:///"):
        database = Path(settings.database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)


def build_demo(
    services: Services, rows_per_batch: int = 2000, fresh: bool = True, seed: int = 7
) -> DemoBuild:
    if fresh:
        wipe_state(services)
        from rendezvous.services import get_services

        services = get_services(services.settings)
    settings = services.settings
    customers = make_customers(5000, seed=seed)
    fs, path = filesystem(settings.reference_url)
    fs.makedirs(fs._parent(path), exist_ok=True)
    with fs.open(path, "wb") as handle:
        customers.to_parquet(handle, index=False)

    history = make_history(40_000, customers, seed=seed)
    cut = int(len(history) * 0.8)
    train, holdout = history.iloc[:cut], history.iloc[cut:]
    build = DemoBuild(reference_url=settings.reference_url, labels_dir=settings.home / "labels")
    with tempfile.TemporaryDirectory() as scratch:
        for role, factory in (("live", default_pipeline), ("canary", canary_pipeline)):
            model = factory().fit(train[MODEL_FEATURES], train[LABEL])
            auc = roc_auc_score(holdout[LABEL], model.predict_proba(holdout[MODEL_FEATURES])[:, 1])
            file = Path(scratch) / f"demo-{role}.joblib"
            joblib.dump(model, file)
            metadata = {
                "estimator": type(model[-1]).__name__,
                "holdout_roc_auc": round(float(auc), 4),
                "trained_rows": len(train),
                "source": "rendezvous demo",
            }
            build.models.append(
                services.registry.register(file, role, version=f"demo-{role}-v1", metadata=metadata)
            )
    inbox = Path(settings.inbox_url)
    build.batches = [
        p.name for p in write_demo_inbox(inbox, customers, seed=seed, rows=rows_per_batch)
    ]
    write_demo_labels(build.labels_dir, customers, seed=seed, rows=rows_per_batch)
    return build
