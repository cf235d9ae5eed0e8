"""The auditor's report: one self-contained HTML page of what runs where now, what ran, and the DORA
figures (pure: it renders what it is given).

The page needs no network to be read: CSS is inline, the charts are inline SVG, there is no script,
font, image or link to fetch (a Content-Security-Policy says so to the browser). Everything taken from
the ledger or a repository goes through path2prod/html.py's `escape`, and every fragment is `Html`, so a
hostile commit message or id is shown, never run.

At the top, the status of each env (audit/status.py): what runs now and since when, pending approvals
and who is still to answer, rollbacks in flight, drift of main; then what backs each stg and prd
deployment (its provenance, broken chains marked). Then the window's counts per env, in the
words of audit/entries.py (requests, decisions and rollbacks, not entries), the timeline
(report_svg.py: one lane per env, every marker labelled), the DORA metrics and the entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from path2prod import ENVS
from path2prod.audit.entries import execution_of, request_id_of
from path2prod.audit.provenance import ProvenanceReport
from path2prod.audit.report_model import Execution, counts_of, executions_of, marks_of
from path2prod.audit.report_provenance import provenance_section
from path2prod.audit.report_style import CSS
from path2prod.audit.report_svg import timeline_section
from path2prod.audit.status import EnvStatus, PendingApproval
from path2prod.domain.ledger import LedgerEntry
from path2prod.html import EMPTY, Html, escape, join, markup

METRICS = (
    ("deployment_frequency", "Deployment frequency", "deployments that ended SUCCEEDED, per day"),
    (
        "lead_time_for_changes",
        "Lead time for changes",
        "median time from a commit's first run in dev to its first SUCCEEDED here",
    ),
    ("change_failure_rate", "Change failure rate", "FAILED / (SUCCEEDED + FAILED) deployments"),
    (
        "time_to_restore",
        "Time to restore",
        "median time from a failure that broke the env to its next SUCCEEDED",
    ),
)


def render_report(
    entries_by_env: Mapping[str, Sequence[LedgerEntry]],
    metrics_by_env: Mapping[str, dict[str, Any]],
    *,
    since: str,
    until: str,
    generated_at: str,
    status_by_env: Mapping[str, EnvStatus] | None = None,
    provenance: ProvenanceReport | None = None,
) -> str:
    """The whole report as one HTML document.

    entries_by_env: each env's ledger entries in the window (any order, any kind); every env named here
    or in metrics_by_env gets a lane. metrics_by_env: each env's `DoraMetrics.as_dict()` (the four keys
    `deployment_frequency`, `lead_time_for_changes`, `change_failure_rate`, `time_to_restore`, each
    `{"value": number|None, "unit": str, ...details}`); a missing env or key reads "n/a".
    since, until, generated_at: shown as given (ledger times, ISO-8601 UTC).
    status_by_env: each env's status now (audit/status.py), shown first; None leaves that part out.
    provenance: what backs each deployment of the judged envs in the window (audit/provenance.py),
    broken ones marked; None leaves that part out.
    """
    envs = _ordered_envs([*entries_by_env, *metrics_by_env])
    executions = {env: executions_of(entries_by_env.get(env, ())) for env in envs}
    marks = {env: marks_of(entries_by_env.get(env, ())) for env in envs}
    head = markup(
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        # Nothing on this page may reach the network: no scripts, fonts, images or frames.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>path2prod report · {escape(since)} → {escape(until)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n"
    )
    body = [
        markup("<body>\n<main>"),
        _header(envs, entries_by_env, executions, since=since, until=until, generated_at=generated_at),
        _now_section(status_by_env) if status_by_env is not None else EMPTY,
        provenance_section(provenance) if provenance is not None else EMPTY,
        timeline_section(envs, executions, marks, since=since, until=until, generated_at=generated_at),
        _metrics_section(envs, metrics_by_env),
        _entries_section(envs, entries_by_env),
        markup(
            "<footer>Made by path2prod from each account's ledger. Check that the record was not edited "
            "with <code>path2prod ledger verify</code>; how each metric is computed: docs/metrics.md; what "
            "each count counts: docs/audit.md.</footer>"
        ),
        markup("</main>\n</body>\n</html>\n"),
    ]
    return str(head + join((part for part in body if part), markup("\n")))


def format_metric(key: str, metric: Mapping[str, Any] | None) -> tuple[str, str]:
    """A metric's value and its details, in words: ("2.5 per day", "5 deployments in 2 days")."""
    if not metric or not isinstance(metric.get("value"), int | float):
        return "n/a", _details(key, metric or {}) or "nothing to measure in this window"
    value = float(metric["value"])
    unit = str(metric.get("unit", ""))
    if key == "change_failure_rate" or unit == "ratio":
        text = f"{_number(value * 100)}%"
    elif unit == "seconds":
        text = format_duration(value)
    elif key == "deployment_frequency":
        text = f"{_number(value)} per day"
    else:
        text = f"{_number(value)} {unit}".strip()
    return text, _details(key, metric)


def format_duration(seconds: float) -> str:
    """A duration for people: `42 s`, `3 min 20 s`, `2 h 5 min`, `1 d 4 h`."""
    total = round(seconds)
    if total < 60:
        return f"{seconds:.3g} s" if seconds < 10 and total != seconds else f"{total} s"
    for size, name, small, small_name in (
        (86400, "d", 3600, "h"),
        (3600, "h", 60, "min"),
        (60, "min", 1, "s"),
    ):
        if total >= size:
            big, rest = divmod(total, size)
            part = rest // small
            return f"{big} {name} {part} {small_name}" if part else f"{big} {name}"
    return f"{total} s"  # pragma: no cover - every total >= 60 matched above


# --- page parts -------------------------------------------------------------------------------------


def _header(
    envs: Sequence[str],
    entries_by_env: Mapping[str, Sequence[LedgerEntry]],
    executions: Mapping[str, Sequence[Execution]],
    *,
    since: str,
    until: str,
    generated_at: str,
) -> Html:
    items = []
    for env in envs:
        counts = counts_of(entries_by_env.get(env, ()), executions[env])
        words = [
            _plural(counts.executions, "execution"),
            f"{counts.succeeded} succeeded",
            f"{counts.failed} failed",
            _plural(counts.approval_requests, "approval request"),
            _plural(counts.decisions, "decision"),
            _plural(counts.rollbacks, "rollback"),
        ]
        if counts.rollbacks_refused:
            words.append(f"{counts.rollbacks_refused} not rolled back")
        items.append(markup(f"<li><b>{escape(env)}</b>{escape(' · '.join(words))}</li>"))
    return markup(
        "<header>\n<h1>path2prod — the path to production</h1>\n"
        f'<p class="meta">Window <time>{escape(since)}</time> → <time>{escape(until)}</time> (UTC)'
        f" · generated <time>{escape(generated_at)}</time></p>\n"
        f'<ul class="summary">{join(items)}</ul>\n</header>'
    )


def _now_section(status_by_env: Mapping[str, EnvStatus]) -> Html:
    """What each env runs now, what waits for approval, rollbacks in flight, drift: a table."""
    rows = []
    for env in _ordered_envs(status_by_env):
        status = status_by_env[env]
        running = status.running
        runs = (
            markup(
                f'<td class="mono">{escape(running.commit[:12])}</td>'
                f'<td class="time">{escape(running.since)}</td>'
            )
            if running
            else markup('<td class="nothing">nothing SUCCEEDED recently</td><td></td>')
        )
        last = status.last_deployment
        last_cell = (
            markup(
                f'<span class="mono">{escape(last.commit[:12])}</span> '
                f'<span class="state-{escape(last.state)}">{escape(last.state)}</span> {escape(last.time)}'
            )
            if last
            else _NONE
        )
        approvals = (
            markup(f"<ul>{join(_pending_item(approval) for approval in status.pending_approvals)}</ul>")
            if status.pending_approvals
            else _NONE
        )
        rollback = status.rollback_in_flight
        rollback_cell = (
            markup(
                f'to <span class="mono">{escape(rollback.target[:12])}</span> since {escape(rollback.since)}'
                + (" (stale)" if rollback.stale else "")
            )
            if rollback
            else _NONE
        )
        drift = status.drift
        drift_cell = {
            True: markup(
                f'<span class="drift-yes">yes: main is {escape((status.main or "empty")[:12])}</span>'
            ),
            False: markup("no"),
            None: markup(f'<span class="nothing">unknown ({escape(status.main_error or "")})</span>'),
        }[drift]
        rows.append(
            markup(
                f'<tr data-env="{escape(env)}"><td class="env">{escape(env)}</td>{runs}<td>{last_cell}</td>'
                f"<td>{approvals}</td><td>{rollback_cell}</td><td>{drift_cell}</td></tr>"
            )
        )
    return markup(
        '<section id="now">\n<h2>Now</h2>\n<table class="now"><thead><tr><th>env</th><th>runs</th>'
        "<th>since</th><th>last deployment</th><th>pending approvals</th><th>rollback in flight</th>"
        f"<th>main drifted</th></tr></thead><tbody>{join(rows)}</tbody></table>\n</section>"
    )


_NONE = markup('<span class="nothing">none</span>')


def _pending_item(approval: PendingApproval) -> Html:
    return markup(
        f'<li>{escape(approval.request_id)} for <span class="mono">{escape(approval.commit[:12])}</span>: '
        f"{approval.approvals_needed} of {approval.quorum} more, awaiting "
        f"{escape(', '.join(approval.awaiting) or 'nobody')}; expires {escape(approval.expires_at)}</li>"
    )


def _metrics_section(envs: Sequence[str], metrics_by_env: Mapping[str, Mapping[str, Any]]) -> Html:
    cards = join(
        (_metric_card(key, title, how, envs, metrics_by_env) for key, title, how in METRICS), markup("\n")
    )
    return markup(
        f'<section id="dora">\n<h2>DORA metrics</h2>\n<div class="cards">\n{cards}\n</div>\n</section>'
    )


def _metric_card(
    key: str, title: str, how: str, envs: Sequence[str], metrics_by_env: Mapping[str, Mapping[str, Any]]
) -> Html:
    width, label_w, bar_w, row_h = 600, 52, 230, 30
    values: dict[str, float | None] = {}
    for env in envs:
        metric = metrics_by_env.get(env, {}).get(key)
        value = metric.get("value") if isinstance(metric, Mapping) else None
        values[env] = float(value) if isinstance(value, int | float) else None
    known = [value for value in values.values() if value is not None and value > 0]
    top = 1.0 if key == "change_failure_rate" else max(known, default=0.0)
    rows = []
    for index, env in enumerate(envs):
        metric = metrics_by_env.get(env, {}).get(key)
        text, detail = format_metric(key, metric if isinstance(metric, Mapping) else None)
        value = values[env]
        # A value too small to see still gets a sliver; nothing, or zero, gets none.
        length = 0.0 if not value or top <= 0 else max(2.0, bar_w * min(value, top) / top)
        y = 6 + index * row_h
        rows.append(
            markup(
                f'<g class="metric-row" data-env="{escape(env)}">'
                f"<title>{escape(f'{env}: {text} ({detail})')}</title>"
                f'<text class="bar-env" x="0" y="{y + 15}">{escape(env)}</text>'
                f'<rect class="bar-track" x="{label_w}" y="{y + 3}" width="{bar_w}" height="16" rx="3"/>'
                f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{length:.1f}" height="16" rx="3"/>'
                f'<text x="{label_w + bar_w + 12}" y="{y + 16}">'
                f'<tspan class="bar-value">{escape(text)}</tspan>'
                f'<tspan class="bar-detail" dx="10">{escape(detail)}</tspan></text></g>'
            )
        )
    height = 12 + row_h * len(envs)
    return markup(
        f'<article class="metric" data-metric="{escape(key)}"><h3>{escape(title)}</h3>'
        f'<p class="how">{escape(how)}</p>'
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)} per environment">'
        f"{join(rows)}</svg></article>"
    )


def _entries_section(envs: Sequence[str], entries_by_env: Mapping[str, Sequence[LedgerEntry]]) -> Html:
    parts = [markup('<section id="entries">\n<h2>Ledger entries</h2>')]
    for env in envs:
        entries = sorted(entries_by_env.get(env, ()), key=lambda entry: entry.order_key, reverse=True)
        rows = join(_entry_row(entry) for entry in entries)
        table = (
            markup(
                "<table><thead><tr><th>time</th><th>state</th><th>kind</th><th>commit</th><th>execution</th>"
                f"<th>request_id</th></tr></thead><tbody>{rows}</tbody></table>"
            )
            if entries
            else markup("<p>No entries in this window.</p>")
        )
        parts.append(
            markup(
                f"<details><summary>{escape(env)}: "
                f"{escape(_plural(len(entries), 'ledger entry', 'ledger entries'))}, newest first</summary>"
                f"{table}</details>"
            )
        )
    parts.append(markup("</section>"))
    return join(parts, markup("\n"))


def _entry_row(entry: LedgerEntry) -> Html:
    return markup(
        "<tr>"
        f"<td>{escape(entry.time)}</td>"
        f'<td class="state-{escape(entry.state)}">{escape(entry.state)}</td>'
        f"<td>{escape(entry.kind)}</td>"
        f'<td class="mono">{escape(entry.commit)}</td>'
        f'<td class="mono">{escape(execution_of(entry) or "")}</td>'
        f'<td class="mono">{escape(request_id_of(entry) or "")}</td>'
        "</tr>"
    )


# --- helpers ----------------------------------------------------------------------------------------


def _details(key: str, metric: Mapping[str, Any]) -> str:
    """The counts behind a metric, in words; unknown detail keys as `key value`."""
    extra = {k: v for k, v in metric.items() if k not in ("value", "unit")}
    words: list[str] = []
    if key == "deployment_frequency" and "deployments" in extra:
        days = extra.pop("days", None)
        words.append(_plural(int(extra.pop("deployments")), "deployment"))
        if isinstance(days, int | float):
            words[-1] += f" in {_number(float(days))} days"
    elif key == "lead_time_for_changes":
        p90 = extra.pop("p90", None)
        if isinstance(p90, int | float):
            words.append(f"p90 {format_duration(float(p90))}")
        if "commits" in extra:
            words.append(_plural(int(extra.pop("commits")), "commit"))
        unseen = extra.pop("not_seen_in_dev", 0)
        if unseen:
            words.append(f"{unseen} not seen in dev")
    elif key == "change_failure_rate" and "failed" in extra and "succeeded" in extra:
        failed, succeeded = int(extra.pop("failed")), int(extra.pop("succeeded"))
        words.append(f"{failed} of {failed + succeeded} failed")
    elif key == "time_to_restore":
        if "restored" in extra:
            words.append(_plural(int(extra.pop("restored")), "restore"))
        unrestored = extra.pop("unrestored", 0)
        if unrestored:
            words.append(f"{unrestored} still broken")
    words += [f"{k.replace('_', ' ')} {v}" for k, v in extra.items() if v is not None]
    return ", ".join(words)


def _ordered_envs(names: Iterable[str]) -> list[str]:
    unique = list(dict.fromkeys(names))
    return [env for env in ENVS if env in unique] + [env for env in unique if env not in ENVS]


def _number(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"
