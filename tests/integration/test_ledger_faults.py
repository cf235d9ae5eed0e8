"""The ledger adapter under DynamoDB's partial answers and cancelled transactions (moto, with faults).

moto never throttles and never cancels a transaction for any reason but a failed condition, so the
faults are injected by `FaultyDynamoDB`: a thin wrapper that passes every call to the real moto client
and rewrites one answer the way DynamoDB does under load. Botocore's Stubber cannot do this: it
replaces every answer, so the table's real contents (and conditions) would no longer be checked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from path2prod.adapters.errors import LedgerThrottled, LedgerWriteRejected
from path2prod.adapters.ledger_table import LedgerTable
from path2prod.domain.errors import ChainMoved
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.vocabulary import EntryKind

COMMIT = "dfd3156a8ff6bb46709b2bf6cf4a210833cb1948"
PIPELINE = "path2prod-app"


class FaultyDynamoDB:
    """moto's client, but BatchGetItem leaves the last key of every multi-key request unprocessed (as
    DynamoDB does when throttled), and TransactWriteItems can fail once with given CancellationReasons."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.unprocessed_answers = 0
        self.never_processed = False  # as if throttled for good: even a one-key request stays unprocessed
        self.cancel_with: list[str] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_get_item(self, *, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, request),) = RequestItems.items()
        keys = request["Keys"]
        if self.never_processed:
            self.unprocessed_answers += 1
            return {"Responses": {table: []}, "UnprocessedKeys": RequestItems}
        if len(keys) < 2:
            return dict(self._client.batch_get_item(RequestItems=RequestItems))
        answered = dict(self._client.batch_get_item(RequestItems={table: {**request, "Keys": keys[:-1]}}))
        self.unprocessed_answers += 1
        return {**answered, "UnprocessedKeys": {table: {**request, "Keys": keys[-1:]}}}

    def transact_write_items(self, **call: Any) -> dict[str, Any]:
        if self.cancel_with is None:
            return dict(self._client.transact_write_items(**call))
        reasons, self.cancel_with = self.cancel_with, None
        raise ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": f"cancelled: {reasons}"},
                "CancellationReasons": [{"Code": code} for code in reasons],
            },
            "TransactWriteItems",
        )


def _rollback_entry(state: str = "STARTED") -> LedgerEntry:
    return LedgerEntry(
        env="prd",
        commit=COMMIT,
        state=state,
        kind=EntryKind.ROLLBACK,
        execution_id="e2f2be32-9236-44a0-b8b9-3c08d80a0f74",
        pipeline=PIPELINE,
        attempt=1,
        time="2024-05-14T09:18:40Z",
        start_time="2024-05-14T09:18:40.123Z",
    )


@pytest.fixture
def faulty(ledger: LedgerTable) -> FaultyDynamoDB:
    return FaultyDynamoDB(ledger.client)


def test_an_entry_left_unprocessed_by_a_throttled_read_is_read_again_not_raced(
    ledger: LedgerTable, faulty: FaultyDynamoDB
) -> None:
    # GIVEN a rollback entry in the ledger, and a table that answers every two-key read in two parts
    assert ledger.append_entry(_rollback_entry()) is True
    throttled = LedgerTable(ledger.table_name, faulty)  # type: ignore[arg-type]

    # WHEN the same entry is appended again (a redelivered event)
    again = throttled.append_entry(_rollback_entry())

    # THEN the unprocessed key was asked for again: a duplicate, not "gave up appending"
    assert again is False
    assert faulty.unprocessed_answers >= 1
    assert [e.state for e in ledger.rollback_entries(PIPELINE, _rollback_entry().execution_id)] == ["STARTED"]


def test_a_new_entry_is_appended_after_the_head_left_unprocessed(
    ledger: LedgerTable, faulty: FaultyDynamoDB
) -> None:
    # GIVEN a chain with one entry, read through a throttled table
    assert ledger.append_entry(_rollback_entry("STARTED")) is True
    throttled = LedgerTable(ledger.table_name, faulty)  # type: ignore[arg-type]

    # WHEN another entry is appended
    appended = throttled.append_entry(_rollback_entry("SUCCEEDED"))

    # THEN it is chained after the first
    assert appended is True
    head = ledger.chain_head()
    assert head is not None and head.seq == 2


def test_a_read_throttled_for_good_is_a_named_error_not_an_endless_loop(
    ledger: LedgerTable, faulty: FaultyDynamoDB
) -> None:
    # GIVEN a table that leaves every key unprocessed
    faulty.never_processed = True
    throttled = LedgerTable(ledger.table_name, faulty)  # type: ignore[arg-type]

    # WHEN an entry is appended / THEN it gives up reading, saying why, and writes nothing
    with pytest.raises(LedgerThrottled):
        throttled.append_entry(_rollback_entry())
    assert faulty.unprocessed_answers == 8
    assert ledger.chain_head() is None


@pytest.mark.parametrize(
    ("reasons", "error"),
    [
        (["None", "ThrottlingError"], LedgerThrottled),
        (["None", "ProvisionedThroughputExceeded"], LedgerThrottled),
        (["ValidationError", "None"], LedgerWriteRejected),
        (["None", "ItemCollectionSizeLimitExceeded"], LedgerWriteRejected),
    ],
)
def test_a_transaction_cancelled_for_another_reason_than_a_condition_is_not_a_race(
    ledger: LedgerTable, faulty: FaultyDynamoDB, reasons: list[str], error: type[Exception]
) -> None:
    # GIVEN a table whose next transaction is cancelled for `reasons`
    faulty.cancel_with = reasons
    cancelled = LedgerTable(ledger.table_name, faulty)  # type: ignore[arg-type]

    # WHEN an entry is appended
    with pytest.raises(error) as raised:
        cancelled.append_entry(_rollback_entry())

    # THEN the error names what DynamoDB said, and nothing was retried as if racing
    assert not isinstance(raised.value, ChainMoved)
    assert reasons[0] in str(raised.value) or reasons[1] in str(raised.value)
    assert ledger.chain_head() is None


def test_a_transaction_cancelled_on_a_condition_is_still_a_race(
    ledger: LedgerTable, faulty: FaultyDynamoDB
) -> None:
    # GIVEN a table whose next transaction loses a race
    faulty.cancel_with = ["None", "ConditionalCheckFailed"]
    racing = LedgerTable(ledger.table_name, faulty)  # type: ignore[arg-type]

    # WHEN an entry is appended
    appended = racing.append_entry(_rollback_entry())

    # THEN it was read again and retried: appended once
    assert appended is True
    head = ledger.chain_head()
    assert head is not None and head.seq == 1


def _seconds(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _millis(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_lock_expiring_later_in_the_same_second_is_not_expired(ledger: LedgerTable) -> None:
    # GIVEN a lock that expires 900 ms from now, written with milliseconds; now is written in seconds
    now = datetime.now(UTC).replace(microsecond=0)
    assert ledger.acquire_rollback_lock(
        "e1", COMMIT, now=_seconds(now), expires_at=_millis(now + timedelta(milliseconds=900))
    )

    # WHEN another rollback asks for the lock at `now` (as text, "...:00Z" > "...:00.900Z")
    taken = ledger.acquire_rollback_lock(
        "e2", COMMIT, now=_seconds(now), expires_at=_seconds(now + timedelta(hours=2))
    )

    # THEN it is still e1's: compared as instants, it has not expired
    assert taken is None
    held = ledger.rollback_lock_item()
    assert held is not None and held.holder == "e1"


def test_a_lock_that_expired_earlier_in_the_same_second_is_expired(ledger: LedgerTable) -> None:
    # GIVEN a lock that expired at a whole second, and a clock 500 ms past it, written with milliseconds
    expired = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    ledger.acquire_rollback_lock(
        "e1", COMMIT, now=_seconds(expired - timedelta(hours=2)), expires_at=_seconds(expired)
    )
    now = _millis(expired + timedelta(milliseconds=500))  # as text, "...:00.500Z" < "...:00Z"

    # WHEN another rollback asks for the lock
    taken = ledger.acquire_rollback_lock(
        "e2", COMMIT, now=now, expires_at=_seconds(expired + timedelta(hours=2))
    )

    # THEN it gets it
    assert taken is not None and taken.holder == "e2"
