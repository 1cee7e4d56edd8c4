"""Run one inbox file through intake, reading, validation and commit under an address-space
limit, and print its outcome and the peak RSS as JSON: a memory regression fails (MemoryError,
or the process dies) instead of taking the machine.

    python bounded_run.py NAME LIMIT_BYTES    (RENDEZVOUS_* variables name the home)

The bins are left out: the memory cases are rejected before anything is scored, and a Prefect
run's threads alone reserve more address space than the limit allows.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def main(name: str, limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from rendezvous import pipeline
    from rendezvous.batchfiles import BadInput
    from rendezvous.services import get_services

    services = get_services()
    job = pipeline.intake(services, name)
    assert isinstance(job, pipeline.BatchJob), job
    rejected = None
    try:
        for chunk, frame, malformed in pipeline.chunks(services, job):
            if rejected:
                pipeline.quarantine_all(services, job, chunk, frame, rejected)
                continue
            prepared = pipeline.prepare(services, job, chunk, frame, malformed)
            rejected = prepared.rejected_reason
            if not rejected and not prepared.enriched.empty:
                raise SystemExit(f"{name}: {len(prepared.enriched)} rows would be scored")
        outcome = pipeline.commit(services, job, rejected)
    except BadInput as exc:
        outcome = pipeline.reject_unreadable(services, job, str(exc))
    # VmHWM, not getrusage: ru_maxrss survives exec, so a child reports its parent's peak
    status = Path("/proc/self/status").read_text()
    peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
    print(
        json.dumps(
            {
                "state": outcome.state,
                "reason": outcome.reason,
                "rows_in": outcome.rows_in,
                "rows_quarantined": outcome.rows_quarantined,
                "peak_rss": peak,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
