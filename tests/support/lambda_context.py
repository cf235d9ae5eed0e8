"""The context object Lambda passes a handler, as far as Powertools reads it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

REGION = "eu-west-1"
ACCOUNT = "111111111111"


@dataclass(frozen=True)
class LambdaContext:
    """A handler's context for an in-process invocation; `function_name` is the deployed name."""

    function_name: str = "path2prod-dev-Function"
    account: str = ACCOUNT
    region: str = REGION
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "tests"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
