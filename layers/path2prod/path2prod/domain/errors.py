"""Named domain errors. Adapters translate AWS errors into these at their boundary."""


class Path2ProdError(Exception):
    """Base of every error path2prod raises on purpose. Each layer has one base below it: DomainError
    here, AdapterError (adapters/errors.py), and one per feature (e.g. rollback/errors.py)."""


class DomainError(Path2ProdError):
    """A rule of the domain refused something."""


class InvalidEvent(DomainError, ValueError):
    """An event that is malformed, or claims what path2prod cannot confirm; it names the field.

    The one error every handler raises for bad input (domain/event_fields.py checks each field), always
    before anything is written, so the event ends in the dead-letter queue intact with this reason.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class CommitNotYetKnown(DomainError):
    """The execution's commit cannot be learnt yet (its Source action has not reported).

    Raising it makes Lambda retry the event later instead of writing an entry without a commit.
    """


class UnknownEnvironment(DomainError, ValueError):
    """An environment name that is not one of dev, stg, prd (or not configured)."""


class ExecutionNotFound(DomainError):
    """CodePipeline does not know the execution (yet): its commit may still come, so retry.

    Told apart from an execution CodePipeline knows without a source revision: one that ended so has
    none and never will (its Source action failed).
    """


class CommitMismatch(InvalidEvent):
    """An execution runs one commit: something names another commit than the ledger already holds for
    it. The ledger is the truth, so the claim (an event, an entry to append) is refused."""


class InvalidTime(DomainError, ValueError):
    """A time bound that is not an ISO-8601 date or date-time, or a window that ends before it starts."""


class InvalidWindows(DomainError, ValueError):
    """Deploy windows text (the `DeployWindows` parameter, `local up --window`) that cannot be read: one
    line naming the clause and what is wrong with it (domain/deploy_windows.py)."""


class ChainMoved(DomainError):
    """Another writer appended first (or the item exists already): read again and retry."""


class Uncanonical(DomainError, ValueError):
    """An item holds a value the canonical form cannot write (bytes of a DynamoDB Binary, a binary set,
    a number that is not whole, ...): it cannot be hashed, so it cannot be a chained item."""

    def __init__(self, attribute: str, problem: str) -> None:
        super().__init__(f"attribute {attribute!r} {problem}")
        self.attribute = attribute


# -- approvals: why an answer is refused, each error an answer the approval page gives (its HTTP status)


class ApprovalError(DomainError):
    """An approval answer that cannot be taken (the domain's approval rules refused it); `status` is the
    HTTP status the approval page returns."""

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
