"""The rollback's ports: what its use cases need from the ledger, the repo and CodePipeline (the alerts
topic is path2prod/ports.py's Alerts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from path2prod.domain.bake import NO_BAKE_WATCH, AlarmState, BakeWatch
from path2prod.domain.event_fields import ThisStack
from path2prod.domain.git import PushResult
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.rollback import RollbackLock
from path2prod.ports import Alerts, MainBranch


class RollbackLedger(Protocol):
    """The env's ledger as rollbacks read and write it: entries, and the env's rollback lock."""

    def append_entry(self, entry: LedgerEntry, *, remember_commit: bool = False) -> bool: ...
    def rollback_lock(self) -> RollbackLock | None: ...
    def rollback_lock_item(self) -> RollbackLock | None: ...
    def acquire_rollback_lock(
        self, holder: str, target: str, *, now: str, expires_at: str, details: dict[str, str] | None = None
    ) -> RollbackLock | None: ...
    def note_rollback_run(self, holder: str, execution_id: str) -> None: ...
    def count_rollback_attempt(self, holder: str) -> int: ...
    def rollback_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]: ...
    def execution_entries(self, pipeline: str, execution_id: str) -> list[LedgerEntry]: ...
    def release_rollback_lock(self, holder: str) -> None: ...
    def append_rollback_ending(self, entry: LedgerEntry, holder: str) -> bool: ...
    def last_succeeded_commit(self, env: str, *, other_than: str | None = None) -> str | None: ...
    def last_deployment_ended(self, env: str) -> LedgerEntry | None: ...
    def commit_entries(
        self, commit: str, *, newest_first: bool = True, limit: int | None = None
    ) -> list[LedgerEntry]: ...


class RollbackRepository(MainBranch, Protocol):
    """The env's repository as a rollback moves it: its `main` forced back to a good commit."""

    def force_main(self, commit: str) -> PushResult: ...


class Pipelines(Protocol):
    """CodePipeline, asked to run a commit again (a rollback to what `main` names already)."""

    def start(self, pipeline: str, commit: str) -> str: ...


class Alarms(Protocol):
    """CloudWatch, asked what state a named alarm is in (an alarm event is a claim)."""

    def alarm(self, name: str) -> AlarmState | None: ...


@dataclass
class Rollbacks:
    stack: ThisStack  # the env (and its account, region, pipeline) this rolls back
    ledger: RollbackLedger
    repository: RollbackRepository
    alerts: Alerts
    auto_rollback: bool
    pipelines: Pipelines
    # The bake watch (alarm events); a manual rollback (the CLI's) needs neither.
    bake: BakeWatch = field(default=NO_BAKE_WATCH)
    alarms: Alarms | None = None

    @property
    def env(self) -> str:
        return self.stack.env
