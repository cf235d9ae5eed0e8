"""Named domain errors. Adapters translate AWS errors into these at their boundary."""


class Path2ProdError(Exception):
    """Base of every error path2prod raises on purpose."""


class InvalidPipelineEvent(Path2ProdError, ValueError):
    """The event is not a CodePipeline state change path2prod understands.

    Raised before anything is written, so the event ends in the rule's dead-letter queue intact.
    """


class CommitNotYetKnown(Path2ProdError):
    """The execution's commit cannot be learnt yet (its Source action has not reported).

    Raising it makes Lambda retry the event later instead of writing an entry without a commit.
    """


class UnknownEnvironment(Path2ProdError, ValueError):
    """An environment name that is not one of dev, stg, prd (or not configured)."""
