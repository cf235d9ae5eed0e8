"""Every key layout of the ledger table, in one place (template.yaml defines the same attributes and indexes).

| item                 | pk                            | sk                               |
|----------------------|-------------------------------|----------------------------------|
| deployment entry     | EXEC#<pipeline>#<execution>   | ENTRY#<attempt>#<rank>#<state>   |
| rollback entry       | ROLLBACK#<pipeline>#<failed execution> | ENTRY#<attempt>#<rank>#<state> |
| rollback lock        | ROLLBACK#LOCK        | LOCK (mutable, unchained; free once its rollback ended) |
| reconcile mark       | RECONCILE#<pipeline> | MARK (mutable, unchained, no gsi keys: reconcile_ledger.py) |
| gate entry           | GATE#<pipeline>#<execution>   | ENTRY#gate (one per execution, any state) |
| approval request     | APPROVAL#<request id>         | REQUEST (mutable, not chained) |
| approval/promotion entry | APPROVAL#<request id>     | ENTRY#<kind>#<attempt>#<state>#<who> |
| execution's commit   | EXEC#<pipeline>#<execution>   | COMMIT                           |
| hash chain's head    | CHAIN                         | HEAD                             |

Index `by-env-time`    (gsi1pk = ENV#<env>,    gsi1sk = <time>#<start>#<attempt>#<rank>#<execution>): entries
Index `by-commit-time` (gsi2pk = COMMIT#<sha>, gsi2sk = the same sort key): entries
Index `by-chain`       (chain = LEDGER,        seq = 1, 2, 3, ...): every chained item, entries and commits

Approval requests use the two entry indexes with keys of their own:
`by-commit-time` gsi2pk = APPROVALS#<env>, gsi2sk = <requested at>#<request id> (every request);
`by-env-time`, sparse: gsi1pk = APPROVALS-PENDING#<env> while PENDING, APPROVALS-PROMOTE#<env> while
APPROVED and not pushed yet, absent otherwise (history Queries ENV#<env>, so never sees them).
"""

from __future__ import annotations

from typing import Any

from path2prod.domain.chain import CHAIN_NAME
from path2prod.domain.ledger import LedgerEntry, state_rank
from path2prod.domain.vocabulary import EntryKind

BY_ENV_TIME = "by-env-time"
BY_COMMIT_TIME = "by-commit-time"
BY_CHAIN = "by-chain"
CHAIN = CHAIN_NAME
COMMIT_SK = "COMMIT"
ENTRY_PREFIX = "ENTRY#"
REQUEST_SK = "REQUEST"
HEAD_KEY: dict[str, Any] = {"pk": {"S": "CHAIN"}, "sk": {"S": "HEAD"}}
LOCK_KEY: dict[str, Any] = {"pk": {"S": "ROLLBACK#LOCK"}, "sk": {"S": "LOCK"}}


def execution_pk(pipeline: str, execution_id: str) -> str:
    return f"EXEC#{pipeline}#{execution_id}"


def reconcile_mark_key(pipeline: str) -> dict[str, Any]:
    """The reconciler's mark: the startTime back to which the pipeline's executions are reconciled."""
    return {"pk": {"S": f"RECONCILE#{pipeline}"}, "sk": {"S": "MARK"}}


def rollback_pk(pipeline: str, failed_execution_id: str) -> str:
    return f"ROLLBACK#{pipeline}#{failed_execution_id}"


def gate_pk(pipeline: str, execution_id: str) -> str:
    return f"GATE#{pipeline}#{execution_id}"


# One sort key whatever the decision: of two deliveries of one job deciding differently (the ledger moved
# in between), the conditional put lets the first win, and the second reports what the first recorded.
GATE_SK = f"{ENTRY_PREFIX}gate"


def approval_pk(request_id: str) -> str:
    return f"APPROVAL#{request_id}"


def entry_pk(entry: LedgerEntry) -> str:
    if entry.kind == EntryKind.ROLLBACK:
        return rollback_pk(entry.pipeline, entry.execution_id)
    if entry.kind in (EntryKind.APPROVAL, EntryKind.PROMOTION):
        return approval_pk(entry.execution_id)
    if entry.kind == EntryKind.GATE:
        return gate_pk(entry.pipeline, entry.execution_id)
    return execution_pk(entry.pipeline, entry.execution_id)


def entry_sk(attempt: int, state: str) -> str:
    return f"{ENTRY_PREFIX}{attempt:04d}#{state_rank(state)}#{state}"


def entry_sk_of(entry: LedgerEntry) -> str:
    """An entry's sort key. Approval entries name who decided: each approver's answer is its own entry."""
    if entry.kind in (EntryKind.APPROVAL, EntryKind.PROMOTION):
        return f"{ENTRY_PREFIX}{entry.kind}#{entry.attempt:04d}#{entry.state}#{entry.trigger or ''}"
    if entry.kind == EntryKind.GATE:
        return GATE_SK
    return entry_sk(entry.attempt, entry.state)


def time_sk(entry: LedgerEntry) -> str:
    time, start, attempt, rank, execution = entry.order_key
    return f"{time}#{start}#{attempt:04d}#{rank}#{execution}"


def env_pk(env: str) -> str:
    """gsi1pk of an env's entries (by-env-time)."""
    return f"ENV#{env}"


def commit_pk(commit: str) -> str:
    """gsi2pk of a commit's entries (by-commit-time)."""
    return f"COMMIT#{commit}"


def requests_pk(env: str) -> str:
    """gsi2pk of every approval request of an env (by-commit-time)."""
    return f"APPROVALS#{env}"


def pending_requests_pk(env: str) -> str:
    """Sparse gsi1pk of an env's PENDING requests (by-env-time)."""
    return f"APPROVALS-PENDING#{env}"


def promotable_requests_pk(env: str) -> str:
    """Sparse gsi1pk of an env's APPROVED requests still owed a push (by-env-time)."""
    return f"APPROVALS-PROMOTE#{env}"


def is_request_key(pk: object, sk: object) -> bool:
    """Whether an item's key is an approval request's."""
    return sk == REQUEST_SK and str(pk).startswith("APPROVAL#")


def entries_query(table_name: str, pk: str) -> dict[str, Any]:
    """The strongly consistent Query of every entry under one partition key."""
    return {
        "TableName": table_name,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :entry)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":entry": {"S": ENTRY_PREFIX}},
        "ConsistentRead": True,
    }
