"""EventBridge Scheduler's part: a scheduled event for each due function (moto fires none)."""

from __future__ import annotations

import json
import time
import uuid

from path2prod.domain.time import format_time, utc_now
from path2prod.sandbox.functions import FUNCTIONS, SandboxFunction
from path2prod.sandbox.provisioning import Provisioning


class Scheduler:
    """Puts a "Scheduled Event" on a function's queue every period of its (`period`), in each env."""

    def __init__(self, provisioning: Provisioning, region: str) -> None:
        self.provisioning, self.region = provisioning, region
        self._last_run: dict[tuple[str, str], float] = {}

    def period(self, function: SandboxFunction) -> float | None:
        """How often `function` runs here: its sandbox config field's seconds when it names one (the
        reconciler's `reconcile_seconds`), else its own `every_seconds`; None when not scheduled."""
        if function.every_setting is not None:
            return float(getattr(self.provisioning.config, function.every_setting))
        return function.every_seconds

    def run_due(self) -> None:
        """Send the scheduled event of each function whose interval has passed since its last one."""
        now = time.monotonic()
        for function in FUNCTIONS:
            period = self.period(function)
            if period is None:
                continue
            for env, account in self.provisioning.accounts.items():
                if not function.runs_in(env):
                    continue
                if now - self._last_run.get((env, function.name), 0.0) < period:
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
