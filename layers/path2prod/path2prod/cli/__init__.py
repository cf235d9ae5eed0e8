"""The path2prod command: one module per command group."""
