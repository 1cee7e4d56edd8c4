"""The hostile corpus, all in one inbox, one flow run: every file ends with a recorded, readable
reason, none stops the others, no row is lost or duplicated, nothing lands outside the folders."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from checks import (
    breaches,
    cells_of,
    csv_rejects,
    outside,
    quarantine_lines,
    risky_cells,
    snapshot,
    store_counts,
    unreadable_lines,
)
from corpus import FORMULA_IDS, build
from sqlalchemy import select
from typer.testing import CliRunner

from flows.score_batches import score_batches
from rendezvous.batchfiles import utf8_name
from rendezvous.cli.app import app
from rendezvous.outputs import note_name
from rendezvous.services import get_services
from rendezvous.store.schema import batches

pytestmark = pytest.mark.usefixtures("prefect_api")

MAX_REASON = 2000  # a reason is for people: bounded, whatever the input


def _drop(inbox: Path, cases: list) -> None:
    """Write the corpus with increasing mtimes, so the flow takes the files in corpus order."""
    start = time.time() - len(cases) - 10
    for i, (name, data, _) in enumerate(cases):
        path = inbox / name
        path.write_bytes(data)
        os.utime(path, (start + i, start + i))


@pytest.mark.slow
@pytest.mark.parametrize(
    "hostile_root", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_hostile_corpus(hostile_root: Path) -> None:
    services = get_services()
    settings = services.settings
    home = settings.home
    cases = build()
    assert len(cases) >= 30
    assert len({name for name, _, _ in cases}) == len(cases)
    inbox = Path(settings.inbox_url)
    _drop(inbox, cases)
    # Not regular files: a link to a file outside the inbox, a dangling link, a FIFO (opening
    # one blocks). None may be read, echoed into a rejects file, or block the run.
    secret = hostile_root / "secret.txt"
    secret.write_text("request_id\ntop-secret-value\n")
    (inbox / "link-to-secret.csv").symlink_to(secret)
    (inbox / "dangling.csv").symlink_to(hostile_root / "nowhere.csv")
    os.mkfifo(inbox / "pipe.csv")
    specials = {"link-to-secret.csv", "dangling.csv", "pipe.csv"}
    before = snapshot(hostile_root)

    outcomes = {o["source"]: o for o in score_batches()}  # raises if any batch errored

    # a name that is not UTF-8 is taken in under its percent-escaped form
    waiting = {name: data for name, data, expect in cases if expect.state == "waiting"}
    assert set(outcomes) == {utf8_name(name) for name, _, _ in cases} - set(waiting)
    left = {p.name: p for p in inbox.iterdir()}
    assert set(left) == set(waiting) | specials  # every other file left the inbox
    assert {name: left[name].read_bytes() for name in waiting} == waiting
    with services.store.begin() as conn:
        sources = set(conn.execute(select(batches.c.source)).scalars())
    assert not sources & set(waiting)
    for sent, _, expect in cases:
        name = utf8_name(sent)
        if expect.state == "waiting":
            continue
        o = outcomes[name]
        assert o["state"] == expect.state, (name, o)
        if expect.reason is not None:
            assert expect.reason.lower() in (o["reason"] or "").lower(), (name, o["reason"])
        if o["reason"] is not None:
            assert len(o["reason"]) <= MAX_REASON and "\x00" not in o["reason"], name
        if expect.state == "duplicate":
            assert (home / "done" / note_name(name)).exists(), name
            continue
        assert o["rows_in"] == o["rows_scored"] + o["rows_quarantined"], (name, o)
        assert store_counts(services, o["batch_id"]) == (o["rows_scored"], o["rows_quarantined"]), name
        if expect.rows_in is not None:
            assert o["rows_in"] == expect.rows_in, (name, o)
        if expect.scored is not None:
            assert o["rows_scored"] == expect.scored, (name, o)
        if expect.quarantined is not None:
            assert o["rows_quarantined"] == expect.quarantined, (name, o)
        lines = quarantine_lines(services, o["batch_id"])
        assert unreadable_lines(lines) == [], name
        assert set(expect.rules) <= {line["rule"] for line in lines}, (name, {line["rule"] for line in lines})
        folder = home / ("done" if o["state"] == "committed" else "failed")
        assert (folder / name).exists(), name
        if o["state"] == "rejected":
            note = (folder / note_name(name)).read_text(encoding="utf-8")
            assert note.strip() == o["reason"].strip(), name

    assert breaches(services) == {}
    taken = [o for o in outcomes.values() if o["state"] in ("committed", "rejected")]
    totals = {k: sum(o[k] for o in taken) for k in ("rows_in", "rows_scored", "rows_quarantined")}
    print(f"\nhostile corpus: {len(cases)} files + {len(specials)} special, {len(taken)} batches, {totals}")

    # formula injection: defused in every rejects file (people open those), while the response
    # is written as computed (its readers are systems): each id as sent, or defused in the rejects
    rejects = csv_rejects(services)
    assert rejects
    for path in rejects:
        assert risky_cells(path) == [], path
    formula = outcomes["formula.csv"]["outputs"]
    response, rejected = cells_of(Path(formula["response"])), cells_of(Path(formula["rejects"]))
    for formula_id in FORMULA_IDS:
        assert formula_id in response or f"'{formula_id}" in rejected, formula_id
    assert {"-17", " =1+1", "\uff0b1"} <= response

    # a long quarantined value is kept as a prefix, its length and sha256, in the store and rejects
    big = {line["value"] for line in quarantine_lines(services, outcomes["big-cell.csv"]["batch_id"])}
    assert any(v.endswith(")") and "921,603 bytes, sha256 " in v and len(v) < 400 for v in big), big

    # everything printed is inert: rich markup, escape sequences, forged lines, bidi overrides
    runner = CliRunner()
    markup = outcomes["markup-column.csv"]["batch_id"]
    escapes = outcomes[next(name for name in outcomes if name.startswith("\x1b[2J"))]["batch_id"]
    for command in (
        ["status"],
        ["batches", "list"],
        ["batches", "show", markup],
        ["batches", "show", escapes],
    ):
        shown = runner.invoke(app, command)
        assert shown.exit_code == 0, (command, shown.output, shown.exception)
        assert not set(shown.output) & set("\x1b\x07\u202e\u2066"), command
        assert not any(line.startswith("FORGED") for line in shown.output.splitlines()), command
    assert "[/]" in runner.invoke(app, ["batches", "show", markup]).output

    # state files are private (RENDEZVOUS_FILE_MODE=private): the store, archive, models, outputs
    state = [home, *home.rglob("*"), *Path(settings.models_dir).rglob("*")]
    exposed = [str(p) for p in state if not p.is_symlink() and p.lstat().st_mode & 0o077]
    assert exposed == []

    # nothing written outside the configured folders (the models folder and the store included)
    allowed = [
        os.path.relpath(p, hostile_root)
        for p in (
            settings.outbox_url,
            settings.archive_url,
            settings.dev_url,
            settings.done_url,
            settings.failed_url,
            settings.inbox_url,
            home / "rendezvous.db",
            home / "rendezvous.db-wal",
            home / "rendezvous.db-shm",
            home / "rendezvous.db-journal",
        )
    ]
    assert outside(snapshot(hostile_root) - before, allowed) == []
    written_files = [p for p in home.rglob("*") if p.is_file() and not p.is_symlink()]
    assert not any(b"top-secret-value" in p.read_bytes() for p in written_files)
