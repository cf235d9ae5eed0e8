"""EventBridge Scheduler's part: a scheduled event for each due function (moto fires none)."""

from __future__ import annotations

import json
import time
import uuid

from path2prod.domain.time import format_time, utc_now
from path2prod.sandbox.functions import FUNCTIONS
from path2prod.sandbox.provisioning import Provisioning


class Scheduler:
    """Puts a "Scheduled Event" on a function's queue every `every_seconds` of its, in each env."""

    def __init__(self, provisioning: Provisioning, region: str) -> None:
        self.provisioning, self.region = provisioning, region
        self._last_run: dict[tuple[str, str], float] = {}

    def run_due(self) -> None:
        """Send the scheduled event of each function whose interval has passed since its last one."""
        now = time.monotonic()
        for function in FUNCTIONS:
            if function.every_seconds is None:
                continue
            for env, account in self.provisioning.accounts.items():
                if not function.runs_in(env):
                    continue
                if now - self._last_run.get((env, function.name), 0.0) < function.every_seconds:
                    continue
                self._last_run[(env, function.name)] = now
                event = {
                    "version": "0",
                    "id": str(uuid.uuid4()),
                    "detail-type": "Scheduled Event",
                    "source": "aws.scheduler",
                    "account": account.account_id,
                    "time": format_time(utc_now()),
                    "region": self.region,
                    "resources": [
                        f"arn:aws:scheduler:{self.region}:{account.account_id}:schedule/{function.name}"
                    ],
                    "detail": {},
                }
                account.client("sqs").send_message(
                    QueueUrl=self.provisioning.queues[(env, function.name)], MessageBody=json.dumps(event)
                )
