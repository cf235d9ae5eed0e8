"""The report's provenance section: every deployment of the judged envs (stg and prd, or those of them the
report shows) in the window with what backs it, the broken ones marked and first (audit/provenance.py
decides; `path2prod audit provenance` lists the same)."""

from __future__ import annotations

from collections.abc import Sequence

from path2prod.audit.provenance import ProvenanceReport, verdict
from path2prod.domain.provenance import Provenance
from path2prod.html import EMPTY, Html, escape, join, markup


def provenance_section(report: ProvenanceReport) -> Html:
    rows: Sequence[Provenance] = report.rows
    where = escape(" and ".join(report.envs))
    broken = report.broken
    if not rows:
        summary = markup(f"<p>No deployment SUCCEEDED in {where} in this window.</p>")
    elif broken:
        summary = markup(
            f'<p class="broken">{len(broken)} of {len(rows)} deployments in {where} have a broken '
            "chain: nothing on record backs them (a push straight to the env, an approval given after "
            "it deployed...).</p>"
        )
    else:
        summary = markup(
            f"<p>All {len(rows)} deployments in {where} are backed: approved and pushed after "
            "succeeding upstream, or a rollback to a commit that ran there before.</p>"
        )
    ordered = sorted(rows, key=lambda row: (row.complete, row.deployment.succeeded_at or ""))
    table = (
        markup(
            "<table><thead><tr><th>env</th><th>SUCCEEDED</th><th>commit</th><th>execution</th>"
            f"<th>provenance</th></tr></thead><tbody>{join(_row(row) for row in ordered)}</tbody></table>"
        )
        if rows
        else EMPTY
    )
    return markup(
        '<section id="provenance">\n<h2>Provenance</h2>\n'
        f"{summary}{table}<p>What backs a deployment, and what breaks a chain: docs/provenance.md.</p>"
        "</section>"
    )


def _row(row: Provenance) -> Html:
    deployment = row.deployment
    mark = "" if row.complete else ' class="broken"'
    return markup(
        f"<tr{mark}>"
        f"<td>{escape(deployment.env)}</td>"
        f"<td>{escape(deployment.succeeded_at or '')}</td>"
        f'<td class="mono">{escape(deployment.commit)}</td>'
        f'<td class="mono">{escape(deployment.execution_id or "")}</td>'
        f"<td>{escape(verdict(row))}</td>"
        "</tr>"
    )
