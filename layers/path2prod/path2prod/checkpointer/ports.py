"""What the checkpointer needs: the ledger's chain head, and a write-once store for checkpoints."""

from __future__ import annotations

from typing import Protocol

from path2prod.adapters.checkpoints import Checkpoint
from path2prod.domain.chain import ChainHead


class Chain(Protocol):
    def chain_head(self) -> ChainHead | None: ...


class Store(Protocol):
    def put(self, checkpoint: Checkpoint) -> bool: ...
