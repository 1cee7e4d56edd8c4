"""Commands of the promotion loop: labels, train, shadow, promote, approve/reject, rollback.

Prefect is imported lazily (inside commands that run flows or talk to the API), so reading the
registry or the audit trail stays quick.
"""

from __future__ import annotations

import getpass
import json
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rendezvous.cli.console import console, errors, fail
from rendezvous.cli.ops import use_prefect_api
from rendezvous.cli.params import version_name
from rendezvous.owners import owned_here
from rendezvous.printing import terminal, visible
from rendezvous.roles import current_roles
from rendezvous.services import get_services

labels_app = typer.Typer(help="Ground truth: outcomes of scored requests.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ByOptional = Annotated[
    str | None, typer.Option("--by", help="Your name, kept in the audit trail (named approvals).")
]
KeyOption = Annotated[
    Path | None,
    typer.Option("--key", help="Your private key: signs the decision (needed for signed approvals)."),
]
PrintSignature = Annotated[
    bool,
    typer.Option("--print-signature", help="Only print the signature, for the UI form's signature field."),
]
CommentOption = Annotated[str, typer.Option("--comment", help="Why (kept in the audit trail).")]
WaitOption = Annotated[
    float, typer.Option("--wait", help="Seconds to wait for the run to apply the decision.")
]


def _json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


def _roles_line() -> str:
    with get_services().store.begin() as conn:
        held = current_roles(conn)
    return f"live {held['live'] or '-'}, canary {held['canary'] or '-'}"


def _change_text(change: dict[str, Any]) -> str:
    after = change.get("after") or {}
    moved = ", ".join(f"{role} {version}" for role, version in after.items() if version)
    return f"{change['action']} by {change['actor']}: {moved}"


# ---- labels -------------------------------------------------------------------------------


@labels_app.command("add")
def labels_add(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="CSV or Parquet files: request id, outcome (default: the labels folder)."),
    ] = None,
    column: Annotated[
        str | None, typer.Option(help="Outcome column (default: the label column, or 'outcome').")
    ] = None,
    replace: Annotated[
        bool, typer.Option(help="Overwrite a stored outcome that the file changes (a correction).")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Store outcomes of scored requests; adding a file again changes nothing.

    Without FILES, every label file in the labels folder (RENDEZVOUS_LABELS_URL, a local folder).
    """
    from rendezvous.promotion.labels import LabelFileError, add_labels, read_label_file, write_rejects
    from rendezvous.validation.contract import declared_kinds

    services = get_services()
    s = services.settings
    if s.id_scope == "batch":
        raise fail(
            "refused: with RENDEZVOUS_ID_SCOPE=batch an id may name a request in several batches, "
            "so an outcome by id cannot be matched to one score; labels need globally unique ids",
            2,
            json_out,
        )
    columns = [column] if column else list(dict.fromkeys([s.label_column, "outcome"]))
    if not files:
        folder = Path(s.labels_url)
        files = sorted(p for p in folder.glob("*") if p.suffix in (".csv", ".parquet") and p.is_file())
        if not files:
            raise fail(f"no label files (.csv, .parquet) in {folder}", 1, json_out)
    # "279876.0" is 279876 for integer ids; read from the suite's JSON, as GX is not needed here
    id_kind = declared_kinds(Path(s.required("suite_path", "the request contract"))).get(s.id_column)
    reports = []
    for file in files:
        try:
            frame = read_label_file(str(file), s.id_column, columns, id_kind)
        except LabelFileError as exc:
            raise fail(f"refused: {exc}", 2, json_out) from exc
        scored = services.scored_ids  # id scope "global": refused above otherwise
        report, rejected = add_labels(services.store, frame, file.name, replace=replace, scored=scored)
        rejects_url = write_rejects(rejected, s.labels_url, file.name)
        reports.append({**report.__dict__, "rejects_url": rejects_url})
    if json_out:
        _json(reports)
        return
    table = Table(title="labels add", title_justify="left")
    for name in ("file", "rows", "stored", "unchanged", "replaced", "rejected", "rejects"):
        table.add_column(name, justify="right" if name not in ("file", "rejects") else "left")
    for r in reports:
        reasons = ", ".join(f"{k} {v}" for k, v in r["rejected"].items())
        table.add_row(
            *map(
                terminal,
                (
                    r["source"],
                    r["received"],
                    r["stored"],
                    r["unchanged"],
                    r["replaced"],
                    f"{sum(r['rejected'].values())}" + (f" ({reasons})" if reasons else ""),
                    r["rejects_url"] or "",
                ),
            )
        )
    console.print(table)


# ---- models shadow / history ----------------------------------------------------------------


def models_shadow(
    version: Annotated[str, typer.Argument(callback=version_name)],
    state: Annotated[str, typer.Argument(help="on or off", metavar="on|off")],
) -> None:
    """Score a candidate in shadow (beside live and canary, never returned), or stop."""
    from rendezvous.registry import RegistryError

    if state not in ("on", "off"):
        raise fail(f"expected on or off, not {state!r}", 2)
    try:
        record = get_services().registry.set_shadow(version, state == "on", actor=getpass.getuser())
    except RegistryError as exc:
        raise fail(f"refused: {exc}", 2) from exc
    console.print(
        terminal(
            f"{record.version} ({record.role}): shadow {'on' if record.shadow else 'off'}"
            + ("; `rendezvous score` now scores it beside live and canary" if record.shadow else "")
        )
    )


def models_history(json_out: JsonFlag = False) -> None:
    """Every audited event: registrations, shadow on/off, proposals, decisions (approvals,
    rejections, timeouts), refusals, abandonments and rollbacks, oldest first."""
    from rendezvous.promotion.audit import history

    rows = history(get_services().store)
    if json_out:
        _json(rows)
        return
    table = Table(title="Role audit", title_justify="left")
    for name in ("id", "at (UTC)", "action", "actor", "signed by", "before", "after", "comment", "flow run"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(
            *map(terminal, (r["id"], r["at"].replace("T", " ").rstrip("Z"), r["action"], r["actor"])),
            _signers_text(r),
            _roles_text(r["before"]),
            _roles_text(r["after"]),
            terminal(r["comment"] or ""),
            terminal((r["flow_run_id"] or "")[:8]),
        )
    console.print(table)


def _signers_text(row: dict[str, Any]) -> str:
    """Who signed the row's decisions, with their key's fingerprint (`verify` re-checks them); a
    refusal's attempt is not shown here: it did not count."""
    from rendezvous.trust.audit_signatures import DECIDED, documents

    if row["action"] not in DECIDED:
        return ""
    docs = documents(row["action"], row["decision"])
    signed = [d for d in docs if isinstance(d, dict) and d.get("signature")]
    return "\n".join(terminal(f"{d.get('kind')} {d.get('by')} {d.get('key')}") for d in signed)


def _roles_text(roles: dict[str, Any]) -> str:
    return "\n".join(terminal(f"{role}: {version}") for role, version in roles.items() if version) or "-"


# ---- train / promote ----------------------------------------------------------------------


def train(
    version: Annotated[
        str | None, typer.Option(help="Name the candidate (default: dated).", callback=version_name)
    ] = None,
    force: Annotated[bool, typer.Option(help="Retrain even if these rows were used before.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Run `train-candidate`: fit the recipe on labelled dev data, register a candidate."""
    use_prefect_api()
    from flows.train_candidate import train_candidate

    with console.status("Training a candidate on the labelled dev copy...", spinner="dots"):
        state = train_candidate(version=version, force=force, return_state=True)
    if not state.is_completed():
        raise fail(f"train-candidate: {state.message}", 1, json_out)
    result = state.result()
    if json_out:
        _json(result)
        return
    meta = result["metadata"]
    if not result["registered"]:
        console.print(f"No new labelled rows since {terminal(result['version'])}; nothing registered.")
        return
    console.print(
        f"registered [bold]{terminal(result['version'])}[/] (candidate, {terminal(meta['estimator'])}, "
        f"sha256 "
        f"{result['sha256'][:12]}): trained on {meta['trained_rows']} rows "
        f"{meta['train_from']} .. {meta['train_to']}"
    )
    console.print(
        f"holdout: the {meta['holdout_rows']} newest labelled rows, "
        f"{meta['holdout_from']} .. {meta['holdout_to']}, scored by each model:"
    )
    table = Table()
    figures = meta["holdout_metrics"]
    names = [k for k in next(iter(figures.values())) if k not in ("version",)]
    table.add_column("model")
    table.add_column("version")
    for name in names:
        table.add_column(name, justify="right")
    for model, values in figures.items():
        cells = (model, values["version"], *("" if values[n] is None else values[n] for n in names))
        table.add_row(*map(terminal, cells))
    console.print(table)
    console.print(
        f"Next: `rendezvous models shadow {result['version']} on`, score more traffic, then "
        f"`rendezvous promote {result['version']}`."
    )


def promote(
    version: Annotated[
        str | None, typer.Argument(help="Candidate version (default: newest).", callback=version_name)
    ] = None,
    key: KeyOption = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Your name as proposer (named approvals, no key).")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Run `promote-model`: report, wait for approval (UI form or `rendezvous approve`), rotate.

    With --key the proposal is signed (required when RENDEZVOUS_APPROVALS=signed); the proposer
    can never approve their own candidate.
    """
    use_prefect_api()
    from flows.promote_model import cancel, is_waiting, promote_model
    from rendezvous.promotion import gate

    if key is None and _signed():
        raise fail("signed approvals are on (RENDEZVOUS_APPROVALS=signed): give --key FILE", 2, json_out)
    store = get_services().store
    outcome: dict[str, Any] = {}
    proposer_key = str(key.resolve()) if key else None
    runner = threading.Thread(
        target=lambda: outcome.setdefault(
            "state",
            promote_model(candidate=version, proposer_key=proposer_key, proposer=by, return_state=True),
        ),
        daemon=True,
    )
    runner.start()
    announced: str | None = None
    try:
        while runner.is_alive():
            runner.join(1.0)
            if announced is None:
                for p in gate.open_promotions(store):
                    if p.flow_run_id and is_waiting(p.flow_run_id):
                        announced = p.flow_run_id
                        who = "--key FILE" if _signed() else "--by NAME"
                        (errors if json_out else console).print(
                            f"Promotion #{p.id} of [bold]{terminal(p.candidate)}[/] waits for a decision on "
                            f"flow run {p.flow_run_id}: approve on its form in the Prefect UI, or\n"
                            f"  rendezvous approve {p.flow_run_id} {who} --comment '...'\n"
                            f"  rendezvous reject {p.flow_run_id} {who} --comment '...'"
                        )
    except KeyboardInterrupt:
        for p in gate.open_promotions(store):
            if owned_here(p.owner):  # this process's promotion only, never another's
                gate.abandon(store, p.id, "rendezvous promote", "interrupted while waiting")
                if p.flow_run_id:
                    cancel(p.flow_run_id, "interrupted while waiting for a decision")
        raise fail("interrupted: the promotion is abandoned, nothing changed", 130, json_out) from None
    state = outcome["state"]
    if not state.is_completed():
        raise fail(f"promote-model: {state.message}", 1, json_out)
    result = state.result()
    if json_out:
        _json(result)
        return
    console.print(terminal(f"{_change_text(result['change'])}. Now {_roles_line()}."))


# ---- approvals ----------------------------------------------------------------------------


def approvals(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the run ids.")] = False,
    wait: Annotated[
        float, typer.Option(help="Wait up to this many seconds for a run to be waiting.")
    ] = 0.0,
    json_out: JsonFlag = False,
) -> None:
    """Promotions waiting for a decision (paused `promote-model` runs)."""
    from rendezvous.promotion import gate

    store = get_services().store
    deadline = time.monotonic() + wait
    while not (waiting := _paused_runs(store)) and time.monotonic() < deadline:
        time.sleep(1.0)
    for run in waiting:
        promotion = gate.for_run(store, run["run_id"])
        run["promotion"] = promotion.id if promotion else None
        run["candidate"] = promotion.candidate if promotion else run["candidate"]
        run["gate"] = promotion.state if promotion else "unknown"
    if quiet:
        for run in waiting:
            typer.echo(run["run_id"])
        return
    if json_out:
        _json(waiting)
        return
    if not waiting:
        console.print("No promotion is waiting for a decision.")
        return
    for run in waiting:
        console.print(
            f"[bold]{run['run_id']}[/] ({terminal(run['name'])}): promotion #{run['promotion']} of "
            f"{terminal(run['candidate'])}, waiting since {run['paused_at']:%Y-%m-%d %H:%M:%S} UTC, "
            f"times out {run['expires_at']:%Y-%m-%d %H:%M:%S} UTC"
        )
        if run["description"]:
            console.print("\n".join(map(visible, run["description"].splitlines())), markup=False)
        console.print()


def _paused_runs(store: Any) -> list[dict[str, Any]]:
    """The API is asked only while the store has an open promotion: else nothing can be waiting."""
    from rendezvous.promotion import gate

    if not any(p.flow_run_id for p in gate.open_promotions(store)):
        return []
    use_prefect_api()
    from flows.promote_model import waiting_approvals

    return waiting_approvals()


def _signed() -> bool:
    return get_services().settings.approvals == "signed"


def _signer(key: Path | None, by: str | None, json_out: bool = False) -> tuple[str, Any]:
    """(name, private key or None): from the key when given (its approvers.toml entry), else --by.

    Signed approvals need the key; the name checks themselves are the domain's.
    """
    from rendezvous.trust.consent import policy_of
    from rendezvous.trust.keys import TrustError

    if key is None:
        if _signed():
            raise fail("signed approvals are on (RENDEZVOUS_APPROVALS=signed): give --key FILE", 2, json_out)
        if not by:
            raise fail("give --by NAME (or --key FILE)", 2, json_out)
        return by, None
    try:
        return policy_of(get_services().settings).signer(key)
    except TrustError as exc:
        raise fail(f"refused: {exc}", 2, json_out) from exc


def _decide(
    run_id: str, decision: str, by: str | None, key: Path | None, comment: str, wait: float, show: bool
) -> None:
    use_prefect_api()
    from flows.promote_model import DecisionRefused, send_decision, wait_for_end
    from rendezvous.promotion import audit, gate, review, rotation
    from rendezvous.trust import signing
    from rendezvous.trust.identity import IdentityError, check_identity

    services = get_services()
    store = services.store
    name, private = _signer(key, by)
    signature = ""
    if private is not None:
        promotion = gate.for_run(store, run_id)
        report = gate.report_of(store, promotion.id) if promotion else None
        if promotion is None or report is None:
            raise fail(f"run {run_id} is no promotion with a report to sign", 2)
        about = review.subject(services, promotion, report)
        signature = signing.sign(about.fields(decision, name), private)
        if show:
            typer.echo(signature)
            errors.print(
                f"{decision} of {terminal(about.candidate)} by {terminal(name)}, over candidate sha256 "
                f"{about.sha256[:16]} and report sha256 {about.report_sha256[:16]}: paste it into "
                "the form's signature field, with the same decision and name"
            )
            return
    elif show:
        raise fail("--print-signature needs --key FILE", 2)
    try:
        paused_in = send_decision(run_id, decision, name.strip(), comment, signature)
    except DecisionRefused as exc:
        promotion = gate.for_run(store, run_id)
        if promotion and promotion.state == gate.OPEN and decision == "reject":
            try:  # a dead run's promotion, closed here: still under a readable name
                name = check_identity(name, "approver")
            except IdentityError as refused:
                raise fail(f"refused: {refused}", 2) from refused
            signed = (  # signed approvals: the rejection is kept signed, as the run would keep it
                {"proposal": None, "decisions": [signing.signed(about.fields("reject", name), private)]}
                if private is not None
                else None
            )
            rotation.decline(store, promotion, "reject", name, comment or "its run no longer waited", signed)
            console.print(
                f"run {terminal(run_id)} no longer waits; promotion #{promotion.id} closed, nothing changed"
            )
            return
        raise fail(f"cannot {decision} run {run_id}: {exc}") from exc
    state = wait_for_end(run_id, wait, paused_in=paused_in)
    changes = audit.history(store, flow_run_id=run_id)
    if state is not None and state.is_paused():
        console.print(f"{decision} by {terminal(name)} counted; the promotion waits for another approver.")
        return
    if changes:
        console.print(terminal(f"{_change_text(changes[-1])}. Now {_roles_line()}."))
    if state is None or not state.is_final():
        late = f"run {run_id} has not finished {wait:g} s after the decision; is its process alive?"
        if not changes:  # not even recorded: the decision has not taken effect
            raise fail(f"{late} Nothing is recorded yet: see `rendezvous models history` later.")
        errors.print(f"[yellow]{terminal(late)}[/]")
    elif not state.is_completed():
        raise fail(f"run {run_id} ended {state.type.value.lower()}: {state.message}")


def approve(
    run_id: str,
    key: KeyOption = None,
    by: ByOptional = None,
    comment: CommentOption = "",
    wait: WaitOption = 120.0,
    print_signature: PrintSignature = False,
) -> None:
    """Approve a waiting promotion: the roles rotate once enough approvers approved."""
    _decide(run_id, "approve", by, key, comment, wait, print_signature)


def reject(
    run_id: str,
    key: KeyOption = None,
    by: ByOptional = None,
    comment: CommentOption = "",
    wait: WaitOption = 120.0,
    print_signature: PrintSignature = False,
) -> None:
    """Reject a waiting promotion: nothing changes, and that is recorded."""
    _decide(run_id, "reject", by, key, comment, wait, print_signature)


def rollback(
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")],
    key: KeyOption = None,
    by: ByOptional = None,
    json_out: JsonFlag = False,
) -> None:
    """Emergency: restore the live/canary pair from before the last promotion (one approver's
    decision, signed with --key when approvals are signed), in one audited transaction."""
    from rendezvous.promotion.errors import PromotionError
    from rendezvous.promotion.rotation import last_approved, rollback_fields
    from rendezvous.promotion.rotation import rollback as roll_back
    from rendezvous.registry import RegistryError
    from rendezvous.trust import consent, signing

    services = get_services()
    name, private = _signer(key, by, json_out)
    try:
        signature = ""
        if private is not None:  # over the reason as the audit keeps it (the domain checks it)
            undone = rollback_fields(last_approved(services.store), reason.strip())
            signature = signing.sign(consent.rollback_fields(undone, name), private)
        change = roll_back(
            services.store, services.registry, name, reason, consent.policy_of(services.settings), signature
        )
    except (PromotionError, RegistryError) as exc:
        raise fail(f"refused: {exc}", 2, json_out) from exc
    if json_out:
        _json(change)
        return
    console.print(terminal(f"{_change_text(change)}. Now {_roles_line()}."))


def keys_generate(
    name: Annotated[str, typer.Argument(help="The approver's name, as approvers.toml will list it.")],
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to write NAME and NAME.pub (default: HOME/keys).")
    ] = None,
    add: Annotated[
        bool, typer.Option("--add", help="Also append the entry to the approvers file.")
    ] = False,
) -> None:
    """Make an Ed25519 key pair (private key mode 0600) and print its approvers.toml entry."""
    from rendezvous.trust.identity import IdentityError
    from rendezvous.trust.keys import TrustError, generate

    settings = get_services().settings
    try:
        private, entry = generate(directory or settings.home / "keys", name)
    except (TrustError, IdentityError) as exc:
        raise fail(f"refused: {exc}", 2) from exc
    approvers = Path(settings.approvers_file)
    if add:
        approvers.parent.mkdir(parents=True, exist_ok=True)
        with approvers.open("a") as out:
            out.write(f"\n{entry}\n")
    errors.print(
        f"private key {terminal(str(private))} (keep it to yourself), "
        f"public key {terminal(str(private))}.pub; "
        + (f"added to {terminal(str(approvers))}:" if add else f"add this to {terminal(str(approvers))}:")
    )
    typer.echo(entry)


# ---- demo traffic -------------------------------------------------------------------------


def demo_traffic(
    first_day: Annotated[int, typer.Option(help="Day of November 2026 of the first batch.")] = 7,
    days: Annotated[int, typer.Option(help="How many daily batches.")] = 1,
    rows: Annotated[int, typer.Option(help="Rows per batch.")] = 2000,
) -> None:
    """Demo: more daily batches into the inbox (after a downturn) and their labels."""
    import pandas as pd

    from rendezvous.demo.traffic import write_traffic

    s = get_services().settings
    customers = pd.read_parquet(s.reference_url)
    written = write_traffic(
        Path(s.inbox_url), Path(s.labels_url), customers, first_day, days, rows=rows
    )
    for batch, labels in written:
        console.print(terminal(f"inbox: {batch.name} ({rows} requests); labels for later: {labels.name}"))


def register(app: typer.Typer, models_app: typer.Typer) -> None:
    """Attach these commands to the root CLI and its `models` group."""
    app.add_typer(labels_app, name="labels")
    models_app.command("shadow")(models_shadow)
    models_app.command("history")(models_history)
    for command in (train, promote, approvals, approve, reject, rollback):
        app.command()(command)
    keys_app = typer.Typer(help="Approvers' keys.", no_args_is_help=True)
    keys_app.command("generate")(keys_generate)
    app.add_typer(keys_app, name="keys")
    app.command("demo-traffic")(demo_traffic)
