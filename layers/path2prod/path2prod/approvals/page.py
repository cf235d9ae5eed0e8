"""The approval page's HTML: what an approver sees on opening a link, after answering, and on an error.

Pure functions from domain values to text, no AWS. Every fragment is `Html` (path2prod/html.py) and
everything shown goes through its `escape` (quotes too): a commit's message and author come from git,
so whoever pushed to the upstream repo chose them, and the page must show them as text, never run them.
The pages hold no script at all and no resource from elsewhere; the only style is inline, which
`PAGE_HEADERS`' Content-Security-Policy allows and nothing more: even injected markup could neither
run, load anything, nor post elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from http import HTTPStatus

from path2prod.approvals.answering import LinkView
from path2prod.domain.approvals import (
    MAX_COMMENT_LENGTH,
    ApprovalRequest,
    ApprovalState,
    Decision,
    same_person,
    self_approval,
)
from path2prod.domain.review_facts import ChangedFile
from path2prod.domain.text import printable
from path2prod.domain.time import parse_time
from path2prod.html import Html, escape, join, markup

# The headers every response of the page carries, set here beside the HTML they protect: the policy
# must allow exactly what these pages use (an inline <style>, forms that post to the page itself).
PAGE_HEADERS: dict[str, str] = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    # A link's token is its credential: no cache, proxy or next page's Referer may keep a copy.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}

REASON_MAX_LENGTH = MAX_COMMENT_LENGTH  # the form's comment, kept with the answer

_STYLE = markup("""
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a;
  background: #f4f4f4; margin: 0; padding: 2rem 1rem; }
main { max-width: 46rem; margin: 0 auto; background: #fff; border: 1px solid #ccc; padding: 1.5rem 2rem; }
h1 { font-size: 1.4rem; margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; vertical-align: top; padding: .4rem .6rem; border-top: 1px solid #e2e2e2; }
th { width: 9rem; font-weight: 600; color: #444; }
code, pre { font: 14px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
code { overflow-wrap: anywhere; }
ul { margin: 0; padding-left: 1.2rem; }
.state { display: inline-block; padding: 0 .5rem; border: 1px solid #888; font-weight: 600; }
.note { border-left: 4px solid #b26b00; background: #fff6e5; padding: .6rem 1rem; margin: 1rem 0; }
.error { border-left-color: #b00020; background: #fdecee; }
.ok { border-left-color: #1b7f3b; background: #e9f6ee; }
form { margin: 1rem 0; }
label { display: block; margin-bottom: .3rem; }
textarea { width: 100%; box-sizing: border-box; padding: .4rem; font: inherit; margin-bottom: .5rem; }
.files td, .files th { border: 0; padding: 0 .6rem 0 0; width: auto; font-weight: normal; }
.added { color: #1b7f3b; } .removed { color: #b00020; }
button { font: inherit; font-weight: 600; padding: .5rem 1.4rem; border: 1px solid; cursor: pointer; }
button.approve { background: #1b7f3b; border-color: #14602c; color: #fff; }
button.reject { background: #fff; border-color: #b00020; color: #b00020; }
.fine { color: #555; font-size: .9rem; }
""")


def confirmation_page(view: LinkView, token: str, now: datetime) -> str:
    """The page a link opens (GET): the request, who the link is for, and, if they can still answer,
    an Approve and a Reject form. Showing it decides nothing; only posting a form does."""
    request = view.request
    rows = [
        ("Commit", markup(f"<code>{_e(request.commit)}</code>")),
        ("Message", markup(f"<pre>{_e(request.message)}</pre>")),
        ("Author", markup(f"{_e(request.author_name)} &lt;{_e(request.author_email)}&gt;")),
        ("Upstream", _e(_upstream(request))),
        *_promoted_rows(request),
        ("Approvals", _e(_tally(request))),
        ("Decisions", _decisions(request.decisions)),
        ("Approvers", _e(", ".join(request.approvers))),
        ("Expires", _e(f"{request.expires_at} ({_until(request.expires_at, now)})")),
        ("Request", markup(f"<code>{_e(request.id)}</code>")),
    ]
    parts = [
        markup(f"<h1>Promote <code>{_e(request.commit[:12])}</code> to {_e(request.env)}?</h1>"),
        markup(
            f"<p>This link is <strong>{_e(view.approver)}</strong>'s. "
            f'State: <span class="state">{_e(view.state.value)}</span></p>'
        ),
        _table(rows),
    ]
    if same_person(view.approver, request.author_email):
        parts.append(
            markup(
                '<p class="note">You wrote this commit: approving it will be refused, because the author '
                "cannot approve their own change. You may reject it; someone else must approve it.</p>"
            )
        )
    elif (why_not := self_approval(request, view.approver)) is not None:
        parts.append(
            markup(
                f'<p class="note">Approving this promotion will be refused: {_e(why_not)}. '
                "You may reject it.</p>"
            )
        )
    if view.can_answer:
        parts.append(_forms(token))
    else:
        parts.append(
            markup(f'<p class="note">You cannot answer: {_e(view.why_not or "no reason given")}.</p>')
        )
    parts.append(
        markup(
            '<p class="fine">Opening this page changes nothing; only a button does. '
            "The link is yours alone: please do not forward it.</p>"
        )
    )
    return _document(f"path2prod: promote {request.commit[:12]} to {request.env}?", parts)


def outcome_page(request: ApprovalRequest, approver: str) -> str:
    """The page after a POST: what was recorded for `approver`, and the request's state now."""
    decision = request.decision_of(approver)
    parts = [markup(f"<h1>Recorded: <code>{_e(request.commit[:12])}</code> to {_e(request.env)}</h1>")]
    if decision is not None:
        recorded = f"{decision.approver} {decision.verdict.value} commit {request.commit} at {decision.at}"
        if decision.reason:
            recorded += f" (reason: {decision.reason})"
        parts.append(markup(f'<p class="note ok">{_e(recorded)}.</p>'))
    state = markup(f'<span class="state">{_e(request.state.value)}</span>')
    parts.append(markup(f"<p>The request is now {state}: {_e(_next(request))}</p>"))
    parts.append(
        _table(
            [
                ("Commit", markup(f"<code>{_e(request.commit)}</code>")),
                ("Message", markup(f"<pre>{_e(request.message)}</pre>")),
                ("Approvals", _e(_tally(request))),
                ("Decisions", _decisions(request.decisions)),
                ("Request", markup(f"<code>{_e(request.id)}</code>")),
            ]
        )
    )
    return _document(f"path2prod: {request.state.value} {request.commit[:12]} for {request.env}", parts)


def error_page(status: int, message: str) -> str:
    """A page saying why the request cannot be served (the status and a one-line reason)."""
    title = f"{status} {_phrase(status)}"
    parts = [markup(f"<h1>{_e(title)}</h1>"), markup(f'<p class="note error">{_e(message)}</p>')]
    return _document(f"path2prod: {title}", parts)


# -- pieces ---------------------------------------------------------------------------------------------


def _e(text: object) -> Html:
    """`text` to show: without control or bidi characters (a commit message's U+202E would show its
    text reversed; NUL and escape codes have no business on a page), then escaped."""
    return escape(printable(str(text), keep_newlines=True))


def _document(title: str, body: Iterable[Html]) -> str:
    """The whole page, as the text the response carries."""
    page = markup(
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        "<body>\n<main>\n"
    )
    page += join(body, markup("\n")) + markup("\n</main>\n</body>\n</html>\n")
    return str(page)


def _table(rows: Iterable[tuple[str, Html]]) -> Html:
    """Rows of (label, cell)."""
    body = join(
        (markup(f"<tr><th>{_e(label)}</th><td>{cell}</td></tr>") for label, cell in rows), markup("\n")
    )
    return markup(f"<table>\n{body}\n</table>")


def _forms(token: str) -> Html:
    # Two forms, each posting its own decision and comment: what a browser sends is then exactly what
    # the approver saw beside the button they pressed. `action=""` posts back to this very URL (its `?t=`
    # included); the token also travels in the body.
    hidden = markup(f'<input type="hidden" name="t" value="{_e(token)}">')

    def form(decision: str, label: str, button: str) -> Html:
        name, words, pressed = escape(decision), escape(label), escape(button)
        return markup(
            f'<form method="post" action="">{hidden}'
            f'<label for="{name}-reason">{words} (optional, kept in the ledger; '
            f"at most {REASON_MAX_LENGTH} characters)</label>"
            f'<textarea id="{name}-reason" name="reason" rows="2" maxlength="{REASON_MAX_LENGTH}" '
            'autocomplete="off"></textarea>'
            f'<button type="submit" class="{name}" name="decision" value="{name}">{pressed}</button>'
            "</form>"
        )

    return form("approve", "Comment", "Approve") + markup("\n") + form("reject", "Why you reject", "Reject")


def _upstream(request: ApprovalRequest) -> str:
    upstream = request.upstream
    return (
        f"SUCCEEDED in {upstream.env}, execution {upstream.execution_id} at {upstream.succeeded_at} "
        f"(pipeline {upstream.pipeline})"
    )


def _promoted_rows(request: ApprovalRequest) -> list[tuple[str, Html]]:
    """What the env runs now and the commits the promotion brings (nothing for a request opened before
    promoted ranges were recorded), as (label, cell) rows."""
    rows: list[tuple[str, Html]] = []
    if request.asked_again_after:
        rows.append(("Asked again", _e(f"by {request.asked_by or '?'} after {request.asked_again_after}")))
    if request.commit_count is None:
        return rows
    runs_now = markup("nothing yet")
    if request.target_head:
        runs_now = markup(f"<code>{_e(request.target_head[:12])}</code>")
        if request.target_subject is not None:
            runs_now += markup(f" {_e(request.target_subject)}")
    items = [
        markup(
            f"<li><code>{_e(c.sha[:12])}</code> {_e(c.author_name)} &lt;{_e(c.author_email)}&gt;: "
            f"{_e(c.subject)}</li>"
        )
        for c in request.commits
    ]
    if (more := request.commit_count - len(request.commits)) > 0:
        items.append(markup(f"<li>and {_e(more)} more</li>"))
    if not request.range_complete:
        items.append(
            markup("<li>too many commits or authors to check: nobody can approve this promotion</li>")
        )
    promotes = markup(f"{_e(request.commit_count)} commit(s)")
    if items:
        promotes += markup(f"<ul>{join(items)}</ul>")
    rows += [("Runs now", markup(f"{runs_now} in {_e(request.env)}")), ("Promotes", promotes)]
    return [*rows, ("Files", _files(request))]


def _files(request: ApprovalRequest) -> Html:
    """The files the promotion changes, with their added and removed lines."""
    if request.file_count is None:
        return markup("not compared (the env runs a commit the upstream repository does not hold)")
    summary = markup(
        f"{_e(request.file_count)} file(s) changed, "
        f'<span class="added">+{_e(request.lines_added)}</span> '
        f'<span class="removed">-{_e(request.lines_removed)}</span>'
    )
    if not request.files_complete:
        summary += markup(" (some files too large or too many to count their lines)")
    rows = join(markup(f"<tr>{_file_cells(changed)}</tr>") for changed in request.files)
    if (more := request.file_count - len(request.files)) > 0:
        rows += markup(f'<tr><td colspan="3">and {_e(more)} more</td></tr>')
    return summary + (markup(f'<table class="files">{rows}</table>') if rows else markup(""))


def _file_cells(changed: ChangedFile) -> Html:
    if changed.added is None or changed.removed is None:
        lines = markup("no lines")
    else:
        lines = markup(
            f'<span class="added">+{_e(changed.added)}</span> '
            f'<span class="removed">-{_e(changed.removed)}</span>'
        )
    return markup(f"<td>{_e(changed.status)}</td><td>{lines}</td><td><code>{_e(changed.path)}</code></td>")


def _tally(request: ApprovalRequest) -> str:
    approved = request.approved_by
    who = f": {', '.join(approved)}" if approved else ""
    return f"{len(approved)} of {request.quorum} needed{who}"


def _decisions(decisions: tuple[Decision, ...]) -> Html:
    if not decisions:
        return markup("none yet")
    items = []
    for decision in decisions:
        line = f"{decision.approver} {decision.verdict.value} at {decision.at} via {decision.via}"
        if decision.reason:
            line += f": {decision.reason}"
        items.append(markup(f"<li>{_e(line)}</li>"))
    return markup(f"<ul>{join(items)}</ul>")


def _next(request: ApprovalRequest) -> str:
    if request.state is ApprovalState.APPROVED:
        return f"pushing {request.commit[:12]} to {request.env} main."
    if request.state is ApprovalState.REJECTED:
        return f"nothing will be pushed to {request.env}."
    if request.state is ApprovalState.PENDING:
        missing = request.quorum - len(request.approved_by)
        return f"waiting for {missing} more approval(s)."
    return "nothing more can be decided on it."


def _until(expires_at: str, now: datetime) -> str:
    seconds = int((parse_time(expires_at) - now).total_seconds())
    if seconds <= 0:
        return "expired"
    hours, minutes = divmod(seconds // 60, 60)
    return f"in {hours} h {minutes} min" if hours else f"in {minutes} min"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
