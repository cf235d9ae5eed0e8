"""S3 checkpoints of the chain head, in a bucket with Object Lock (compliance mode): write once, no
one — not even the account's root — can change or delete them before their retention ends.

Key: checkpoints/<env>/<seq, 12 digits>-<hash>.json, so a listing alone gives every checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from path2prod.domain.checkpoints import Checkpoint

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client


# HeadObject's error codes for a key that is not there (403: the caller may not s3:ListBucket).
_ABSENT = frozenset({"404", "NoSuchKey", "NotFound", "403", "Forbidden", "AccessDenied"})


class CheckpointStore:
    """Writes and lists chain-head checkpoints of one env in one bucket."""

    def __init__(self, bucket: str, s3_client: S3Client | None = None) -> None:
        self.bucket = bucket
        self._client = s3_client

    @property
    def client(self) -> S3Client:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    @staticmethod
    def _prefix(env: str) -> str:
        return f"checkpoints/{env}/"

    def _key(self, checkpoint: Checkpoint) -> str:
        return f"{self._prefix(checkpoint.env)}{checkpoint.seq:012d}-{checkpoint.hash}.json"

    def put(self, checkpoint: Checkpoint) -> bool:
        """Write a checkpoint unless one for that seq and hash exists; True when written."""
        key = self._key(checkpoint)
        if self._exists(key):
            return False
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(asdict(checkpoint), sort_keys=True).encode(),
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
        )
        return True

    def _exists(self, key: str) -> bool:
        """Whether the object is there. S3 answers a missing key with 404 to a caller that may
        s3:ListBucket, and with 403 to one that may not; HeadObject's error has no body, so a 403 cannot
        tell "missing" from "forbidden". A 403 counts as missing: if writing is forbidden too, the
        PutObject that follows raises AccessDenied, so nothing is lost either way."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in _ABSENT:
                return False
            raise
        return True

    def checkpoints(self, env: str) -> Iterator[tuple[int, str]]:
        """(seq, hash) of every checkpoint of env, from the listing alone."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._prefix(env)):
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1].removesuffix(".json")
                seq, _, digest = name.partition("-")
                if seq.isdigit() and digest:
                    yield int(seq), digest
