"""DynamoDB throttling in the sandbox's emulator, for its chaos (chaos.py `throttle=P`).

A share of the DynamoDB reads and writes the functions make (signed with a function role's credentials)
answers ProvisionedThroughputExceededException (HTTP 400, in DynamoDB's JSON error shape), as a table
past its capacity does; boto3 retries it itself, as in AWS, so only a run of them reaches a handler.

Only the functions' requests are throttled. The sandbox's own (provisioning and snapshots, signed with
its bootstrap keys) and its operator's (the CLI and the local pipeline: the path2prod-sandbox role) are
not: AWS would throttle those too, but the sandbox keeps `local up`, the CLI's counts and `ledger verify`
undisturbed, so what chaos breaks is what the functions do about it.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.responses import DynamoHandler
from moto.sts.models import sts_backends

from path2prod import ENVS
from path2prod.sandbox.functions import FUNCTIONS

# DynamoDB's data-plane actions path2prod's functions make, which a table's capacity limits (not
# CreateTable, DescribeTable, ...). No Scan: no function may make one (template.yaml grants none).
THROTTLED_ACTIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
# The roles the functions run under (accounts.function_role_name): path2prod-ENV-FUNCTION.
_FUNCTION_ROLE = re.compile(
    rf":assumed-role/path2prod-({'|'.join(ENVS)})-({'|'.join(f.name for f in FUNCTIONS)})/"
)


def throughput_exceeded() -> DynamodbException:
    """DynamoDB's answer to a request past the table's capacity: ProvisionedThroughputExceededException,
    HTTP 400 in its JSON error shape, which the SDKs retry. (moto has no class for it; an instance of its
    base is made here, as path2prod declares its own errors only in errors.py.)"""
    return DynamodbException(
        ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
    )


@dataclass(frozen=True)
class _Throttle:
    share: float = 0.0
    draw: random.Random = field(default_factory=random.Random)
    on_throttle: Callable[[str, str, str], None] | None = None  # (env, function, operation)


_throttle = _Throttle()
_lock = threading.Lock()
_functions_by_key: dict[str, tuple[str, str] | None] = {}  # access key -> (env, function) of its role


def throttle_dynamodb(
    share: float,
    draw: random.Random | None = None,
    on_throttle: Callable[[str, str, str], None] | None = None,
) -> None:
    """From now on, answer `share` (0..1) of the functions' DynamoDB reads and writes to moto's server
    in this process with ProvisionedThroughputExceededException, drawing from `draw`;
    `on_throttle(env, function, operation)` hears of each. 0 turns it off."""
    global _throttle
    with _lock:
        _throttle = _Throttle(share, draw or random.Random(), on_throttle)
    current = DynamoHandler._authenticate_and_authorize_normal_action
    if share and not getattr(current, "throttles", False):

        def authorize_then_throttle(self: Any, resource: str = "*") -> None:
            current(self, resource)  # refused first, as in AWS: a denied call uses no capacity
            _maybe_throttle(self)

        authorize_then_throttle.throttles = True  # type: ignore[attr-defined]
        DynamoHandler._authenticate_and_authorize_normal_action = authorize_then_throttle  # type: ignore[method-assign]


def _maybe_throttle(request: Any) -> None:
    throttle = _throttle
    if not throttle.share or request._get_action() not in THROTTLED_ACTIONS:
        return
    function = _function_of(request)
    if function is None:
        return
    with _lock:
        throttled = throttle.draw.random() < throttle.share
    if not throttled:
        return
    if throttle.on_throttle is not None:
        throttle.on_throttle(*function, request._get_action())
    raise throughput_exceeded()


def _function_of(request: Any) -> tuple[str, str] | None:
    """(env, function) of the function role whose credentials signed `request`, or None (anyone else)."""
    authorization = request.headers.get("Authorization") or ""
    access_key = authorization.partition("Credential=")[2].partition("/")[0]
    if access_key not in _functions_by_key:
        role = sts_backends[request.current_account]["global"].get_assumed_role_from_access_key(access_key)
        match = _FUNCTION_ROLE.search(role.arn) if role is not None else None
        _functions_by_key[access_key] = (match.group(1), match.group(2)) if match else None
    return _functions_by_key[access_key]
