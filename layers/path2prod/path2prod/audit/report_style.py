"""The report's stylesheet: inline in the page (the page reaches no network), kept apart from its words."""

from path2prod.html import markup

CSS = markup("""
:root { color-scheme: light; --ok: #1a7f37; --fail: #cf222e; --other: #8c959f; --approval: #8250df;
  --rollback: #bc4c00; --flow: #0969da; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 40px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1320px; margin: 0 auto; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 0; }
.meta { color: var(--muted); margin: 0; }
.meta time { color: var(--ink); font-variant-numeric: tabular-nums; }
.summary { display: flex; flex-wrap: wrap; gap: 8px 24px; list-style: none; padding: 0; margin: 12px 0 0; }
.summary li { padding: 6px 12px; border: 1px solid var(--line); border-radius: 6px; background: #f6f8fa; }
.summary b { text-transform: uppercase; margin-right: 6px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 20px; list-style: none; padding: 0; margin: 0 0 8px;
  color: var(--muted); font-size: 13px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.legend svg { width: 22px; height: 16px; }
.caption { color: var(--muted); font-size: 13px; margin: 4px 0 0; }
svg.timeline { display: block; width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--ink); }
.lane-bg { fill: #f6f8fa; }
.lane-bg.odd { fill: #fff; }
.lane-name { font-size: 16px; font-weight: 700; text-transform: uppercase; }
.lane-count, .tick-label, .empty, .sha { font-size: 11px; fill: var(--muted); }
.empty { font-style: italic; font-size: 13px; }
.sha { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.grid { stroke: var(--line); stroke-width: 1; }
.axis { stroke: var(--muted); stroke-width: 1; }
.flow { fill: none; stroke: var(--flow); stroke-width: 1.6; opacity: .55; }
.run-span { stroke-width: 3; stroke-linecap: round; opacity: .35; }
.ok { fill: var(--ok); stroke: var(--ok); }
.fail { fill: var(--fail); stroke: var(--fail); }
.other { fill: #fff; stroke: var(--other); stroke-width: 2; }
.cross { stroke: #fff; stroke-width: 1.8; stroke-linecap: round; fill: none; }
.approval-requested { fill: #fff; stroke: var(--approval); stroke-width: 2; }
.approval-approved { fill: var(--ok); stroke: #fff; stroke-width: 1; }
.approval-rejected { fill: var(--fail); stroke: #fff; stroke-width: 1; }
.approval-expired { fill: #fff; stroke: var(--other); stroke-width: 2; stroke-dasharray: 2 2; }
.promotion { fill: var(--flow); stroke: #fff; stroke-width: 1; }
.rollback { fill: var(--rollback); stroke: #fff; stroke-width: 1; }
.entry-other { fill: var(--muted); stroke: #fff; stroke-width: 1; }
.tick { stroke: #fff; stroke-width: 1.8; stroke-linecap: round; stroke-linejoin: round; fill: none; }
.mark-line { stroke-width: 1; stroke-dasharray: 3 3; opacity: .5; fill: none; }
.mark-line.approval-requested { stroke: var(--approval); }
.mark-line.approval-approved { stroke: var(--ok); }
.mark-line.approval-rejected { stroke: var(--fail); }
.mark-line.approval-expired { stroke: var(--other); }
.mark-line.promotion { stroke: var(--flow); }
.mark-line.rollback { stroke: var(--rollback); }
.mark-line.entry-other { stroke: var(--muted); }
.leader { stroke: var(--muted); stroke-width: 1; }
.mark-label { font-size: 11px; }
.now { border-collapse: collapse; width: 100%; margin: 8px 0 0; font-size: 14px; }
.now th, .now td { padding: 6px 12px 6px 0; border-bottom: 1px solid var(--line); }
.now td.env { font-weight: 700; text-transform: uppercase; }
.now td.mono, .now td.time, .now .mono { white-space: nowrap; word-break: normal; }
.now ul { margin: 0; padding-left: 16px; }
.drift-yes { color: var(--fail); font-weight: 600; }
.nothing { color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
.metric { border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; }
.metric .how { color: var(--muted); font-size: 13px; margin: 2px 0 8px; }
.metric svg { display: block; width: 100%; height: auto; }
.bar-track { fill: #eff2f5; }
.bar { fill: var(--flow); }
.bar-env { font-size: 13px; font-weight: 700; text-transform: uppercase; }
.bar-value { font-size: 14px; font-weight: 700; font-variant-numeric: tabular-nums; }
.bar-detail { font-size: 12px; fill: var(--muted); }
details { margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #eff2f5; vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
.state-SUCCEEDED { color: var(--ok); font-weight: 600; }
.state-FAILED { color: var(--fail); font-weight: 600; }
.broken, .broken td { color: var(--fail); font-weight: 600; }
footer { margin-top: 28px; color: var(--muted); font-size: 12px; }
""")
