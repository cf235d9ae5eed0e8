"""One vocabulary for what the audit commands show: history, verify, export and report say the same.

- A *ledger entry* is one thing that happened: kind `deployment` (a pipeline execution's state),
  `rollback`, `approval` (a request opened, an approver's decision, an expiry or supersession) or
  `promotion` (the approved commit's push).
- A *commit record* (kind `commit`) says which commit an execution runs. It is chained like an entry,
  so it has a `seq`, but it is no event: history, export and report leave it out, verify counts it, and
  `export --chain` lists it. That is why an env's `seq` numbers have gaps in an entries-only export.
- Deployment and rollback entries name a pipeline execution (`execution_id`). Approval and promotion
  entries name an approval request instead: the ledger stores its id in the same `execution_id`
  attribute (the hash covers it as stored), and every listing shows it as `request_id`, never as an
  execution.

Counting (report): an approval *request* is one id, whatever number of entries it has; a *decision* is
one APPROVED or REJECTED entry; a *rollback* is one failed execution rolled back (or refused), whatever
number of entries (STARTED, SUCCEEDED, FAILED) it went through.
"""

from __future__ import annotations

from typing import Any

from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.vocabulary import EntryKind, EntryState

REQUEST_KINDS = frozenset({EntryKind.APPROVAL, EntryKind.PROMOTION})
DECISION_STATES = frozenset({EntryState.APPROVED, EntryState.REJECTED})


def request_id_of(entry: LedgerEntry) -> str | None:
    """The approval request an approval or promotion entry is about; None for any other entry."""
    return entry.execution_id if entry.kind in REQUEST_KINDS else None


def execution_of(entry: LedgerEntry) -> str | None:
    """The pipeline execution an entry is about; None for approval and promotion entries."""
    return None if entry.kind in REQUEST_KINDS else entry.execution_id


def entry_as_dict(entry: LedgerEntry) -> dict[str, Any]:
    """An entry as `history --json` and `export --format json` print it: its stored fields (so
    `execution_id` as hashed) and `request_id` (the request of an approval or promotion entry, else
    null)."""
    return {**entry.as_dict(), "request_id": request_id_of(entry)}
