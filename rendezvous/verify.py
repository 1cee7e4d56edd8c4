"""Check the invariants of DESIGN.md over the whole store and the folders.

Operators run it after an incident; the crash and fault campaigns run it after every kill.
Each check returns the breaches it found (empty when the invariant holds).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy import func, select

from rendezvous.batchfiles import filesystem, join, sha256_file
from rendezvous.promotion import audit
from rendezvous.records import quarantined_rows
from rendezvous.registry import ModelIntegrityError, ModelRecord
from rendezvous.roles import SERVING_ROLES, table_roles
from rendezvous.scorelog import read as scorelog
from rendezvous.scorelog.files import MANIFEST_KEY
from rendezvous.services import Services
from rendezvous.store.schema import batches, lineage, quarantine, role_changes
from rendezvous.trust.audit_signatures import signature_breaks
from rendezvous.trust.consent import policy_of
from rendezvous.trust.keys import TrustError

_SAMPLE = 10  # breaches listed per check; the count is always complete


@dataclass
class CheckResult:
    name: str
    checked: int
    breaches: list[str] = field(default_factory=list)
    breach_count: int = 0

    @property
    def ok(self) -> bool:
        return self.breach_count == 0

    def add(self, message: str) -> None:
        self.breach_count += 1
        if len(self.breaches) < _SAMPLE:
            self.breaches.append(message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "ok": self.ok,
            "checked": self.checked,
            "breaches": self.breach_count,
            "examples": self.breaches,
        }


class Breached(RuntimeError):
    """A check found breaches: raised where one must fail a run (the scoring run's role checks)."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(f"verify: {result.name} does not hold: {'; '.join(result.breaches)}")


def check_accounting(services: Services) -> CheckResult:
    """Rows in = scored + quarantined, per batch, in the ledger and in the row-level tables."""
    with services.store.begin() as conn:
        rows = conn.execute(select(batches).where(batches.c.state.in_(("committed", "rejected")))).all()
        held = dict(
            conn.execute(
                select(quarantine.c.batch_id, quarantined_rows()).group_by(quarantine.c.batch_id)
            ).all()
        )
        read = dict(
            conn.execute(
                select(lineage.c.batch_id, func.sum(lineage.c.rows_in))
                .where(lineage.c.step == "read")
                .group_by(lineage.c.batch_id)
            ).all()
        )
        given = _given_to_models(conn)
    scored = _rows(scorelog.query(services.store, _LIVE_PER_BATCH, roles=["live"]))
    result = CheckResult("every row accounted for (rows in = scored + quarantined)", len(rows))
    for row in rows:
        actual_scored, actual_held = scored.get(row.id, 0), held.get(row.id, 0)
        logged = given.get(row.id, (row.rows_scored, row.rows_scored))
        if row.state == "committed" and (actual_scored, row.rows_scored) != logged:
            result.add(
                f"{row.id}: the models were given {logged[0]} rows and answered {logged[1]}, but the "
                f"store holds {actual_scored} live scores and the ledger {row.rows_scored} rows scored"
            )
        if row.rows_in != row.rows_scored + row.rows_quarantined:
            result.add(
                f"{row.id}: ledger says {row.rows_in} in, {row.rows_scored} scored, "
                f"{row.rows_quarantined} quarantined"
            )
        if actual_held != row.rows_quarantined:
            result.add(
                f"{row.id}: ledger counts {row.rows_quarantined} quarantined but the store holds "
                f"{actual_held} quarantined rows"
            )
        if int(read.get(row.id) or 0) != row.rows_in:
            result.add(f"{row.id}: lineage read {read.get(row.id) or 0} rows, ledger says {row.rows_in}")
    return result


def _given_to_models(conn: Any) -> dict[str, tuple[int, int]]:
    """Per batch, the rows its models were given (each logs one line per row, scored or not) and
    the rows the response answered: its rendezvous steps added up. A batch committed before the
    response policy has none; its live model's rows were its response."""
    return {
        batch_id: (int(given), int(answered))
        for batch_id, given, answered in conn.execute(
            select(lineage.c.batch_id, func.sum(lineage.c.rows_in), func.sum(lineage.c.rows_out))
            .where(lineage.c.step == "rendezvous")
            .group_by(lineage.c.batch_id)
        ).all()
    }


_LIVE_PER_BATCH = "SELECT batch_id, count(*) FROM scores GROUP BY batch_id"
# Per batch and model: its scores and a fingerprint of which requests they are (a sum of id
# hashes: equal sums and counts mean the same requests, in any order).
_PER_MODEL = """
SELECT batch_id, role, model_version, count(*), sum(hash(request_id)::HUGEINT) FROM scores GROUP BY ALL
"""
# Live ids seen twice (within a batch under id scope "batch"): grouping 64-bit hashes, not text,
# then the text of the few candidates, so a hash collision is never reported as a repeat.
_REPEATED = """
WITH candidates AS (SELECT hash(request_id) AS h{per_batch} FROM scores GROUP BY ALL HAVING count(*) > 1)
SELECT request_id{per_batch}, count(*) AS n, string_agg(DISTINCT model_version, ', ') AS versions
FROM scores WHERE hash(request_id) IN (SELECT h FROM candidates)
GROUP BY ALL HAVING count(*) > 1
"""


def _rows(table: Any) -> dict[Any, Any]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return {tuple(key) if len(key) > 1 else key[0]: n for *key, n in zip(*columns, strict=True)}


def check_one_score_per_role(services: Services) -> CheckResult:
    """Exactly one score per request per role per model, over the score files of the committed
    batches: no live id scored twice, and in each batch every model scored the live model's
    requests, once each (same count, same fingerprint).

    Grouping 40M ids as text took 14 s; the live ids' hashes, and per batch a sum, take a scan."""
    # under id scope "batch" a request is an id within its batch
    per_batch = ", batch_id" if services.settings.id_scope == "batch" else ""
    repeated = scorelog.query(services.store, _REPEATED.format(per_batch=per_batch), roles=["live"])
    per_model = scorelog.query(services.store, _PER_MODEL).to_pylist()
    with services.store.begin() as conn:
        ledger = {r.id: r for r in conn.execute(select(batches)).all()}
        given = _given_to_models(conn)
    result = CheckResult("one score per request per role", len(per_model))
    for row in repeated.to_pylist():
        where = f" in batch {row['batch_id']}" if per_batch else ""
        result.add(f"request {row['request_id']}{where} has {row['n']} live scores (from {row['versions']})")
    counts: dict[str, dict[tuple[str, str], tuple[int, int]]] = {}
    for batch_id, role, version, n, fingerprint in (r.values() for r in per_model):
        counts.setdefault(batch_id, {})[(role, version)] = (n, fingerprint)
    for batch_id, by_model in counts.items():
        row = ledger[batch_id]  # the score log is read through the committed batches' manifests
        expected = {("live", row.live_version)}
        if row.canary_version:
            expected.add(("canary", row.canary_version))
        missing = expected - set(by_model)
        if missing:
            result.add(f"{batch_id}: no scores from {sorted(missing)}")
        rows = given.get(batch_id, (row.rows_scored,))[0]
        live = by_model.get(("live", row.live_version))
        for (role, version), (n, fingerprint) in by_model.items():
            if n != rows:
                result.add(f"{batch_id}: {n} {role} scores from {version}, {rows} rows given to the models")
            elif live is not None and fingerprint != live[1]:
                result.add(f"{batch_id}: {role} {version} scored other requests than live {row.live_version}")
            if role in ("live", "canary") and (role, version) not in expected:
                result.add(f"{batch_id}: {role} scored by {version}, not the pinned pair")
    return result


def check_scored_ids(services: Services) -> CheckResult:
    """Under id scope "global", the scored-id set holds each committed batch's live ids and no
    other batch's, its runs in hash order: an id it lacks, or cannot find, could be scored again."""
    name = "the scored-id set holds every committed batch's live ids"
    if services.scored_ids is None:
        return CheckResult(name, 0)
    survey = services.scored_ids.survey()
    held = survey.per_batch
    scored = _rows(scorelog.query(services.store, _LIVE_PER_BATCH, roles=["live"]))
    result = CheckResult(name, len(scored))
    for batch_id, n in sorted(scored.items()):
        if (ids := held.get(batch_id, 0)) != n:
            result.add(f"{batch_id}: {n} live scores; the scored-id set holds {ids} of its ids")
    for batch_id in sorted(held.keys() - scored.keys()):
        result.add(f"{batch_id}: the scored-id set holds {held[batch_id]} ids; it has no committed score")
    for problem in survey.problems:
        result.add(problem)
    return result


def check_outputs(services: Services) -> CheckResult:
    """Every committed batch has its raw archive, response, score files, dev copy and lineage."""
    settings = services.settings
    with services.store.begin() as conn:
        rows = conn.execute(select(batches).where(batches.c.state == "committed")).all()
        steps = {(b, s) for b, s in conn.execute(select(lineage.c.batch_id, lineage.c.step).distinct()).all()}
        given = _given_to_models(conn)
    result = CheckResult("committed batches have archive, response, dev copy, lineage", len(rows))
    dev_fs, dev_root = filesystem(settings.dev_url)
    for row in rows:
        outputs = row.outputs or {}
        raw = _archived(services, row)
        if raw is None:
            result.add(f"{row.id}: raw bytes missing from the archive")
        elif sha256_file(raw) != row.sha256:
            result.add(f"{row.id}: archived bytes do not hash to {row.sha256[:12]}")
        for step in ("read", "validate"):
            if (row.id, step) not in steps:
                result.add(f"{row.id}: lineage has no {step} step")
        if row.rows_scored == 0:
            continue
        response = outputs.get("response")
        fs, path = filesystem(response) if response else (None, None)
        if not response or not fs.exists(path):
            result.add(f"{row.id}: response file missing ({response})")
        for missing in _missing_score_files(outputs):
            result.add(f"{row.id}: score file missing ({missing})")
        parts = dev_fs.glob(f"{dev_root}/date=*/{row.id}-*.parquet")
        dev_rows = sum(pq.ParquetFile(dev_fs.open(p, "rb")).metadata.num_rows for p in parts)
        scored = given.get(row.id, (row.rows_scored,))[0]  # a row no model answered was scored too
        if dev_rows != scored:
            result.add(f"{row.id}: dev copy holds {dev_rows} rows, {scored} were given to the models")
    return result


def _missing_score_files(outputs: dict[str, Any]) -> list[str]:
    """The score files the ledger lists for a batch that are not there (none listed: all)."""
    manifest = outputs.get(MANIFEST_KEY)
    if not manifest:
        return ["no score files listed"]
    fs, folder = filesystem(manifest["url"])
    present = {p.rsplit("/", 1)[-1] for p in fs.ls(folder, detail=False)} if fs.exists(folder) else set()
    return [join(manifest["url"], name) for name in manifest["files"] if name not in present]


def _archived(services: Services, row: Any) -> str | None:
    fs, root = filesystem(join(services.settings.archive_url, "raw", row.sha256[:2]))
    found = fs.glob(f"{root}/{row.sha256}.*") if fs.exists(root) else []
    return found[0] if found else None


def check_model_files(services: Services) -> CheckResult:
    """Every registry file still hashes to its recorded sha256."""
    records: list[ModelRecord] = services.registry.list()
    result = CheckResult("model files match their sha256", len(records))
    for record in records:
        try:
            services.registry.verify_file(record)
        except ModelIntegrityError as exc:
            result.add(str(exc))
    return result


def check_audit_chain(services: Services) -> CheckResult:
    """The role audit is an unbroken hash chain: no row inserted, edited or removed by hand."""
    with services.store.begin() as conn:
        checked, found = audit.chain_breaks(conn)
    result = CheckResult("role audit is an unbroken hash chain", checked)
    for where in found:
        result.add(str(where))
    return result


def check_role_audit(services: Services) -> CheckResult:
    """Roles changed only through audited steps: each row starts where the one before ended, and
    the models table holds the live and canary the audit ends at (a role written there by hand
    serves nobody, and is reported here)."""
    with services.store.begin() as conn:
        changes = conn.execute(select(role_changes).order_by(role_changes.c.id)).all()
        table = table_roles(conn)
    result = CheckResult("roles changed only by audited rotations and rollbacks", len(changes))
    state: dict[str, Any] = dict.fromkeys(SERVING_ROLES)
    for change in changes:
        before = {k: change.before.get(k) for k in state}
        if before != state:
            result.add(
                f"audit #{change.id} ({change.action} by {change.actor}) starts from {before}, "
                f"but the roles were {state}"
            )
        state = {k: change.after.get(k) for k in state}
    for role in SERVING_ROLES:
        if table[role] != state[role]:
            result.add(
                f"the models table makes {table[role] or 'nobody'} {role}, "
                f"the audit {state[role] or 'nobody'}: written by hand, not served"
            )
    return result


def check_audit_signatures(services: Services) -> CheckResult:
    """The decisions the audit keeps are their approvers' (rendezvous.trust.audit_signatures): a
    row with a correct hash but a signature no approver made, or none under signed approvals, is
    reported by its number, like a broken link."""
    with services.store.begin() as conn:
        rows = conn.execute(select(role_changes).order_by(role_changes.c.id)).all()
    policy = policy_of(services.settings)
    name = "signed decisions in the audit verify against the approvers file"
    try:
        checked, found = signature_breaks(rows, policy.approvers, policy.mode == "signed")
    except TrustError as exc:  # an unreadable approvers file: nothing can be verified
        result = CheckResult(name, len(rows))
        result.add(str(exc))
        return result
    result = CheckResult(name, checked)
    for where in found:
        result.add(str(where))
    return result


ROLE_CHECKS: tuple[Callable[[Services], CheckResult], ...] = (
    check_audit_chain,
    check_role_audit,
    check_audit_signatures,
)
"""What every scoring run checks at its end: cheap, and what serving depends on (a row with a
correct hash but a replayed or forged decision names who serves, so it fails the run too)."""

CHECKS: tuple[Callable[[Services], CheckResult], ...] = (
    check_accounting,
    check_one_score_per_role,
    check_scored_ids,
    check_outputs,
    check_model_files,
    *ROLE_CHECKS,
)


def verify(
    services: Services, checks: tuple[Callable[[Services], CheckResult], ...] = CHECKS
) -> list[CheckResult]:
    """The checks side by side, on threads: hashing the raw archive (file reads and hashlib) and
    DuckDB's scans of the score log release the GIL, so over 20M scores they overlap."""
    _ = services.store  # opened once, before the threads: its first open may migrate an old home
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        return list(pool.map(lambda check: check(services), checks))
