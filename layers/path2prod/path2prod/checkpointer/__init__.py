"""The checkpointer: copies the chain head to write-once storage on a schedule."""
