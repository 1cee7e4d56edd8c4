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
from rendezvous.demo.home import demo_locations, mark_demo_home, write_demo_settings
from rendezvous.demo.recipes import SelectColumns, canary_pipeline, default_pipeline
from rendezvous.model_files import to_skops
from rendezvous.monitoring.reference import profile_for_model
from rendezvous.registry import ModelRecord
from rendezvous.services import Services, forget_services, get_services
from rendezvous.settings import HOME_CONFIG, LOCATIONS, Settings, get_settings

STATE_FOLDERS = ("inbox", "outbox", "archive", "dev", "done", "failed", "reference", "labels", "models")
STATE_URLS = LOCATIONS
# The demo's own column selector is the one type its models need outside scikit-learn, numpy
# and scipy; the demo vouches for it as a person registering their models would.
DEMO_TYPES = (f"{SelectColumns.__module__}.{SelectColumns.__qualname__}",)


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


class DemoRefused(Exception):
    """The home holds state the demo did not build: it is not deleted without ``--force``."""

    def __init__(self, locations: list[str]) -> None:
        super().__init__(
            "this home was not built by `rendezvous demo`; with --force it would delete: "
            + ", ".join(locations)
        )
        self.locations = locations


def state_locations(settings: Settings) -> list[str]:
    """Every place the demo writes to: the known folders under the home, the configured state
    locations (which may be object storage), the home's own settings and the SQLite files."""
    home = settings.home
    locations = [str(home / name) for name in STATE_FOLDERS]
    locations += [getattr(settings, name) for name in STATE_URLS]
    locations.append(str(home / HOME_CONFIG))
    if settings.database_url.startswith("sqlite:///"):
        database = settings.database_url.removeprefix("sqlite:///")
        locations += [database + suffix for suffix in ("", "-wal", "-shm")]
    return list(dict.fromkeys(location for location in locations if location))


def wipe_state(services: Services, force: bool = False) -> list[str]:
    """Delete what an earlier demo built in this home (the locations its marker lists); a home
    the demo did not build is refused unless ``force``, naming what would go. The deleted."""
    settings = services.settings
    recorded = demo_locations(settings.home)
    candidates = state_locations(settings) if recorded is None else recorded
    present = [url for url in candidates if _exists(url)]
    if recorded is None and present and not force:
        raise DemoRefused(present)
    services.store.dispose()
    forget_services()
    for url in present:
        fs, path = filesystem(url)
        if fs.exists(path):
            fs.rm(path, recursive=True)
    return present


def _exists(url: str) -> bool:
    fs, path = filesystem(url)
    return bool(fs.exists(path))


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
    services: Services,
    rows_per_batch: int = 2000,
    fresh: bool = True,
    seed: int = 7,
    force: bool = False,
) -> DemoBuild:
    """Build the demo in the home of ``services``' settings, writing the demo's settings into the
    home's rendezvous.toml first (the services used from then on read them)."""
    if fresh:
        wipe_state(services, force)
    before = state_locations(services.settings)
    write_demo_settings(services.settings.home)
    get_settings.cache_clear()
    forget_services()
    services = get_services()
    settings = services.settings
    mark_demo_home(settings.home, list(dict.fromkeys(before + state_locations(settings))))
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
