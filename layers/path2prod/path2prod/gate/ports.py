"""The gate's ports: what its use case needs from the ledger, CodePipeline and its jobs (the alerts topic
is path2prod/ports.py's Alerts)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from path2prod.domain.event_fields import ThisStack
from path2prod.domain.gate import GateMode
from path2prod.domain.ledger import LedgerEntry
from path2prod.ports import Alerts, Clock, utc_now

if TYPE_CHECKING:
    from path2prod.domain.deploy_windows import DeployWindows


class GateLedger(Protocol):
    """The env's ledger as the gate reads and appends it: by commit, by time, and its own entries."""

    def commit_entries(
        self, commit: str, *, newest_first: bool = True, limit: int | None = None
    ) -> list[LedgerEntry]: ...
    def history(
        self,
        env: str,
        *,
        limit: int | None = None,
        oldest_first: bool = False,
        since: str | None = None,
        until: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[LedgerEntry]: ...
    def gate_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]: ...
    def append_entry(self, entry: LedgerEntry, *, remember_commit: bool = False) -> bool: ...


class ExecutionLookup(Protocol):
    """CodePipeline, asked which commit an execution runs and who started it."""

    def revision_and_trigger(self, pipeline: str, execution_id: str) -> tuple[str | None, str | None]: ...


class JobResults(Protocol):
    """CodePipeline's job results: how the gate answers the job it was given."""

    def succeed(self, job_id: str) -> None: ...
    def fail(self, job_id: str, message: str) -> None: ...


@dataclass
class Gate:
    stack: ThisStack  # the env (and its account, region, pipeline) this gate guards
    ledger: GateLedger
    executions: ExecutionLookup
    jobs: JobResults
    alerts: Alerts
    mode: GateMode  # resolved (settings.py): enforce, warn or off
    windows: DeployWindows | None = None  # the env's deploy windows; None: always open
    clock: Clock = utc_now
    sleep: Callable[[float], None] = time.sleep

    @property
    def env(self) -> str:
        return self.stack.env
