"""The model registry: which estimator file plays which role, and proof that it is the file we vetted.

Models are stored as skops files with the list of types each needs (``trusted_types`` in its
metadata). A file is loaded only after its bytes hash to the sha256 recorded at registration,
trusting exactly those types (``rendezvous.model_files``). A joblib file is unpickled only when
the person registering or converting it says they trust it, in their own process.
"""

from __future__ import annotations

import getpass
import hashlib
import tempfile
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from rendezvous.model_files import (
    ModelFileError,
    is_skops,
    load_skops,
    needs_approval,
    to_skops,
    types_needed,
    unpickle_own_file,
    unvouched,
)
from rendezvous.names import InvalidName, checked_name, slug
from rendezvous.promotion import audit
from rendezvous.roles import ROLES, SERVING_ROLES, current_roles
from rendezvous.store import Store
from rendezvous.store.schema import models

FILE_KEYS = ("trusted_types", "converted_from")
"""Metadata the registry writes about the stored file; a caller's values for them are dropped."""


ProfileMaker = Callable[[Any, "ModelRecord"], dict[str, Any]]
"""Makes a model's reference profile from its estimator and record (see ``Registry.register``)."""


class RegistryError(Exception):
    """A model cannot be registered, found or loaded; the message says why."""


class ModelIntegrityError(RegistryError):
    """The model file's bytes or types no longer match what was recorded at registration."""


class ModelFormatError(RegistryError):
    """The model is stored as joblib (a home from before skops): it must be converted first."""


class UntrustedTypesError(RegistryError):
    """The file needs types outside scikit-learn, numpy and scipy that nobody vouched for."""


@dataclass(frozen=True)
class Vetted:
    """A model file ready to store: skops bytes, the types they need, the estimator they hold."""

    data: bytes
    types: list[str]
    estimator: Any
    saved_with: str
    converted_from: dict[str, str] | None = None


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

    @property
    def trusted_types(self) -> list[str] | None:
        """The types its skops file needs, as recorded at registration (None: a joblib model)."""
        types = (self.metadata or {}).get("trusted_types")
        return None if types is None else [str(t) for t in types]

    @property
    def stored_as_skops(self) -> bool:
        """False for a model registered before skops: a joblib file, no recorded types."""
        return self.trusted_types is not None and is_skops(self.path)

    @property
    def types_needing_approval(self) -> list[str]:
        return needs_approval(self.trusted_types or [])

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
        self._cache: dict[str, tuple[tuple[str, tuple[str, ...]], Any]] = {}
        self._cache_lock = threading.Lock()

    def register(
        self,
        source: str | Path,
        role: str,
        version: str | None = None,
        metadata: dict[str, Any] | None = None,
        profile: dict[str, Any] | ProfileMaker | None = None,
        actor: str = "registry",
        available_features: Collection[str] | None = None,
        trust_types: Collection[str] = (),
        trust_pickle: bool = False,
    ) -> ModelRecord:
        """Vet a model file, store it as skops and record it under ``role``.

        A ``.skops`` file is never unpickled: its types are read first, and any outside
        scikit-learn, numpy and scipy must be named in ``trust_types``. Any other file is taken
        for joblib and loaded only with ``trust_pickle`` (the caller has warned the person whose
        own file it is; loading it runs its code), then converted.
        ``live`` and ``canary`` may be registered only while empty (bootstrapping a system);
        afterwards they change only through promotion or rollback. With ``available_features``
        (what validated, enriched rows will hold), a model that needs anything else is refused
        now rather than failing every batch later. ``profile`` may be a function of the vetted
        estimator and its record-to-be (a profile scored by the model itself): it runs before
        anything is stored, so a reference it cannot profile registers nothing.
        """
        import fsspec  # model files: paid by the commands that read them, not by `models list`

        if role not in ROLES:
            raise RegistryError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        if version is not None:
            _checked_version(version)
        with fsspec.open(str(source), "rb") as handle:
            vetted = self._vet(str(source), handle.read(), trust_types, trust_pickle)
        kind, feature_names = inspect_estimator(vetted.estimator)
        if available_features is not None:
            missing = [name for name in feature_names if name not in set(available_features)]
            if missing:
                raise RegistryError(
                    f"{source}: the model expects features the contract and enrichment do not provide: "
                    f"{', '.join(missing)}"
                )
        digest = sha256_bytes(vetted.data)
        version = _checked_version(version or f"{slug(Path(str(source)).stem, 100, 'model')}-{digest[:8]}")
        metadata = {
            **{key: value for key, value in (metadata or {}).items() if key not in FILE_KEYS},
            **_class_metadata(kind, vetted.estimator),
            "trusted_types": vetted.types,
        }
        if vetted.converted_from:
            metadata["converted_from"] = vetted.converted_from
        record = {
            "version": version,
            "role": role,
            "shadow": False,
            "path": str(source),  # until stored, below
            "sha256": digest,
            "kind": kind,
            "feature_names": feature_names,
            "sklearn_version": vetted.saved_with,
            "metadata": metadata,
            "profile": profile,
            "registered_at": datetime.now(UTC),
        }
        if callable(profile):  # the record as it will be, but for where the file is stored
            record["profile"] = profile(vetted.estimator, ModelRecord(**{**record, "profile": None}))
        record["path"] = self._write(version, digest, vetted.data)
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

    def register_estimator(self, estimator: Any, role: str, version: str, **options: Any) -> ModelRecord:
        """Register an estimator fitted in this process (training, the demo): dumped as skops,
        then vetted like any skops file (``options`` as for ``register``)."""
        with tempfile.TemporaryDirectory() as scratch:
            file = Path(scratch) / f"{version}.skops"
            file.write_bytes(to_skops(estimator))
            return self.register(file, role, version=version, **options)

    def convert(self, version: str, trust_types: Collection[str] = ()) -> ModelRecord:
        """Store a model registered as joblib (a home from before skops) as skops, in place.

        Like registering a joblib file, this unpickles it: call it only from the operator's
        own process, after the warning. The joblib bytes must still match their sha256. The new
        sha256 is audited (`convert`, by the operator's login), as a registration is.
        """
        record = self.get(version)
        if record.stored_as_skops:
            raise RegistryError(f"model {version} is stored as skops already")
        vetted = self._vet(record.path, self.verify_file(record), trust_types, trust_pickle=True)
        digest = sha256_bytes(vetted.data)
        metadata = {
            **record.metadata,
            **_class_metadata(record.kind, vetted.estimator),
            "trusted_types": vetted.types,
            "converted_from": vetted.converted_from,
        }
        with self.store.begin() as conn:
            current = self.get(version, conn)
            if current.sha256 != record.sha256:
                raise RegistryError(f"model {version} changed while it was being converted; nothing done")
            conn.execute(
                update(models)
                .where(models.c.version == version)
                .values(path=self._write(version, digest, vetted.data), sha256=digest, metadata=metadata)
            )
            held = current_roles(conn)
            change = f"{version} stored as skops: sha256 {record.sha256[:12]} -> {digest[:12]}"
            audit.record(conn, "convert", getpass.getuser(), change, None, held, held)
        return self.get(version)

    @staticmethod
    def _vet(source: str, data: bytes, trust_types: Collection[str], trust_pickle: bool) -> Vetted:
        """The skops form of a model file and the types it needs, all of them vouched for."""
        converted_from = None
        try:
            if not is_skops(source):
                if not trust_pickle:
                    raise RegistryError(
                        f"{source} is not a .skops file: a joblib/pickle file runs code when loaded, so "
                        "only `rendezvous models register` or `rendezvous models convert` load one, "
                        "for the person whose own file it is"
                    )
                estimator, saved_with = unpickle_own_file(data)
                converted_from = {"format": "joblib", "sha256": sha256_bytes(data)}
                data = to_skops(estimator)
            types = types_needed(data)
            unnamed = unvouched(types, trust_types)
            if unnamed:
                raise UntrustedTypesError(
                    f"{source} needs types outside scikit-learn, numpy and scipy: {', '.join(unnamed)}. "
                    "They are rebuilt whenever the model is loaded; if you trust their code, name them "
                    f"with --trust-types {','.join(unnamed)}"
                )
            estimator, skops_saved_with = load_skops(data, types)
        except ModelFileError as exc:
            raise RegistryError(f"{source}: {exc}") from exc
        if converted_from is None:
            saved_with = skops_saved_with
        return Vetted(data, types, estimator, saved_with, converted_from)

    def _write(self, version: str, digest: str, data: bytes) -> str:
        import fsspec

        target = f"{self.models_dir}/{version}-{digest[:12]}.skops"
        fs, path = fsspec.core.url_to_fs(target)
        fs.makedirs(fs._parent(path), exist_ok=True)
        with fs.open(path, "wb") as handle:
            handle.write(data)
        return target

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
        """The estimator, built from its skops file once the bytes match the registry, trusting
        exactly the types recorded at registration (cached per process). Never unpickles."""
        types = record.trusted_types if record.stored_as_skops else None
        if types is None:
            raise ModelFormatError(
                f"model {record.version} is stored as joblib ({record.path}), which runs code when "
                f"loaded; no worker or flow loads it. Convert it, as an operator who trusts the file: "
                f"`rendezvous models convert {record.version}`"
            )
        data = self.verify_file(record)
        key = (record.sha256, tuple(types))
        with self._cache_lock:
            cached = self._cache.get(record.version)
            if cached and cached[0] == key:
                return cached[1]
        try:
            estimator, _ = load_skops(data, types)
        except ModelFileError as exc:
            raise ModelIntegrityError(f"model {record.version}: {exc}; refusing to load it") from exc
        with self._cache_lock:
            self._cache[record.version] = (key, estimator)
        return estimator

    def _read(self, query: Any) -> list[Any]:
        with self.store.begin() as conn:
            return list(conn.execute(query).all())
