"""The one place DynamoDB's ClientErrors become the ledger's named errors (adapters/errors.py).

Every call of the ledger adapters runs inside `ledger_errors(table)`, as git_remote.py's calls run
inside `_remote_errors()`: a lost race is ChainMoved (read again, retry), a missing table or permission
LedgerUnavailable, and a cancelled transaction is judged by its CancellationReasons, item by item:
only failed conditions (and conflicts with another transaction) are races; throttling is
LedgerThrottled, anything else (a validation error, an item collection past its size) is
LedgerWriteRejected, which no retry from a fresh read can fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError

from path2prod.adapters.errors import LedgerThrottled, LedgerUnavailable, LedgerWriteRejected
from path2prod.domain.errors import ChainMoved

_UNAVAILABLE = frozenset({"ResourceNotFoundException", "AccessDeniedException"})
# CancellationReasons' codes (TransactWriteItems' documentation); "None" marks an item that did not fail.
_RACE = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
_THROTTLED = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})


@contextmanager
def ledger_errors(
    table_name: str, *, moved: str = "the ledger changed meanwhile; read it again"
) -> Iterator[None]:
    """Run DynamoDB calls on `table_name`, their ClientErrors raised as the named errors they mean.

    `moved` is the message of the ChainMoved a failed condition becomes; errors without a name here
    (a ClientError of another code) pass through unchanged.
    """
    try:
        yield
    except ClientError as error:
        translated = _translated(error, table_name, moved)
        if translated is error:
            raise
        raise translated from error


def cancellation_reasons(error: BaseException | None) -> list[str]:
    """The per-item codes of a cancelled transaction ("None" for an item that did not fail); [] when
    `error` is no cancelled transaction."""
    if not isinstance(error, ClientError):
        return []
    return [str(reason.get("Code", "None")) for reason in error.response.get("CancellationReasons") or []]


def first_condition_failed(moved: ChainMoved) -> bool:
    """Whether a race was lost on the transaction's first item (the `also` operation of an append)."""
    reasons = cancellation_reasons(moved.__cause__)
    return bool(reasons) and reasons[0] == "ConditionalCheckFailed"


def _translated(error: ClientError, table_name: str, moved: str) -> Exception:
    code = error.response["Error"]["Code"]
    if code in _UNAVAILABLE:
        return LedgerUnavailable(f"ledger table {table_name!r}: {code}")
    if code == "ConditionalCheckFailedException":
        return ChainMoved(moved)
    if code != "TransactionCanceledException":
        return error
    failed = [reason for reason in cancellation_reasons(error) if reason != "None"]
    if not failed or all(reason in _RACE for reason in failed):
        return ChainMoved(moved)  # without reasons (never seen from DynamoDB), as before: a race
    why = f"ledger table {table_name!r}: transaction cancelled ({', '.join(failed)}), nothing written"
    if any(reason in _THROTTLED for reason in failed):
        return LedgerThrottled(why)
    return LedgerWriteRejected(why)
