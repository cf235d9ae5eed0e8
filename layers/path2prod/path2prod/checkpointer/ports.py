"""What the checkpointer needs: the ledger's chain head, and a write-once store for checkpoints."""

from __future__ import annotations

from typing import Protocol

from path2prod.domain.chain import ChainHead
from path2prod.domain.checkpoints import Checkpoint


class ChainHeads(Protocol):
    """The ledger, as far as its chain's head."""

    def chain_head(self) -> ChainHead | None: ...


class Checkpoints(Protocol):
    """Write-once storage of checkpoints (S3 with Object Lock)."""

    def put(self, checkpoint: Checkpoint) -> bool: ...
