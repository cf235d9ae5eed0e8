"""DORA metrics of one env: the ledger reads behind domain/dora.py.

A fixed number of Queries, whatever number of commits the window holds (each read pages through 1 MB
pages, so only its length adds requests):

- env's entries from LOOKBACK before the window to its end, oldest first (one ranged Query): the
  window's executions, and the commits' earlier entries (was a SUCCEEDED in the window the commit's
  first there?);
- dev's entries over the same range (the same read when env is dev): when each commit entered the path;
- only when nothing ended in the lookback: before it, newest first, until the first SUCCEEDED or FAILED
  (was the env working when the window opened?), a few items;
- only when the window ends on an unrestored break: after the window, oldest first, until the first
  SUCCEEDED (the restore, if there was one yet).

The join is in memory. A commit the lookback cannot settle is read by commit, as before (two Queries):
one with no deployment entry in dev's part of the read (it entered the path before the lookback, or
never ran in dev), and one a rollback in either read redeployed (it ran before, maybe before the
lookback). What the lookback alone can get wrong: a commit pushed again by hand (not by a rollback)
after more than LOOKBACK, whose first SUCCEEDED or dev entry is older than the read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

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
from path2prod.domain.time import format_time
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.domain.window import TimeWindow, parse_utc, second_after, second_before

# Reads that stop at the first match fetch small pages, so they stay a few items.
_PROBE_PAGE = 10
# How far before the window the env's and dev's entries are read for lead times: commits usually enter
# dev hours or days before they reach prd; one that entered earlier costs its own two Queries.
LOOKBACK = timedelta(days=30)


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
    lookback = format_time(parse_utc(window.since) - LOOKBACK)
    read = list(ledger.history(env, oldest_first=True, since=lookback, until=window.until))
    # An execution the gate refused never built: no deployment, and no failure of the env (what ran
    # before kept running). It counts in neither the frequency nor the failure rate.
    refused = {e.execution_id for e in read if e.kind == EntryKind.GATE and e.state == EntryState.REFUSED}
    deployments = [e for e in read if e.kind == EntryKind.DEPLOYMENT and e.execution_id not in refused]
    entries = [entry for entry in deployments if entry.time >= window.since]
    outcomes = execution_outcomes(entries, window)
    working_before = _working_before(env, ledger, window, earlier=deployments, lookback=lookback)
    next_success_after = None
    open_breaks = breaks(outcomes, working_before=working_before)
    if open_breaks and open_breaks[-1].restored is None:
        next_success_after = _first_success_after(env, ledger, window)
    dev_read = (
        read
        if env == "dev"
        else list(dev_ledger.history("dev", oldest_first=True, since=lookback, until=window.until))
    )
    lead_times = _lead_times(
        succeeded_commits(outcomes),
        env_entries=_by_commit(deployments),
        dev_entries=_by_commit(entry for entry in dev_read if entry.kind == EntryKind.DEPLOYMENT),
        rolled_back_to={entry.commit for entry in [*read, *dev_read] if entry.kind == EntryKind.ROLLBACK},
        ledger=ledger,
        dev_ledger=dev_ledger,
        same_ledger=env == "dev",
    )
    return dora_metrics(
        env,
        window,
        entries,
        lead_times=lead_times,
        working_before=working_before,
        next_success_after=next_success_after,
    )


def _by_commit(entries: Iterable[LedgerEntry]) -> dict[str, list[LedgerEntry]]:
    grouped: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        grouped[entry.commit].append(entry)
    return grouped


def _lead_times(
    commits: Iterable[str],
    *,
    env_entries: dict[str, list[LedgerEntry]],
    dev_entries: dict[str, list[LedgerEntry]],
    rolled_back_to: set[str],
    ledger: CommitHistory,
    dev_ledger: CommitHistory,
    same_ledger: bool,
) -> list[CommitLeadTime]:
    """Each commit's lead time, from the lookback's entries; by commit for those they cannot settle."""
    found: list[CommitLeadTime | None] = []
    for commit in commits:
        in_dev = dev_entries.get(commit, [])
        if commit in rolled_back_to or entered_path(in_dev) is None:
            found.append(_lead_time(commit, ledger, dev_ledger, same_ledger=same_ledger))
            continue
        first = first_success(env_entries.get(commit, []))
        if first is not None:
            found.append(CommitLeadTime(commit, entered_path=entered_path(in_dev), succeeded=first.time))
    return [lead_time for lead_time in found if lead_time is not None]


def _working_before(
    env: str, ledger: EnvHistory, window: TimeWindow, *, earlier: list[LedgerEntry], lookback: str
) -> bool:
    """Whether the last deployment that ended before the window SUCCEEDED: from the lookback's entries
    (`earlier`, oldest first), else from a probe of the ledger before the lookback."""
    for entry in reversed(earlier):
        if entry.time < window.since and entry.state in (EntryState.SUCCEEDED, EntryState.FAILED):
            return entry.state == EntryState.SUCCEEDED
    before = second_before(lookback)
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
