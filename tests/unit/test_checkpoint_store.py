"""CheckpointStore.put against S3's two answers for a missing key: 404 with s3:ListBucket, 403 without."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from path2prod.adapters.checkpoints import CheckpointStore
from path2prod.domain.checkpoints import Checkpoint

CHECKPOINT = Checkpoint(env="dev", seq=7, hash="ab" * 32, time="2024-05-14T09:00:00Z")


class FakeS3:
    """HeadObject answers with `head_error` (or finds the key); PutObject records its keys."""

    def __init__(self, head_error: str | None) -> None:
        self.head_error = head_error
        self.put_keys: list[str] = []

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        if self.head_error is None:
            return {}
        # HeadObject errors have no body: botocore's code is the HTTP status.
        raise ClientError({"Error": {"Code": self.head_error, "Message": ""}}, "HeadObject")

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.put_keys.append(kwargs["Key"])
        return {}


@pytest.mark.parametrize("missing", ["404", "403"])
def test_a_missing_checkpoint_is_written_whether_s3_answers_404_or_403(missing: str) -> None:
    # GIVEN S3 answers HeadObject of the missing key with 404 (may list) or 403 (may not list)
    s3 = FakeS3(head_error=missing)

    # WHEN the checkpoint is put
    written = CheckpointStore("bucket", s3).put(CHECKPOINT)  # type: ignore[arg-type]

    # THEN it is written once, under its key
    assert written is True
    assert s3.put_keys == [f"checkpoints/dev/000000000007-{'ab' * 32}.json"]


def test_an_existing_checkpoint_is_not_written_again() -> None:
    # GIVEN HeadObject finds the key
    s3 = FakeS3(head_error=None)

    # WHEN / THEN nothing is written
    assert CheckpointStore("bucket", s3).put(CHECKPOINT) is False  # type: ignore[arg-type]
    assert s3.put_keys == []


def test_any_other_s3_error_raises_so_the_schedule_retries() -> None:
    # GIVEN S3 fails otherwise
    s3 = FakeS3(head_error="500")

    # WHEN / THEN the error reaches the handler (retries, then the dead-letter queue)
    with pytest.raises(ClientError):
        CheckpointStore("bucket", s3).put(CHECKPOINT)  # type: ignore[arg-type]
    assert s3.put_keys == []
