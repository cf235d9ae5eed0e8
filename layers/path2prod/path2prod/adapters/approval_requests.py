"""Approval requests in the ledger table: one mutable item per request, every change also a chained entry.

Item: pk = APPROVAL#<request id>, sk = REQUEST, and its index keys: ledger_keys.py holds every layout.

A request's state changes (PENDING -> APPROVED ...), so the request itself is not a chained item; each
change is written in one transaction with the ledger entries that record it (kind `approval` or
`promotion`, chained as every entry), under an optimistic lock (`version`). Either both are written
or neither: the ledger never says less than the request, and a lost race is retried from a fresh read.

The sparse gsi1 keys make "the pending requests of an env" and "the approved requests still owed a push"
one small Query each, however many requests the env has seen (no Scan, no filter over history).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from path2prod.adapters.ledger_codec import deserialize_item, serialize_item
from path2prod.adapters.ledger_keys import (
    BY_COMMIT_TIME,
    BY_ENV_TIME,
    REQUEST_SK,
    approval_pk,
    entries_query,
    is_request_key,
    pending_requests_pk,
    promotable_requests_pk,
    requests_pk,
)
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.domain.approvals import ApprovalRequest, ApprovalState, Decision, Upstream, Verdict
from path2prod.domain.chain import ChainHead
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.review_facts import Author, ChangedFile, PromotedCommit

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


def is_request_item(item: Mapping[str, Any]) -> bool:
    """Whether a stored item (plain values) is an approval request: mutable, so intentionally unchained."""
    return is_request_key(item.get("pk", ""), item.get("sk"))


class ApprovalRequests:
    """Reads and changes the approval requests kept in one account's ledger table."""

    def __init__(self, ledger: LedgerTable) -> None:
        self.ledger = ledger

    @property
    def client(self) -> DynamoDBClient:
        return self.ledger.client

    @property
    def table_name(self) -> str:
        return self.ledger.table_name

    # -- reads ----------------------------------------------------------------------------------------

    def get(self, request_id: str) -> ApprovalRequest | None:
        """The request as stored now (strongly consistent), or None."""
        with self.ledger.errors():
            item = self.client.get_item(
                TableName=self.table_name,
                Key={"pk": {"S": approval_pk(request_id)}, "sk": {"S": REQUEST_SK}},
                ConsistentRead=True,
            ).get("Item")
        return request_from_item(item) if item else None

    def recent(self, env: str, *, limit: int = 50) -> list[ApprovalRequest]:
        """The env's requests, newest first, at most `limit`."""
        return self.query(BY_COMMIT_TIME, "gsi2pk", requests_pk(env), limit=limit)

    def opened_since(self, env: str, since: str, *, page_size: int = 25) -> Iterator[ApprovalRequest]:
        """The env's requests opened after `since` (a ledger time), newest first, one page at a time.

        The key condition bounds the Query by time, not by a count: a caller asking "is there one
        such request" stops at the first and reads one page, and never misses one for being the 21st.
        """
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_COMMIT_TIME,
            "KeyConditionExpression": "gsi2pk = :pk AND gsi2sk > :since",
            "ExpressionAttributeValues": {":pk": {"S": requests_pk(env)}, ":since": {"S": since}},
            "ScanIndexForward": False,
            "Limit": page_size,
        }
        for page in self.ledger.pages(query):
            yield from (request_from_item(item) for item in page)

    def pending(self, env: str) -> list[ApprovalRequest]:
        """The env's PENDING requests (expired ones included: expiry is judged by the caller's clock)."""
        return self.query(BY_ENV_TIME, "gsi1pk", pending_requests_pk(env))

    def awaiting_promotion(self, env: str) -> list[ApprovalRequest]:
        """The env's APPROVED requests whose commit is not pushed yet."""
        return self.query(BY_ENV_TIME, "gsi1pk", promotable_requests_pk(env))

    def entries(self, request_id: str) -> list[LedgerEntry]:
        """The chained ledger entries of one request (its opening, decisions, supersession, promotion)."""
        found = self.ledger.entries_of(entries_query(self.table_name, approval_pk(request_id)))
        return sorted(found, key=lambda e: e.order_key)

    def stored_items(self, env: str, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every item of env's approval partitions, as stored (plain values), chained or not: each item
        under APPROVAL#<id> of every request APPROVALS#<env> lists, and any other item in that list.
        For `ledger verify`; page by page, one more Query per request, constant memory."""
        listed = self.ledger.items(
            {
                "TableName": self.table_name,
                "IndexName": BY_COMMIT_TIME,
                "KeyConditionExpression": "gsi2pk = :value",
                "ExpressionAttributeValues": {":value": {"S": requests_pk(env)}},
                "Limit": page_size,
            }
        )
        for item in listed:
            if not is_request_item(item):
                yield item
                continue
            yield from self.ledger.items(
                {
                    "TableName": self.table_name,
                    "KeyConditionExpression": "pk = :pk",
                    "ExpressionAttributeValues": {":pk": {"S": str(item["pk"])}},
                    "Limit": page_size,
                }
            )

    # -- writes ---------------------------------------------------------------------------------------

    def write(
        self,
        changes: Sequence[tuple[ApprovalRequest | None, ApprovalRequest]],
        entries: Sequence[LedgerEntry] = (),
    ) -> list[ApprovalRequest]:
        """Store each (before, after) change with `entries`, all or nothing; returns the stored requests.

        `before` None creates the request (it must not exist); otherwise the stored request must still
        be at `before.version`. Raises ChainMoved when anything changed since it was read: read again,
        decide again, write again.
        """
        stored = [_bump(before, after) for before, after in changes]
        puts = [
            _put(self.table_name, before, after) for (before, _), after in zip(changes, stored, strict=True)
        ]
        if entries:
            head = self.ledger.chain_head()
            self.ledger.append(list(entries), head or ChainHead(), also=puts)
            return stored
        with self.ledger.errors(moved="an approval request changed meanwhile; read it again"):
            self.client.transact_write_items(TransactItems=puts)  # type: ignore[arg-type]
        return stored

    # -- helpers --------------------------------------------------------------------------------------

    def query(self, index: str, key: str, value: str, *, limit: int | None = None) -> list[ApprovalRequest]:
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": f"{key} = :value",
            "ExpressionAttributeValues": {":value": {"S": value}},
            "ScanIndexForward": False,
        }
        if limit:
            query["Limit"] = limit
        found: list[ApprovalRequest] = []
        for page in self.ledger.pages(query):
            found.extend(request_from_item(item) for item in page)
            if limit and len(found) >= limit:
                break
        return found[:limit] if limit else found


def _bump(before: ApprovalRequest | None, after: ApprovalRequest) -> ApprovalRequest:
    return replace(after, version=(before.version + 1) if before else 1)


def _put(table: str, before: ApprovalRequest | None, after: ApprovalRequest) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": table, "Item": serialize_item(request_item(after))}
    if before is None:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "version = :version"
        put["ExpressionAttributeValues"] = {":version": {"N": str(before.version)}}
    return {"Put": put}


def request_item(request: ApprovalRequest) -> dict[str, Any]:
    """The request's DynamoDB item (plain values), with the index keys its state calls for."""
    data = asdict(request)
    data["state"] = request.state.value
    data["approvers"] = list(request.approvers)
    data["decisions"] = [{**asdict(d), "verdict": d.verdict.value} for d in request.decisions]
    data["authors"] = [asdict(a) for a in request.authors]
    data["commits"] = [asdict(c) for c in request.commits]
    # Uncounted lines (a binary file) are left out: DynamoDB would store them as NULL.
    data["files"] = [{k: v for k, v in asdict(f).items() if v is not None} for f in request.files]
    item = {key: value for key, value in data.items() if value is not None}
    item["upstream"] = {key: value for key, value in asdict(request.upstream).items() if value is not None}
    item["decisions"] = [{k: v for k, v in d.items() if v is not None} for d in item["decisions"]]
    item.update(
        pk=approval_pk(request.id),
        sk=REQUEST_SK,
        kind="approval-request",
        gsi2pk=requests_pk(request.env),
        gsi2sk=f"{request.requested_at}#{request.id}",
    )
    if request.state is ApprovalState.PENDING:
        item.update(gsi1pk=pending_requests_pk(request.env), gsi1sk=item["gsi2sk"])
    elif request.awaits_promotion:
        item.update(gsi1pk=promotable_requests_pk(request.env), gsi1sk=item["gsi2sk"])
    return item


def request_from_item(item: dict[str, Any]) -> ApprovalRequest:
    data = deserialize_item(item)
    upstream = data["upstream"]
    return ApprovalRequest(
        id=str(data["id"]),
        env=str(data["env"]),
        commit=str(data["commit"]),
        upstream=Upstream(
            env=str(upstream["env"]),
            pipeline=str(upstream["pipeline"]),
            execution_id=str(upstream["execution_id"]),
            succeeded_at=str(upstream["succeeded_at"]),
            account=upstream.get("account"),
            bake_minutes=int(upstream.get("bake_minutes", 0)),
        ),
        author_name=str(data.get("author_name", "")),
        author_email=str(data.get("author_email", "")),
        message=str(data.get("message", "")),
        requested_at=str(data["requested_at"]),
        expires_at=str(data["expires_at"]),
        approvers=tuple(str(a) for a in data.get("approvers", [])),
        quorum=int(data["quorum"]),
        state=ApprovalState(data["state"]),
        decisions=tuple(
            Decision(
                approver=str(d["approver"]),
                verdict=Verdict(d["verdict"]),
                at=str(d["at"]),
                via=str(d["via"]),
                reason=d.get("reason"),
            )
            for d in data.get("decisions", [])
        ),
        superseded_by=data.get("superseded_by"),
        notified_at=data.get("notified_at"),
        promotion=data.get("promotion"),
        promotion_error=data.get("promotion_error"),
        promotion_attempts=int(data.get("promotion_attempts", 0)),
        break_glass=data.get("break_glass"),
        # Requests stored before promoted ranges were recorded lack these: their defaults say so.
        target_head=data.get("target_head"),
        authors=tuple(
            Author(email=str(a["email"]), commit=str(a["commit"])) for a in data.get("authors", [])
        ),
        commits=tuple(
            PromotedCommit(
                sha=str(c["sha"]),
                author_name=str(c.get("author_name", "")),
                author_email=str(c.get("author_email", "")),
                committer_email=str(c.get("committer_email", "")),
                subject=str(c.get("subject", "")),
            )
            for c in data.get("commits", [])
        ),
        commit_count=int(data["commit_count"]) if data.get("commit_count") is not None else None,
        range_complete=bool(data.get("range_complete", True)),
        # Requests stored before files were compared lack these: file_count None says so.
        target_subject=data.get("target_subject"),
        files=tuple(
            ChangedFile(
                path=str(f["path"]),
                status=str(f.get("status", "M")),
                added=int(f["added"]) if f.get("added") is not None else None,
                removed=int(f["removed"]) if f.get("removed") is not None else None,
            )
            for f in data.get("files", [])
        ),
        file_count=int(data["file_count"]) if data.get("file_count") is not None else None,
        lines_added=int(data.get("lines_added", 0)),
        lines_removed=int(data.get("lines_removed", 0)),
        files_complete=bool(data.get("files_complete", True)),
        asked_again_after=data.get("asked_again_after"),
        asked_by=data.get("asked_by"),
        rejection_notified_at=data.get("rejection_notified_at"),
        version=int(data.get("version", 0)),
    )
