"""Operations: the local Prefect server (`rendezvous server`), and `rendezvous serve`, the
deployments of prefect.yaml served from one process (no work pool).

Every command that runs a flow connects through ``use_prefect_api``: the configured API, else the
local server (started on first use and left running, so the UI is there), else with
RENDEZVOUS_PREFECT_API=ephemeral a temporary in-process API. Prefect is imported only by the
commands that use it, after that, so the rest of the CLI stays quick.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from rendezvous import local_server
from rendezvous.cli.console import console, errors, fail
from rendezvous.printing import terminal
from rendezvous.runtime import configure_prefect_env, connect_prefect, prefect_home
from rendezvous.settings import get_settings


def use_prefect_api(quiet: bool = True, meanwhile: Callable[[], None] | None = None) -> None:
    """Connect this process to its Prefect API before Prefect is imported (``meanwhile`` imports
    it: rendezvous.runtime.connect_prefect); say if a server started."""
    try:
        connected = connect_prefect(quiet=quiet, meanwhile=meanwhile)
    except local_server.LocalServerError as exc:
        raise fail(str(exc)) from exc
    if connected and connected[1]:
        server = connected[0]
        errors.print(
            f"Started the local Prefect server: UI at {server.url} (pid {server.pid}); it keeps "
            "running for the next commands, `rendezvous server --stop` stops it.",
            markup=False,
            highlight=False,
        )


def ui_location() -> str:
    """Where the Prefect UI of this home's runs is, or why there is none, in one line."""
    api_url = os.environ.get("PREFECT_API_URL", "")
    server = local_server.recorded(prefect_home())
    if server is not None and api_url in ("", server.api_url):
        return (
            f"Prefect UI: {server.url} (local server, pid {server.pid}; `rendezvous server --stop` stops it)"
        )
    if api_url:
        return f"Prefect UI: {api_url.removesuffix('/').removesuffix('/api')} (PREFECT_API_URL)"
    return "No Prefect UI (RENDEZVOUS_PREFECT_API=ephemeral): `rendezvous server --background` starts one."


def server(
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default RENDEZVOUS_PREFECT_PORT, 4200).")
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to bind (foreground only); beyond loopback only with authentication.")
    ] = local_server.HOST,
    auth: Annotated[
        bool, typer.Option(help="Require the API credential (--no-auth: loopback only).")
    ] = True,
    show_credential: Annotated[
        bool, typer.Option(help="Print the API credential (user:password) and exit.")
    ] = False,
    background: Annotated[
        bool, typer.Option(help="Start it in the background (the flow commands' local server).")
    ] = False,
    stop: Annotated[bool, typer.Option(help="Stop the local server.")] = False,
) -> None:
    """The local Prefect server (API + UI), its state under RENDEZVOUS_HOME, telemetry off; its API
    requires a credential kept (mode 0600) beside that state, and answers its own origin only.

    Commands that run flows start it in the background on first use when PREFECT_API_URL is not
    set; this command starts it in the foreground (Ctrl-C stops it), or in the background, or stops it.
    """
    from rendezvous.server_auth import ServerAuthError, stored_credential

    configure_prefect_env(quiet=False)
    state = prefect_home()
    if show_credential:
        credential = stored_credential(state)
        if credential is None:
            raise fail(f"no credential in {state} yet: start `rendezvous server` first")
        typer.echo(credential)
        return
    if stop:
        from rendezvous.cli import warm_scorer

        warm_scorer.stop(state)
        stopped = local_server.stop(state)
        console.print(
            f"stopped the local Prefect server (pid {stopped.pid}, {stopped.url})"
            if stopped
            else "No local Prefect server is running."
        )
        return
    running = local_server.recorded(state)
    if running is not None:
        message = f"The local Prefect server already runs: UI at {running.url} (pid {running.pid})."
        if not background:
            raise fail(f"{message} `rendezvous server --stop` stops it.")
        console.print(message)
        return
    chosen = port or get_settings().prefect_port
    if background:
        try:
            started, _ = local_server.ensure(state, chosen, exact_port=True)
        except local_server.LocalServerError as exc:
            raise fail(str(exc)) from exc
        console.print(
            f"ready: UI at {started.url}; stop it with `rendezvous server --stop`. Commands here use it; "
            f"in other shells: export PREFECT_API_URL={started.api_url}"
        )
        return
    if not local_server.port_is_free(chosen):
        raise fail(f"port {chosen} on {local_server.HOST} is taken by another program")
    try:
        os.environ.update(local_server.server_env(state, chosen, host, auth))
    except ServerAuthError as exc:
        raise fail(f"refused: {exc}", 2) from exc
    url = f"http://{local_server.HOST}:{chosen}"
    console.print(
        f"Prefect server on {url} (state in {state}). In other shells:\n  export PREFECT_API_URL={url}/api"
        + (
            "\n  export PREFECT_API_AUTH_STRING=$(rendezvous server --show-credential)   "
            "# for prefect's own commands, workers and the UI's login; rendezvous finds it itself"
            if auth
            else ""
        )
    )
    sys.stdout.flush()
    # this process becomes the server: recorded, commands of this home reuse it and --stop stops it
    local_server.record(state, local_server.LocalServer(pid=os.getpid(), port=chosen))
    command = local_server.server_command(chosen, host)
    os.execv(command[0], command)


def serve(
    deployment: Annotated[
        list[str] | None,
        typer.Option("--deployment", "-d", help="Serve only this deployment (repeatable)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many runs at once in this process.")] = None,
) -> None:
    """Serve prefect.yaml's deployments here, with their schedules, until interrupted."""
    use_prefect_api(quiet=False)
    if not os.environ.get("PREFECT_API_URL"):
        console.print(
            "[yellow]RENDEZVOUS_PREFECT_API=ephemeral: serving against a temporary local API without "
            "a UI. Start `rendezvous server` and export the URL it prints.[/]"
        )
    from prefect import serve as prefect_serve

    from flows.deployments import runner_deployments

    try:
        deployments = runner_deployments(deployment)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    for d in deployments:
        console.print(terminal(f"serving {d.flow_name}/{d.name}: {_schedule_text(d.schedules)}"))
    prefect_serve(*deployments, limit=limit, print_starting_message=False)


def _schedule_text(schedules: list) -> str:
    parts = []
    for entry in schedules or []:
        schedule = entry.schedule
        if getattr(schedule, "interval", None):
            parts.append(f"every {schedule.interval.total_seconds():g} s")
        elif getattr(schedule, "cron", None):
            parts.append(f"cron '{schedule.cron}' {schedule.timezone or 'UTC'}")
        else:
            parts.append(str(schedule))
    return ", ".join(parts) or "by hand only"


def register(app: typer.Typer) -> None:
    """Add the operations commands to the root CLI."""
    app.command()(serve)
    app.command()(server)
