"""`rendezvous models register|convert`: model files come in here, and only here as joblib.

A joblib file is unpickled in this process only, the person's own, after a warning; the store
keeps the skops form, which workers and flows load without running code.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rendezvous.cli.console import console, errors, fail
from rendezvous.cli.params import key_values, version_name
from rendezvous.model_files import PICKLE_WARNING, is_skops
from rendezvous.printing import terminal
from rendezvous.services import get_services

if TYPE_CHECKING:
    from rendezvous.registry import ModelRecord, ProfileMaker
    from rendezvous.services import Services

TrustTypes = Annotated[
    list[str] | None,
    typer.Option(
        "--trust-types",
        help="Types outside scikit-learn, numpy and scipy whose code you vouch for "
        "(module.Class; repeat the option or separate with commas).",
    ),
]


def _names(values: list[str] | None) -> list[str]:
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def _warn_pickle(source: str) -> None:
    errors.print(f"[bold yellow]warning:[/] {terminal(PICKLE_WARNING.format(source=source))}")


def _describe_types(record: ModelRecord) -> str:
    flagged = record.types_needing_approval
    types = record.trusted_types or []
    if not types:
        return "types: skops defaults only"
    text = f"types trusted when it loads: {', '.join(types)}"
    if flagged:
        text += f"; outside scikit-learn, numpy, scipy (vouched for): {', '.join(flagged)}"
    return text


ReferenceFile = Annotated[
    Path | None,
    typer.Option(
        "--reference",
        help="Reference data (CSV, Parquet, JSON Lines; compressed too) the model's drift is "
        "measured against: its features and the model's own scores on them. Without one, a "
        "random sample of its first batches is used.",
    ),
]


def _profile_maker(services: Services, reference: Path) -> ProfileMaker:
    """Reads the reference file now (refusing a bad one before any model is loaded); the
    profile is made once the model is vetted, from its own scores of those rows."""
    from rendezvous.monitoring.reference import model_profile
    from rendezvous.monitoring.reference_file import read_reference

    frame = read_reference(services, str(reference))
    settings = services.settings

    def make(estimator: object, record: ModelRecord) -> dict:
        source = f"reference file {reference.name}"
        seed = settings.monitoring.features.seed
        return model_profile(estimator, record, frame, settings.id_column, source, seed).to_dict()

    return make


def _refusals() -> tuple[type[Exception], ...]:
    """What a registration or profiling may be refused for, each said in its message (exit 2)."""
    from rendezvous.enrichment import EnrichmentError
    from rendezvous.monitoring.reference_file import ReferenceFileError
    from rendezvous.registry import RegistryError
    from rendezvous.scoring import ModelInputError
    from rendezvous.settings import MissingSetting

    return RegistryError, MissingSetting, ReferenceFileError, ModelInputError, EnrichmentError


def _describe_profile(record: ModelRecord) -> str:
    from rendezvous.monitoring.overview import describe_profile

    if record.profile is None:
        return "reference: none yet (a fallback sample of its first batches)"
    return f"reference: {describe_profile(record.profile)}"


def models_register(
    path: Path,
    role: Annotated[str, typer.Option(help="live, canary, candidate or retired.")],
    version: Annotated[
        str | None,
        typer.Option(help="Defaults to <file stem>-<sha256 prefix>.", callback=version_name),
    ] = None,
    meta: Annotated[list[str] | None, typer.Option(help="key=value metadata, repeatable.")] = None,
    trust_types: TrustTypes = None,
    reference: ReferenceFile = None,
) -> None:
    """Register a scikit-learn estimator or pipeline: a .skops file, or your own joblib file
    (loaded once, here, and stored as skops)."""
    from rendezvous.pipeline import available_features

    metadata = key_values(meta)
    pickled = not is_skops(path)
    if pickled:
        _warn_pickle(str(path))
    try:
        services = get_services()
        record = services.registry.register(
            path,
            role,
            version=version,
            metadata=metadata,
            profile=_profile_maker(services, reference) if reference else None,
            actor=getpass.getuser(),
            available_features=available_features(services),
            trust_types=_names(trust_types),
            trust_pickle=pickled,
        )
    except _refusals() as exc:
        raise fail(f"refused: {exc}", 2) from exc
    console.print(
        terminal(
            f"registered {record.version} as {record.role} (sha256 {record.sha256[:12]} of its skops file, "
            f"{len(record.feature_names)} features, scikit-learn {record.sklearn_version}); "
            f"{_describe_types(record)}; {_describe_profile(record)}"
        )
    )
    from rendezvous.roles import current_roles

    with services.store.begin() as conn:
        serving = current_roles(conn)["live"] == record.version
    if serving:  # the home can score now: the inbox is where its batches go
        from rendezvous.batchfiles import make_folder

        inbox = services.settings.inbox_url
        make_folder(inbox)
        console.print(terminal(f"batch files go into {inbox}; `rendezvous score` scores them"))


def models_profile(
    version: Annotated[str, typer.Argument(help="The registered model whose reference to replace.")],
    reference: Annotated[
        Path, typer.Option("--reference", help="Reference data: CSV, Parquet, JSON Lines (compressed too).")
    ],
) -> None:
    """Replace a model's reference profile with one built from a reference data file (its
    features, and the model's own scores on them); drift is measured against it from the next batch."""
    try:
        services = get_services()
        registry = services.registry
        record = registry.get(version)
        make = _profile_maker(services, reference)
        registry.set_profile(version, make(registry.load(record), record))
    except _refusals() as exc:
        raise fail(f"refused: {exc}", 2) from exc
    console.print(terminal(f"{version}: {_describe_profile(registry.get(version))}"))


def models_convert(
    versions: Annotated[
        list[str] | None, typer.Argument(help="Models to convert; default: every one stored as joblib.")
    ] = None,
    trust_types: TrustTypes = None,
) -> None:
    """Store models registered as joblib (before skops) as skops files: each is unpickled once,
    here, after its sha256 check. Workers and flows refuse a model until it is converted."""
    from rendezvous.registry import RegistryError

    registry = get_services().registry
    try:
        records = [registry.get(v) for v in versions or []] or [
            r for r in registry.list() if not r.stored_as_skops
        ]
        if not records:
            console.print("every model is stored as skops already; nothing to convert")
            return
        for record in records:
            _warn_pickle(record.path)
            converted = registry.convert(record.version, _names(trust_types))
            console.print(
                terminal(
                    f"converted {converted.version} ({converted.role}): {converted.path}, sha256 "
                    f"{converted.sha256[:12]}; {_describe_types(converted)}"
                )
            )
    except RegistryError as exc:
        raise fail(f"refused: {exc}", 2) from exc


def register(models_app: typer.Typer) -> None:
    models_app.command("register")(models_register)
    models_app.command("convert")(models_convert)
    models_app.command("profile")(models_profile)
