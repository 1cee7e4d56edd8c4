"""The model registry: which estimator file plays which role, and proof that it is the file we vetted.

joblib files are pickles, and unpickling runs code, so a file is loaded only after its bytes
hash to the sha256 recorded when it was registered.
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from rendezvous.names import InvalidName, checked_name, slug
from rendezvous.promotion import audit
from rendezvous.roles import ROLES, SERVING_ROLES, current_roles
from rendezvous.store import Store
from rendezvous.store.schema import models


class RegistryError(Exception):
    """A model cannot be registered, found or loaded; the message says why."""


class ModelIntegrityError(RegistryError):
    """The model file's bytes no longer match the sha256 recorded at registration."""


@dataclass(frozen=True)
class ModelRecord:
    version: str
    role: str
    shadow: bool
    path: str
    sha256: str
    kind: str
    feature_names: list[str]
    sklearn_version: str
    metadata: dict[str, Any]
    registered_at: datetime
    profile: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def from_row(cls, row: Any) -> ModelRecord:
        return cls(**dict(row._mapping))

    def summary(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "role": self.role,
            "shadow": self.shadow,
            "kind": self.kind,
            "sha256": self.sha256,
            "features": len(self.feature_names),
            "sklearn_version": self.sklearn_version,
            "registered_at": self.registered_at.isoformat(),
            "has_profile": self.profile is not None,
            "metadata": self.metadata,
        }


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _unpickle(data: bytes) -> tuple[Any, str]:
    """Load an estimator and report the scikit-learn version it was saved with."""
    import joblib  # scikit-learn is paid for by the commands that load a model, not by every read
    import sklearn
    from sklearn.exceptions import InconsistentVersionWarning

    saved_with = sklearn.__version__
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InconsistentVersionWarning)
        estimator = joblib.load(io.BytesIO(data))
    for warning in caught:
        if isinstance(warning.message, InconsistentVersionWarning):
            saved_with = warning.message.original_sklearn_version
    return estimator, saved_with


def inspect_estimator(estimator: Any) -> tuple[str, list[str]]:
    """The kind of model and the feature names it was fitted on, or a clear refusal."""
    from sklearn.base import is_classifier, is_regressor

    if not hasattr(estimator, "fit") or not hasattr(estimator, "predict"):
        raise RegistryError(f"not a scikit-learn estimator: {type(estimator).__name__} has no fit/predict")
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        raise RegistryError(
            "the estimator records no feature names: fit it on a pandas DataFrame so that "
            "feature_names_in_ is set"
        )
    if is_classifier(estimator) and hasattr(estimator, "predict_proba"):
        kind = "classifier"
    elif is_regressor(estimator):
        kind = "regressor"
    else:
        raise RegistryError(
            f"{type(estimator).__name__} is neither a probabilistic classifier nor a regressor"
        )
    return kind, [str(n) for n in names]


def _class_metadata(kind: str, estimator: Any) -> dict[str, Any]:
    """A classifier's classes as text and its positive class: outcomes are stored against them."""
    from rendezvous.classes import classes_of  # pandas: paid by registering, not by `models list`

    return classes_of(estimator).to_metadata() if kind == "classifier" else {}


def _checked_version(version: str) -> str:
    try:
        return checked_name(version)
    except InvalidName as exc:
        raise RegistryError(str(exc)) from exc


class Registry:
    """Models and their roles, stored beside the ledger so one transaction can rotate them."""

    def __init__(self, store: Store, models_dir: str) -> None:
        self.store = store
        self.models_dir = models_dir.rstrip("/")
        self._cache: dict[str, tuple[str, Any]] = {}
        self._cache_lock = threading.Lock()

    def register(
        self,
        source: str | Path,
        role: str,
        version: str | None = None,
        metadata: dict[str, Any] | None = None,
        profile: dict[str, Any] | None = None,
        actor: str = "registry",
        available_features: Collection[str] | None = None,
    ) -> ModelRecord:
        """Vet a joblib file, copy it into the store and record it under ``role``.

        ``live`` and ``canary`` may be registered only while empty (bootstrapping a system);
        afterwards they change only through promotion or rollback. With ``available_features``
        (what validated, enriched rows will hold), a model that needs anything else is refused
        now rather than failing every batch later.
        """
        import fsspec  # model files: paid by the commands that read them, not by `models list`

        if role not in ROLES:
            raise RegistryError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        if version is not None:
            _checked_version(version)
        with fsspec.open(str(source), "rb") as handle:
            data = handle.read()
        digest = sha256_bytes(data)
        try:
            estimator, saved_with = _unpickle(data)
        except Exception as exc:
            raise RegistryError(f"{source}: not a loadable joblib file ({exc})") from exc
        kind, feature_names = inspect_estimator(estimator)
        if available_features is not None:
            missing = [name for name in feature_names if name not in set(available_features)]
            if missing:
                raise RegistryError(
                    f"{source}: the model expects features the contract and enrichment do not provide: "
                    f"{', '.join(missing)}"
                )
        version = _checked_version(version or f"{slug(Path(str(source)).stem, 100, 'model')}-{digest[:8]}")
        target = f"{self.models_dir}/{version}-{digest[:12]}.joblib"
        fs, path = fsspec.core.url_to_fs(target)
        fs.makedirs(fs._parent(path), exist_ok=True)
        with fs.open(path, "wb") as handle:
            handle.write(data)
        record = {
            "version": version,
            "role": role,
            "shadow": False,
            "path": target,
            "sha256": digest,
            "kind": kind,
            "feature_names": feature_names,
            "sklearn_version": saved_with,
            "metadata": {**(metadata or {}), **_class_metadata(kind, estimator)},
            "profile": profile,
            "registered_at": datetime.now(UTC),
        }
        try:
            with self.store.begin() as conn:
                clash = self._clash(conn, version, role)
                if clash:
                    raise RegistryError(clash)
                before = current_roles(conn)
                conn.execute(insert(models).values(**record))
                audit.record(
                    conn, "register", actor, f"{version} as {role}", None, before, {**before, role: version}
                )
        except IntegrityError as exc:  # a concurrent registration won between check and insert
            with self.store.begin() as conn:
                clash = self._clash(conn, version, role)
            if clash is None:
                raise
            raise RegistryError(clash) from exc
        return ModelRecord(**record)

    @staticmethod
    def _clash(conn: Connection, version: str, role: str) -> str | None:
        """Why ``version`` cannot be registered as ``role`` now: its name is taken or the role held."""
        if conn.execute(select(models.c.version).where(models.c.version == version)).first():
            return f"model version {version!r} is already registered"
        holder = current_roles(conn).get(role)
        if holder is not None:
            return (
                f"version {version} cannot be {role}: {holder} already is; "
                "roles change only through promotion (`rendezvous promote`) or rollback"
            )
        return None

    def get(self, version: str, conn: Connection | None = None) -> ModelRecord:
        query = select(models).where(models.c.version == version)
        rows = conn.execute(query).all() if conn else self._read(query)
        if not rows:
            raise RegistryError(f"no model version {version!r} in the registry")
        return ModelRecord.from_row(rows[0])

    def list(self) -> list[ModelRecord]:
        rows = self._read(select(models).order_by(models.c.registered_at))
        return [ModelRecord.from_row(r) for r in rows]

    def by_role(self, role: str) -> ModelRecord | None:
        """The live or the canary model as the audit says, None while nobody holds the role."""
        if role not in SERVING_ROLES:
            raise ValueError(f"{role!r} is held by many models; expected one of {', '.join(SERVING_ROLES)}")
        with self.store.begin() as conn:
            version = current_roles(conn)[role]
            return replace(self.get(version, conn), role=role) if version else None

    def serving_set(self) -> tuple[ModelRecord, ModelRecord | None, list[ModelRecord]]:
        """Live and canary as the audit says, and shadow candidates, read once per batch.

        The pair's records carry the role the audit gives them, whatever the models table says.
        """
        with self.store.begin() as conn:
            held = current_roles(conn)
            rows = {r.version: ModelRecord.from_row(r) for r in conn.execute(select(models)).all()}
        if held["live"] is None:
            raise RegistryError("no live model registered: `rendezvous models register PATH --role live`")
        unknown = [version for version in held.values() if version and version not in rows]
        if unknown:
            raise RegistryError(
                f"the role audit names {', '.join(unknown)} as serving; the registry has no such model"
            )
        canary = replace(rows[held["canary"]], role="canary") if held["canary"] else None
        serving = set(held.values())
        shadows = [
            r for r in rows.values() if r.shadow and r.role == "candidate" and r.version not in serving
        ]
        return replace(rows[held["live"]], role="live"), canary, shadows

    def set_shadow(self, version: str, on: bool, actor: str = "registry") -> ModelRecord:
        """Score a candidate beside the serving pair (or stop); audited, as it runs the model."""
        with self.store.begin() as conn:
            record = self.get(version, conn)
            held = current_roles(conn, version)
            if on and held.get("candidate") != version:
                raise RegistryError(f"{version} is {record.role}; only candidates are scored in shadow")
            conn.execute(update(models).where(models.c.version == version).values(shadow=on))
            audit.record(conn, f"shadow {'on' if on else 'off'}", actor, version, None, held, held)
        return self.get(version)

    def set_profile(self, version: str, profile: dict[str, Any]) -> None:
        with self.store.begin() as conn:
            conn.execute(update(models).where(models.c.version == version).values(profile=profile))

    def verify_file(self, record: ModelRecord) -> bytes:
        """The model's bytes, or ModelIntegrityError if they are not the registered ones."""
        import fsspec

        try:
            with fsspec.open(record.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError as exc:
            raise ModelIntegrityError(f"model {record.version}: file {record.path} is missing") from exc
        actual = sha256_bytes(data)
        if actual != record.sha256:
            raise ModelIntegrityError(
                f"model {record.version}: sha256 of {record.path} is {actual[:16]}..., "
                f"registry says {record.sha256[:16]}...; refusing to load a changed file"
            )
        return data

    def load(self, record: ModelRecord) -> Any:
        """The estimator, unpickled only after its bytes match the registry (cached per process)."""
        data = self.verify_file(record)
        with self._cache_lock:
            cached = self._cache.get(record.version)
            if cached and cached[0] == record.sha256:
                return cached[1]
        estimator, _ = _unpickle(data)
        with self._cache_lock:
            self._cache[record.version] = (record.sha256, estimator)
        return estimator

    def _read(self, query: Any) -> list[Any]:
        with self.store.begin() as conn:
            return list(conn.execute(query).all())
