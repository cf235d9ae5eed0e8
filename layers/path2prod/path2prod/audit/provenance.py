"""Provenance for auditors: every deployment of a window, with the chain that backs it or why it is broken.

The decision is domain/provenance.py's; this module reads what it needs, with Queries only, a fixed
number whatever the window holds, plus a few for each deployment the first read cannot settle:

1. for each env listed and each env upstream of it (prd: stg and dev), its entries from LOOKBACK before
   the window to the window's end: `by-env-time`, one ranged Query in 1 MB pages, oldest first;
2. for a deployment those entries do not show as complete (broken, or backed by evidence older than
   the lookback), its commit's entries in its env and in each env upstream: `by-commit-time`, one
   Query per env, once per commit.

A deployment that read 2 still finds broken is listed broken. What it cannot see: evidence after the
window's end (an approval given after both the deployment and the window is reported as missing, not
as late), and, for evidence older than the lookback, a deployment of another commit between that push
and the deployment (read 2 reads the commit's own entries only).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from path2prod import ENVS
from path2prod.audit.ports import CommitHistory
from path2prod.domain.ledger import LedgerEntry
from path2prod.domain.provenance import (
    UPSTREAM,
    Backing,
    Provenance,
    deployments_in,
    provenance_of,
    refused_by_gate,
)
from path2prod.domain.time import format_time
from path2prod.domain.vocabulary import EntryKind, EntryState
from path2prod.domain.window import TimeWindow, parse_utc

# How far before the window each ledger is read: an approval request expires after 72 hours by default
# (ApprovalExpiryHours), so a promotion's approval, its push and its upstream success are normally days,
# not weeks, before its deployment. Evidence older than this costs its commit a Query per env (read 2).
LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class ProvenanceReport:
    """The deployments of `envs` in `window`, oldest first, each with its provenance."""

    window: TimeWindow
    envs: tuple[str, ...]
    rows: tuple[Provenance, ...]

    @property
    def broken(self) -> tuple[Provenance, ...]:
        return tuple(row for row in self.rows if not row.complete)

    def as_rows(self) -> list[dict[str, Any]]:
        """What `audit provenance --json` prints: one object per deployment."""
        return [provenance_row(row) for row in self.rows]


def provenance_row(provenance: Provenance) -> dict[str, Any]:
    """One deployment as JSON: env, commit, execution_id, time (when it SUCCEEDED; for a commit the gate
    refused, when it refused it), complete, via (what backs it: entry point, promotion, rollback; null
    when broken), chain (oldest step first), reason."""
    deployment = provenance.deployment
    return {
        "env": deployment.env,
        "commit": deployment.commit,
        "execution_id": deployment.execution_id,
        "time": deployment.succeeded_at or deployment.started_at,
        "complete": provenance.complete,
        "via": str(provenance.via) if provenance.via is not None else None,
        "chain": [step.as_dict() for step in provenance.steps],
        "reason": provenance.reason,
    }


def verdict(row: Provenance) -> str:
    """BROKEN and why, or what backs it: the envs a promotion came through, the run a rollback (or a
    redeploy) brought back, or the entry point."""
    if not row.complete:
        return f"BROKEN: {row.reason}"
    if row.via is Backing.PROMOTION:
        return f"complete (promotion: {' > '.join(dict.fromkeys(step.env for step in row.steps))})"
    if row.via is Backing.ROLLBACK:
        ran_before, rollback = row.steps[0], row.steps[1]
        return f"complete ({rollback.what.lower()} to its run of {ran_before.time})"
    return f"complete ({row.via})"


def envs_read(envs: Iterable[str]) -> tuple[str, ...]:
    """The envs listed and every env upstream of them, each once, dev first."""
    needed: set[str] = set()
    for env in envs:
        name: str | None = env
        while name is not None:
            needed.add(name)
            name = UPSTREAM.get(name)
    return tuple(env for env in ENVS if env in needed)


def provenance_report(
    envs: Iterable[str],
    ledgers: Mapping[str, CommitHistory],
    *,
    since: str | None,
    until: str | None,
    now: datetime | None = None,
) -> ProvenanceReport:
    """The provenance of every SUCCEEDED deployment of `envs` over [since, until] (ISO-8601; default: the
    30 days until now), and of every commit the gate refused then (broken, refused_by_gate). `ledgers`
    holds each env's ledger: the envs listed and those upstream of them."""
    window = TimeWindow.from_options(since, until, now=now)
    named = set(envs)
    listed = tuple(env for env in ENVS if env in named)
    lookback = format_time(parse_utc(window.since) - LOOKBACK)
    read = {
        env: list(ledgers[env].history(env, oldest_first=True, since=lookback, until=window.until))
        for env in envs_read(listed)
    }
    evidence = Evidence(read)
    looked_up: set[tuple[str, str]] = set()
    rows = []
    for env in listed:
        mine = [row for row in refused_by_gate(env, read[env]) if window.contains(row.deployment.started_at)]
        for deployment in deployments_in(env, read[env]):
            if not window.contains(deployment.succeeded_at or ""):
                continue
            commit = deployment.commit
            provenance = provenance_of(deployment, evidence.of(commit))
            if not provenance.complete and (commit, env) not in looked_up:
                # Perhaps backed by evidence older than the lookback: the commit's own entries, read whole.
                looked_up.add((commit, env))
                evidence.add(_commit_entries(commit, env, ledgers))
                provenance = provenance_of(deployment, evidence.of(commit))
            mine.append(provenance)
        rows.extend(sorted(mine, key=lambda row: row.deployment.succeeded_at or row.deployment.started_at))
    return ProvenanceReport(window, listed, tuple(rows))


def _commit_entries(
    commit: str, env: str, ledgers: Mapping[str, CommitHistory]
) -> dict[str, list[LedgerEntry]]:
    """`commit`'s entries in env and in each env upstream of it, one Query each."""
    return {
        name: [
            entry for entry in ledgers[name].commit_entries(commit, newest_first=False) if entry.env == name
        ]
        for name in envs_read([env])
    }


class Evidence:
    """The entries read, indexed so that each decision looks at what can matter to it: the commit's own
    entries in each env, and the starts of other commits' deployments (did main name another commit in
    between?). Without it, each deployment would walk every entry of the window."""

    def __init__(self, read: Mapping[str, list[LedgerEntry]]) -> None:
        self._by_commit: dict[str, dict[str, dict[tuple[int | None, str], LedgerEntry]]] = {}
        self._starts: dict[str, list[LedgerEntry]] = {}
        self.add(read)

    def add(self, entries_by_env: Mapping[str, list[LedgerEntry]]) -> None:
        """More entries; one both reads hold (the same chained item) is kept once."""
        for env, entries in entries_by_env.items():
            for entry in entries:
                known = self._by_commit.setdefault(entry.commit, {}).setdefault(env, {})
                key = (entry.seq, entry.entry_id)
                if key in known:
                    continue
                known[key] = entry
                if entry.kind == EntryKind.DEPLOYMENT and entry.state == EntryState.STARTED:
                    self._starts.setdefault(env, []).append(entry)

    def of(self, commit: str) -> dict[str, list[LedgerEntry]]:
        """Per env: `commit`'s entries and every other commit's deployment starts."""
        own = self._by_commit.get(commit, {})
        envs = {*own, *self._starts}
        return {
            env: [
                *own.get(env, {}).values(),
                *(entry for entry in self._starts.get(env, []) if entry.commit != commit),
            ]
            for env in envs
        }
