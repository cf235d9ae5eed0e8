"""Lambda: a deployed function invoked once, synchronously (RequestResponse), as `dlq redrive` needs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from path2prod.dlq.errors import RedriveUnavailable
from path2prod.dlq.ports import Invocation

if TYPE_CHECKING:
    from mypy_boto3_lambda.client import LambdaClient


@contextmanager
def _invoke_errors(name: str) -> Iterator[None]:
    """Lambda refusing the call (no such function, no permission, throttled) as RedriveUnavailable: that
    event stays parked with the reason, and the redrive goes on with the next."""
    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        raise RedriveUnavailable(
            f"invoking {name}: AWS refused: {details.get('Code')}: {details.get('Message')}"
        ) from error
    except BotoCoreError as error:
        raise RedriveUnavailable(f"invoking {name}: {error}") from error


class LambdaInvoker:
    """Invokes the function a parked event was meant for: by the name or ARN its record gives, else by
    the short name, through `resolve` (which asks the stack for its physical name)."""

    def __init__(self, lambda_client: LambdaClient, resolve: Callable[[str], str | None]) -> None:
        self.client = lambda_client
        self.resolve = resolve

    def invoke(self, function: str, function_name: str | None, event: Any) -> Invocation:
        with _invoke_errors(function_name or function):
            name = function_name or self.resolve(function)
            if not name:
                raise RedriveUnavailable(f"cannot tell the deployed function of {function!r}")
            response = self.client.invoke(
                FunctionName=name,
                InvocationType="RequestResponse",
                Payload=json.dumps(event).encode(),
            )
            payload = response["Payload"].read()
        try:
            answer = json.loads(payload) if payload else None
        except ValueError:
            answer = payload.decode(errors="replace")
        if "FunctionError" in response:
            # Lambda's error payload: {"errorType", "errorMessage", "stackTrace", ...}.
            details = answer if isinstance(answer, dict) else {}
            return Invocation(
                ok=False,
                result=answer,
                error_type=str(details.get("errorType") or response["FunctionError"]),
                error_message=str(details.get("errorMessage") or answer or ""),
            )
        return Invocation(ok=True, result=answer)
