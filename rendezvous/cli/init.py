"""`rendezvous init SAMPLE_FILE`: a first rendezvous.toml and a draft suite from a sample file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rendezvous.cli.console import console, fail
from rendezvous.printing import terminal


def init(
    sample: Annotated[Path, typer.Argument(help="A sample of the requests: CSV, Parquet or JSON Lines.")],
    id_column: Annotated[
        str | None, typer.Option(help="The column naming a request (default: the id_column setting).")
    ] = None,
    timestamp_column: Annotated[
        str | None,
        typer.Option(help="When a request was made (default: the sample's only timestamp column, if one)."),
    ] = None,
    suite: Annotated[
        Path | None, typer.Option(help="Where to write the draft suite (default: <sample stem>.suite.json).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite the settings file and the suite.")] = False,
) -> None:
    """Write a rendezvous.toml and a draft Great Expectations suite from a sample file (column
    types, nulls, observed ranges, category sets), for you to read and edit."""
    from rendezvous.batchfiles import BadInput
    from rendezvous.onboarding import (
        InitError,
        draft_suite,
        pick_timestamp,
        read_sample,
        settings_toml,
        write_files,
    )
    from rendezvous.settings import config_file, get_settings

    settings = get_settings()
    stem = sample.name.split(".", 1)[0]
    target = (suite or Path(f"{stem}.suite.json")).resolve()
    toml = config_file()
    try:
        frame = read_sample(sample, settings)
        id_column = id_column or settings.id_column
        if id_column not in frame.columns:
            raise InitError(
                f"the sample has no id column {id_column!r} (columns: {', '.join(map(str, frame.columns))}); "
                "name it with --id-column"
            )
        draft, kinds = draft_suite(frame, stem, id_column)
        timestamp = pick_timestamp(kinds, timestamp_column)
        write_files(
            {target: json.dumps(draft, indent=2) + "\n", toml: settings_toml(target, id_column, timestamp)},
            force,
        )
    except (InitError, BadInput) as exc:
        raise fail(f"refused: {exc}", 2) from exc
    console.print(terminal(f"wrote {toml} and the draft suite {target}:"))
    for column, kind in kinds.items():
        role = " (id)" if column == id_column else " (request time)" if column == timestamp else ""
        console.print(terminal(f"  {column}: {kind}{role}"))
    console.print(
        "Read and edit both (ranges and category sets are the sample's), then "
        "`rendezvous models register PATH --role live --reference FILE`."
    )


def register(app: typer.Typer) -> None:
    app.command()(init)
