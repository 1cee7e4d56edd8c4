"""Build the demo from nothing: reference data, trained live and canary models, an inbox."""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fsspec.implementations.local import LocalFileSystem
from sklearn.metrics import roc_auc_score

from rendezvous.batchfiles import filesystem
from rendezvous.demo.batches import write_demo_inbox, write_demo_labels
from rendezvous.demo.data import LABEL, make_customers, make_history
from rendezvous.demo.features import MODEL_FEATURES
from rendezvous.demo.recipes import SelectColumns, canary_pipeline, default_pipeline
from rendezvous.model_files import to_skops
from rendezvous.monitoring.reference import profile_for_model
from rendezvous.registry import ModelRecord
from rendezvous.services import Services, forget_services

STATE_FOLDERS = ("inbox", "outbox", "archive", "dev", "done", "failed", "reference", "labels")
# The demo's own column selector is the one type its models need outside scikit-learn, numpy
# and scipy; the demo vouches for it as a person registering their models would.
DEMO_TYPES = (f"{SelectColumns.__module__}.{SelectColumns.__qualname__}",)
STATE_URLS = ("inbox_url", "outbox_url", "archive_url", "dev_url", "done_url", "failed_url", "labels_url")


@dataclass
class DemoBuild:
    reference_url: str
    labels_dir: str
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
    """Remove the demo's state: known folders under RENDEZVOUS_HOME, the configured state
    locations (which may be object storage), the reference table and the SQLite file only."""
    settings = services.settings
    services.store.dispose()
    forget_services()
    home = settings.home
    locations = [str(home / name) for name in STATE_FOLDERS]
    locations += [getattr(settings, name) for name in STATE_URLS]
    for url in [*dict.fromkeys(locations), settings.reference_url]:
        fs, path = filesystem(url)
        if fs.exists(path):
            fs.rm(path, recursive=True)
    if settings.database_url.startswith("sqlite:///"):
        database = Path(settings.database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)


@dataclass(frozen=True)
class TrainedModel:
    role: str
    model_bytes: bytes  # the fitted pipeline as a skops file
    metadata_json: str
    profile_json: str


@functools.cache
def train_demo_models(seed: int = 7) -> tuple[TrainedModel, ...]:
    """The live and canary models trained on the demo's history: the same for the same seed, so
    trained once per process (most of a demo's cost; the test suite builds many demos)."""
    customers = make_customers(5000, seed=seed)
    history = make_history(40_000, customers, seed=seed)
    cut = int(len(history) * 0.8)
    train, holdout = history.iloc[:cut], history.iloc[cut:]
    trained = []
    for role, factory in (("live", default_pipeline), ("canary", canary_pipeline)):
        model = factory().fit(train[MODEL_FEATURES], train[LABEL])
        holdout_scores = model.predict_proba(holdout[MODEL_FEATURES])[:, 1]
        auc = roc_auc_score(holdout[LABEL], holdout_scores)
        metadata = {
            "estimator": type(model[-1]).__name__,
            "holdout_roc_auc": round(float(auc), 4),
            "trained_rows": len(train),
            "source": "rendezvous demo",
        }
        # The drift reference is the newest history the model did not train on: tenure
        # grows with calendar time (the whole year differs from November by half a year),
        # and a model's scores on its own training rows are more confident than on new ones.
        profile = profile_for_model(
            holdout, MODEL_FEATURES, holdout_scores, source="training holdout (newest 20%)"
        )
        trained.append(
            TrainedModel(role, to_skops(model), json.dumps(metadata), json.dumps(profile.to_dict()))
        )
    return tuple(trained)


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

    build = DemoBuild(reference_url=settings.reference_url, labels_dir=settings.labels_url)
    with tempfile.TemporaryDirectory() as scratch:
        for trained in train_demo_models(seed):
            file = Path(scratch) / f"demo-{trained.role}.skops"
            file.write_bytes(trained.model_bytes)
            build.models.append(
                services.registry.register(
                    file,
                    trained.role,
                    version=f"demo-{trained.role}-v1",
                    metadata=json.loads(trained.metadata_json),
                    profile=json.loads(trained.profile_json),
                    trust_types=DEMO_TYPES,
                )
            )
    with local_folder(settings.inbox_url) as inbox:
        build.batches = [
            p.name for p in write_demo_inbox(inbox, customers, seed=seed, rows=rows_per_batch)
        ]
    with local_folder(settings.labels_url) as labels:
        write_demo_labels(labels, customers, seed=seed, rows=rows_per_batch)
    return build


@contextmanager
def local_folder(url: str) -> Iterator[Path]:
    """A local folder to write files for ``url``: the folder itself when ``url`` is local,
    else a scratch folder uploaded there afterwards, oldest file first (the inbox is FIFO)."""
    fs, root = filesystem(url)
    if isinstance(fs, LocalFileSystem):
        yield Path(root)
        return
    with tempfile.TemporaryDirectory() as scratch:
        yield Path(scratch)
        fs.makedirs(root, exist_ok=True)
        for file in sorted(Path(scratch).iterdir(), key=lambda p: p.stat().st_mtime_ns):
            fs.put_file(str(file), f"{root.rstrip('/')}/{file.name}")
