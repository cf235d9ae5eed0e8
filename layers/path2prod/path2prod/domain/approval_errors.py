"""Why an approval answer is refused: each error is an answer the approval page gives (its HTTP status)."""

from __future__ import annotations

from path2prod.domain.errors import Path2ProdError


class ApprovalError(Path2ProdError):
    """An answer that cannot be taken; `status` is the HTTP status the approval page returns."""

    status = 400


class BadToken(ApprovalError):
    """The link's token is malformed, forged or tampered with."""

    status = 403


class NotAnApprover(ApprovalError):
    """Someone who is not an approver of the request's env tried to answer it."""

    status = 403


class SelfApproval(ApprovalError):
    """An approver wrote or committed a commit the promotion brings, or nobody can tell they did not
    (the promoted range was too long to check)."""

    status = 403


class RequestGone(ApprovalError):
    """The request expired or was superseded: nothing can be decided on it any more."""

    status = 410


class AlreadyDecided(ApprovalError):
    """The request is decided, or this approver has answered it already."""

    status = 409


class UnknownRequest(ApprovalError, LookupError):
    """No request has that id."""

    status = 404


class UnsupportedMediaType(ApprovalError):
    """An answer posted as anything but the page's own urlencoded form."""

    status = 415
