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


class ChainMoved(DomainError):
    """Another writer appended first (or the item exists already): read again and retry."""


class Uncanonical(DomainError, ValueError):
    """An item holds a value the canonical form cannot write (bytes of a DynamoDB Binary, a binary set,
    a number that is not whole, ...): it cannot be hashed, so it cannot be a chained item."""

    def __init__(self, attribute: str, problem: str) -> None:
        super().__init__(f"attribute {attribute!r} {problem}")
        self.attribute = attribute
