"""Flow `promote-model`: report on a candidate, wait for a person's decision, rotate or not.

The decision arrives on the paused run's form in the Prefect UI, or from `rendezvous approve`
and `rendezvous reject`, which send the same input through the API (helpers at the bottom).
"""

from __future__ import annotations

import time
from typing import Any, Literal
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import FlowPauseTimeout, NotPausedError, ObjectNotFound
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput
from prefect.input.actions import read_flow_run_input
from prefect.runtime import flow_run
from prefect.states import Cancelled
from pydantic import Field

from rendezvous.names import Version
from rendezvous.printing import markdown
from rendezvous.promotion import gate, review
from rendezvous.services import get_services
from tasks import promotion as steps

FLOW_NAME = "promote-model"


class ApprovalInput(RunInput):
    """The approval form on the paused run."""

    decision: Literal["approve", "reject"] = Field(
        description="approve rotates the roles now; reject changes nothing"
    )
    approver: str = Field(min_length=1, description="Your name, kept in the audit trail")
    signature: str = Field(
        default="",
        description="Signed approvals: what `rendezvous approve --print-signature --key FILE RUN` prints",
    )
    comment: str = Field(default="", description="Why (kept in the audit trail)")


class NoDecision(Exception):
    """Nobody decided within the approval timeout; nothing changed."""


class DecisionRefused(Exception):
    """The API did not accept a decision: the run is not a waiting promotion, or the input is invalid."""


def _run_name() -> str:
    return f"promote-{flow_run.parameters.get('candidate') or 'newest-candidate'}"


@flow(name=FLOW_NAME, flow_run_name=_run_name, log_prints=False)
def promote_model(
    candidate: Version | None = None, proposer_key: str | None = None, proposer: str | None = None
) -> dict[str, Any]:
    """Promote ``candidate`` (default: the newest candidate) if the required approvers approve.

    ``proposer_key`` (a private key file readable by this run) signs the proposal; ``proposer``
    names the proposer without a key (named approvals only). Each decision is verified before
    anything rotates; a refused one ends the promotion, refused and audited, nothing changed.
    """
    logger = get_run_logger()
    services = get_services()
    settings = services.settings
    promotion = steps.open_promotion(candidate, str(flow_run.id))
    try:
        report = steps.build_report(promotion)
        steps.publish_report(promotion, report)
        about, proposal = steps.propose(promotion, report, proposer_key, proposer)
        timeout = review.await_decision(services, promotion)
        deadline = time.monotonic() + timeout
        decisions: list[dict[str, Any]] = []  # verified, all approvals until one rejects
        while True:
            form = ApprovalInput.with_initial_data(
                description=report.form_description() + _consent_text(about, proposal, decisions)
            )
            logger.info("promotion #%d of %s waits for a decision", promotion.id, promotion.candidate)
            left = max(1, int(deadline - time.monotonic()))
            try:
                answer = pause_flow_run(
                    wait_for_input=form,
                    timeout=left,
                    poll_interval=min(settings.approval_poll_seconds, left),
                )
            except FlowPauseTimeout as exc:
                review.time_out(services, promotion, timeout)
                raise NoDecision(
                    f"no decision on promotion #{promotion.id} within {timeout} s; nothing changed"
                ) from exc
            decided = steps.verify_decision(
                promotion, about, proposal, decisions, answer.model_dump(include=_SENT)
            )
            decisions.append(decided)
            if decided["kind"] == "reject" or len(decisions) >= settings.required_approvals:
                break
        document = {"proposal": proposal, "decisions": decisions}
        change = steps.apply_decision(
            promotion, answer.decision, decided["by"], answer.comment, document
        )
    except BaseException as exc:
        gate.abandon(services.store, promotion.id, FLOW_NAME, f"{type(exc).__name__}: {exc}")
        raise
    logger.info("%s by %s: %s", answer.decision, change["actor"], change["after"])
    return {
        "promotion": promotion.id,
        "candidate": promotion.candidate,
        "decision": answer.decision,
        "recommendation": report.verdict()[0],
        "change": {**change, "at": change["at"].isoformat()},
    }


_SENT = {"decision", "approver", "signature"}


def _consent_text(about: Any, proposal: dict[str, Any] | None, approvals: list[dict[str, Any]]) -> str:
    """What a signature covers and who decided so far, under the report's figures on the form."""
    required = get_services().settings.required_approvals
    lines = [
        "",
        "",
        f"Promotion #{about.promotion}: candidate sha256 `{about.sha256}`, report sha256 "
        f"`{about.report_sha256}`. Proposed by {markdown(proposal['by']) if proposal else 'nobody named'}.",
        f"Approvals: {len(approvals)} of {required}"
        + (f" ({', '.join(markdown(a['by']) for a in approvals)})" if approvals else "")
        + ".",
    ]
    return "\n".join(lines)


def waiting_approvals() -> list[dict[str, Any]]:
    """Paused `promote-model` runs, oldest first, with the key figures of their forms."""
    paused = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
    )
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
            flow_run_filter=paused,
            sort=FlowRunSort.START_TIME_ASC,
        )
    waiting = []
    for run in runs:
        details = run.state.state_details if run.state else None
        keyset = details.run_input_keyset if details else None
        description = (
            read_flow_run_input(keyset["description"], flow_run_id=run.id) if keyset else None
        )
        waiting.append(
            {
                "run_id": str(run.id),
                "name": run.name,
                "candidate": run.parameters.get("candidate"),
                "paused_at": run.state.timestamp if run.state else None,
                "expires_at": details.pause_timeout if details else None,
                "description": description,
            }
        )
    return waiting


def is_waiting(run_id: str) -> bool:
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(run_id))
    return bool(run.state and run.state.is_paused())


def send_decision(
    run_id: str, decision: str, approver: str, comment: str = "", signature: str = ""
) -> str | None:
    """Resume a waiting promotion with the input the UI form sends; the key of the pause it
    resumed (a promotion needing two approvals pauses twice)."""
    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(run_id))
            flow_name = client.read_flow(run.flow_id).name
        if flow_name != FLOW_NAME:
            raise DecisionRefused(f"run {run_id} is a {flow_name!r} run, not {FLOW_NAME!r}")
        resume_flow_run(
            UUID(run_id),
            run_input={
                "decision": decision, "approver": approver, "comment": comment, "signature": signature
            },
        )
    except ValueError as exc:
        raise DecisionRefused(f"{run_id!r} is not a flow run id") from exc
    except ObjectNotFound as exc:
        raise DecisionRefused(f"no flow run {run_id}") from exc
    except NotPausedError as exc:
        raise DecisionRefused(f"run {run_id} is not waiting for a decision") from exc
    except RuntimeError as exc:  # the API refused the input or the run timed out
        raise DecisionRefused(str(exc)) from exc
    return run.state.state_details.pause_key if run.state else None


def wait_for_end(run_id: str, timeout: float, poll: float = 0.5, paused_in: str | None = None) -> Any:
    """The run's final state, or its state once it waits in another pause than ``paused_in``
    (for the next approval), or its current one if neither happened within ``timeout``."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            state = client.read_flow_run(UUID(run_id)).state
            next_pause = (
                paused_in is not None and state is not None and state.is_paused()
                and state.state_details.pause_key != paused_in
            )
            if (state and state.is_final()) or next_pause or time.monotonic() >= deadline:
                return state
            time.sleep(poll)


def cancel(run_id: str, reason: str) -> None:
    """Mark a run whose process is gone (e.g. interrupted while waiting) as cancelled."""
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(UUID(run_id), Cancelled(message=reason), force=True)
