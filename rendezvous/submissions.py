"""A request batch sent over the API: checked as a file would be, then dropped into the inbox.

The body is refused with the reasons a file gets (unreadable, not UTF-8, a limit, columns that
do not match the contract, mostly bad rows, no rows), before it is queued; one that passes is
written into the inbox under a name made of its sha256, by a rename: the scorer never sees half a
body, and two clients sending the same bytes make one file, so one batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rendezvous.batchfiles import BadInput, Limits, filesystem, join, read_chunks, sha256_file
from rendezvous.ledger import batch_id_for
from rendezvous.services import Services
from rendezvous.validation import validate

NO_ROWS = "no rows (empty or header only)"


@dataclass(frozen=True)
class Receipt:
    """Where a request went: its batch id and inbox name; ``queued`` False when those bytes had
    arrived before (the same batch, not queued again)."""

    batch_id: str
    name: str
    queued: bool


def json_array_to_lines(body: Path) -> None:
    """A JSON array of row objects rewritten in place as JSON Lines, which the readers take."""
    try:
        rows = json.loads(body.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"the body is not JSON: {exc}") from exc
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise BadInput("a JSON body must be an array of objects, one per row")
    body.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def check(services: Services, body: Path, fmt: str) -> None:
    """Raise BadInput with the reason a batch file with these bytes would be rejected for."""
    settings = services.settings
    contract = services.contract()
    rows = 0
    for frame, malformed in read_chunks(str(body), fmt, settings.chunk_rows, Limits.of(settings)):
        result = validate(frame, contract, settings.id_column, settings.max_invalid_share, len(malformed))
        if result.rejected_reason:
            raise BadInput(result.rejected_reason)
        rows += len(frame) + len(malformed)
    if rows == 0:
        raise BadInput(NO_ROWS)


def queue(services: Services, body: Path, fmt: str) -> Receipt:
    """Drop the checked body into the inbox (a temporary name, then a rename)."""
    sha256 = sha256_file(str(body))
    name = f"api-{sha256[:16]}.{fmt}"
    batch_id = batch_id_for(name, sha256)
    if services.ledger.get(batch_id) is not None:
        return Receipt(batch_id, name, queued=False)
    target = join(services.settings.inbox_url, name)
    fs, path = filesystem(target)
    fs.makedirs(fs._parent(path), exist_ok=True)
    partial = f"{path}.{body.name}.tmp"  # the scorer skips .tmp names
    fs.put_file(str(body), partial)
    fs.mv(partial, path)
    return Receipt(batch_id, name, queued=True)


def inbox_name(services: Services, batch_id: str) -> str | None:
    """The inbox file of a batch sent over the API and not yet taken in, if it is there."""
    stem = batch_id.rsplit("-", 1)[0]
    fs, root = filesystem(services.settings.inbox_url)
    waiting = fs.glob(f"{root}/{stem}.*") if stem.startswith("api-") and fs.exists(root) else []
    found = [p.rsplit("/", 1)[-1] for p in waiting if not p.endswith(".tmp")]
    return found[0] if found else None
