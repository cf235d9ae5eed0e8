"""Checkpointing the chain head: one GetItem, one HeadObject, at most one PutObject."""

from __future__ import annotations

from dataclasses import dataclass

from path2prod.checkpointer.ports import ChainHeads, Checkpoints
from path2prod.domain.checkpoints import Checkpoint


@dataclass(frozen=True)
class Checkpointer:
    env: str  # the env whose ledger it checkpoints
    chain: ChainHeads
    store: Checkpoints


def checkpoint_head(env: str, chain: ChainHeads, store: Checkpoints, *, now: str) -> Checkpoint | None:
    """Copy the chain's head to the store; None when the chain is empty or already checkpointed."""
    head = chain.chain_head()
    if head is None or head.seq == 0:
        return None
    checkpoint = Checkpoint(env=env, seq=head.seq, hash=head.hash, time=now)
    return checkpoint if store.put(checkpoint) else None
