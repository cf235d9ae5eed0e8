"""DORA metrics of one env: the ledger reads behind domain/dora.py.

Every read is a Query bounded by the window or by one commit, so the cost follows what the window holds,
not the size of the table:

- env's entries in the window (one history Query per page);
- before the window, newest first, until the first SUCCEEDED or FAILED: was the env working when the
  window opened? (a few items);
- only when the window ends on an unrestored break: after the window, oldest first, until the first
  SUCCEEDED (the restore, if there was one yet);
- per commit that succeeded in the window: its entries in env (is this its first SUCCEEDED there?) and
  in dev (when did it enter the path?), one Query each (one in all when env is dev).
"""

from __future__ import annotations

from datetime import datetime

from path2prod.audit.ports import CommitHistory, EnvHistory
from path2prod.domain.dora import (
    CommitLeadTime,
    DoraMetrics,
    breaks,
    dora_metrics,
    entered_path,
    execution_outcomes,
    first_success,
    succeeded_commits,
)
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.domain.window import TimeWindow, second_after, second_before

# Reads that stop at the first match fetch small pages, so they stay a few items.
_PROBE_PAGE = 10


def env_metrics(
    env: str,
    ledger: CommitHistory,
    dev_ledger: CommitHistory,
    *,
    since: str | None,
    until: str | None,
    now: datetime | None = None,
) -> DoraMetrics:
    """The four DORA metrics of env over [since, until] (ISO-8601; default: the 30 days until now).

    ledger is env's ledger; dev_ledger is dev's (the same table when env is dev), where lead times start.
    """
    window = TimeWindow.from_options(since, until, now=now)
    entries = [
        entry
        for entry in ledger.history(env, oldest_first=True, since=window.since, until=window.until)
        if entry.kind == EntryKind.DEPLOYMENT
    ]
    outcomes = execution_outcomes(entries, window)
    working_before = _working_before(env, ledger, window)
    next_success_after = None
    open_breaks = breaks(outcomes, working_before=working_before)
    if open_breaks and open_breaks[-1].restored is None:
        next_success_after = _first_success_after(env, ledger, window)
    lead_times = [
        _lead_time(commit, ledger, dev_ledger, same_ledger=env == "dev")
        for commit in succeeded_commits(outcomes)
    ]
    return dora_metrics(
        env,
        window,
        entries,
        lead_times=[lead_time for lead_time in lead_times if lead_time is not None],
        working_before=working_before,
        next_success_after=next_success_after,
    )


def _working_before(env: str, ledger: EnvHistory, window: TimeWindow) -> bool:
    """Whether the last deployment that ended before the window SUCCEEDED."""
    before = second_before(window.since)
    if before is None:
        return False
    for entry in ledger.history(env, until=before, page_size=_PROBE_PAGE):
        if entry.kind == EntryKind.DEPLOYMENT and entry.state in (EntryState.SUCCEEDED, EntryState.FAILED):
            return entry.state == EntryState.SUCCEEDED
    return False


def _first_success_after(env: str, ledger: EnvHistory, window: TimeWindow) -> str | None:
    after = second_after(window.until)
    if after is None:
        return None
    for entry in ledger.history(env, oldest_first=True, since=after, page_size=_PROBE_PAGE):
        if entry.kind == EntryKind.DEPLOYMENT and entry.state == EntryState.SUCCEEDED:
            return entry.time
    return None


def _lead_time(
    commit: str, ledger: CommitHistory, dev_ledger: CommitHistory, *, same_ledger: bool
) -> CommitLeadTime | None:
    in_env: list[LedgerEntry] = ledger.commit_entries(commit, newest_first=False)
    first = first_success(in_env)
    if first is None:
        return None
    in_dev = in_env if same_ledger else dev_ledger.commit_entries(commit, newest_first=False)
    return CommitLeadTime(commit=commit, entered_path=entered_path(in_dev), succeeded=first.time)
