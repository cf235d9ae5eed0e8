"""The approvals' plain-text mails: the prompt with an approver's own link, and the rejection notice.

What a script may rely on: a prompt holds exactly one line starting with "http" (the approver's link,
alone on its line), and every mail ends with the line "Request: <request id>". Every value that comes
from git or from an answer goes through `printable` and sits inside a line, never at its start: a
subject or a path holding a line break cannot forge a line of its own (say, another "http" link).
Pure functions, no AWS.
"""

from __future__ import annotations

from path2prod import ENVS
from path2prod.domain.approvals import ApprovalRequest, Verdict, same_person, self_approval
from path2prod.domain.review_facts import ChangedFile
from path2prod.domain.text import printable
from path2prod.domain.time import format_time


def prompt(
    request: ApprovalRequest, approver: str, link: str, *, window_closed: str | None = None
) -> tuple[str, str]:
    """The plain-text email asking `approver` to answer on `link`, their own (subject, body).

    `window_closed`: why, and until when, the env's deploy window is closed as the request opens (the
    mail says an approval is then held); the upstream's bake time is the request's own."""
    sha = request.commit[:12]
    subject = f"path2prod: promote {sha} to {request.env}? {request.message}"
    upstream = request.upstream
    lines = [
        f"path2prod asks you to approve a promotion to {request.env}.",
        "",
        f"Commit:     {request.commit}",
        # From git: a lone "\r" in a subject would become a line break in the mail (SNS, mail clients).
        f"Message:    {printable(request.message)}",
        f"Author:     {printable(request.author_name)} <{printable(request.author_email)}>",
        f"From:       {upstream.env}, where execution {upstream.execution_id} SUCCEEDED "
        f"at {upstream.succeeded_at}",
        *_promoted_lines(request),
        f"Expires:    {request.expires_at}",
        f"Approvers:  {', '.join(request.approvers)} ({request.quorum} approval(s) needed)",
        *_held_lines(request, window_closed),
        "",
    ]
    if same_person(approver, request.author_email):
        lines += ["You wrote this commit: you may reject it, but someone else must approve it.", ""]
    elif (why_not := self_approval(request, approver)) is not None:
        lines += [f"You cannot approve this promotion ({printable(why_not)}). You may reject it.", ""]
    lines += [
        "Review it and answer on this page (opening the link changes nothing; only your button does):",
        link,
        "",
        f"The link is yours alone ({approver}); please do not forward it.",
        f"Request: {request.id}",
    ]
    return subject[:100], "\n".join(lines) + "\n"


def _held_lines(request: ApprovalRequest, window_closed: str | None) -> list[str]:
    """Why an approval would not be pushed at once: the upstream's bake time, the env's closed window."""
    lines = []
    if (bake_ends := request.upstream.bake_ends_at) is not None:
        lines.append(
            f"Bake time:  {request.upstream.env} watches its alarms until {format_time(bake_ends)}; an "
            "approval is pushed after that, if they stayed quiet"
        )
    if window_closed:
        lines.append(
            f"Window:     {request.env}'s deploy window is closed ({printable(window_closed)}); an approval "
            "is held and pushed when it opens"
        )
    return lines


def _promoted_lines(request: ApprovalRequest) -> list[str]:
    """What the env runs now, the commits the promotion brings and the files it changes (none for a
    request opened before promoted ranges were recorded).

    Every value from git goes through `printable` on its own line: a subject or a path holding a line
    break could otherwise start a line of its own (say, a forged "http..." link line).
    """
    lines = []
    if request.asked_again_after:
        lines.append(
            f"Asked again: by {printable(request.asked_by or '?')} after {request.asked_again_after}"
        )
    if request.commit_count is None:
        return lines
    lines += [
        f"Runs now:   {_runs_now(request)}",
        f"Promotes:   {request.commit_count} commit(s)",
    ]
    lines += [f"  {c.sha[:12]}  {printable(c.author_email)}  {printable(c.subject)}" for c in request.commits]
    if (more := request.commit_count - len(request.commits)) > 0:
        lines.append(f"  and {more} more")
    if not request.range_complete:
        lines.append("  (too many commits or authors to check: nobody can approve this promotion)")
    if request.file_count is None:
        lines.append("Files:      not compared (the env runs a commit the upstream repository does not hold)")
        return lines
    lines.append(f"Files:      {files_summary(request)}")
    lines += [f"  {file_change(f):<14}  {printable(f.path)}" for f in request.files]
    if (more := request.file_count - len(request.files)) > 0:
        lines.append(f"  and {more} more")
    return lines


def _runs_now(request: ApprovalRequest) -> str:
    """What the env's main names now, as the mail shows it."""
    if not request.target_head:
        return f"nothing yet in {request.env}"
    subject = f": {printable(request.target_subject)}" if request.target_subject is not None else ""
    return f"{request.target_head[:12]} in {request.env}{subject}"


def files_summary(request: ApprovalRequest) -> str:
    """ "N file(s) changed, +A -R" over every changed file (and whether some lines were not counted)."""
    summary = f"{request.file_count} file(s) changed, +{request.lines_added} -{request.lines_removed}"
    if not request.files_complete:
        summary += " (some files too large or too many to count their lines)"
    return summary


def file_change(changed: ChangedFile) -> str:
    """ "+A -R" for one file, "binary" or "not counted" when its lines were not counted."""
    if changed.added is None or changed.removed is None:
        return f"{changed.status} (no lines)"
    return f"{changed.status} +{changed.added} -{changed.removed}"


def rejection(request: ApprovalRequest, recipient: str) -> tuple[str, str]:
    """The plain-text email telling `recipient` that `request` was rejected (subject, body)."""
    rejection = next((d for d in request.decisions if d.verdict is Verdict.REJECT), None)
    who = rejection.approver if rejection is not None else "an approver"
    sha = request.commit[:12]
    subject = f"path2prod: {sha} rejected for {request.env} by {who}: {request.message}"
    upstream_env = ENVS[ENVS.index(request.env) - 1]
    lines = [
        f"{printable(who)} rejected promoting {sha} to {request.env}: nothing will be pushed.",
        "",
        f"Commit:     {request.commit}",
        f"Message:    {printable(request.message)}",
        f"Author:     {printable(request.author_name)} <{printable(request.author_email)}>",
        f"Rejected:   by {printable(who)} at {rejection.at if rejection else '?'}"
        + (f" via {rejection.via}" if rejection else ""),
        f"Comment:    {printable(rejection.reason) if rejection and rejection.reason else '(none)'}",
        "",
    ]
    if same_person(recipient, request.author_email):
        lines += ["You wrote this commit.", ""]
    lines += [
        "To ask the approvers again (once it is fixed, or as it is):",
        f"  path2prod approvals request {request.env} {request.commit}",
        f"(a newer commit that succeeds in {upstream_env} asks by itself).",
        "",
        f"Request: {request.id}",
    ]
    return subject[:100], "\n".join(lines) + "\n"
