"""The rollback: a failed deployment in an env brings its last good commit back to `main`."""
