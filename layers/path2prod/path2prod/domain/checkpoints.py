"""A checkpoint: the chain head (seq and hash) of one env's ledger, as copied to write-once storage."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Checkpoint:
    env: str
    seq: int
    hash: str
    time: str
