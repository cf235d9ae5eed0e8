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
from path2prod.domain.provenance import UPSTREAM, Provenance, deployments_in, provenance_of
from path2prod.domain.time import format_time
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
    """One deployment as JSON: env, commit, execution_id, time (when it SUCCEEDED), complete, via (what
    backs it: entry point, promotion, rollback; null when broken), chain (oldest step first), reason."""
    deployment = provenance.deployment
    return {
        "env": deployment.env,
        "commit": deployment.commit,
        "execution_id": deployment.execution_id,
        "time": deployment.succeeded_at,
        "complete": provenance.complete,
        "via": str(provenance.via) if provenance.via is not None else None,
        "chain": [step.as_dict() for step in provenance.steps],
        "reason": provenance.reason,
    }


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
    30 days until now). `ledgers` holds each env's ledger: the envs listed and those upstream of them."""
    window = TimeWindow.from_options(since, until, now=now)
    named = set(envs)
    listed = tuple(env for env in ENVS if env in named)
    lookback = format_time(parse_utc(window.since) - LOOKBACK)
    read = {
        env: list(ledgers[env].history(env, oldest_first=True, since=lookback, until=window.until))
        for env in envs_read(listed)
    }
    by_commit: dict[str, dict[str, list[LedgerEntry]]] = {}
    rows = []
    for env in listed:
        for deployment in deployments_in(env, read[env]):
            if not window.contains(deployment.succeeded_at or ""):
                continue
            provenance = provenance_of(deployment, read)
            if not provenance.complete:
                # Perhaps backed by evidence older than the lookback: the commit's own entries, read whole.
                if deployment.commit not in by_commit:
                    by_commit[deployment.commit] = _commit_entries(deployment.commit, env, ledgers)
                provenance = provenance_of(deployment, _merged(read, by_commit[deployment.commit]))
            rows.append(provenance)
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


def _merged(
    read: Mapping[str, list[LedgerEntry]], extra: Mapping[str, list[LedgerEntry]]
) -> dict[str, list[LedgerEntry]]:
    """Each env's entries of both reads, each entry once (an entry both reads hold is the same item)."""
    merged = {}
    for env in {*read, *extra}:
        unique = {(entry.seq, entry.entry_id): entry for entry in [*read.get(env, []), *extra.get(env, [])]}
        merged[env] = list(unique.values())
    return merged
