"""path2prod demo: the whole story in a throw-away sandbox (placeholder, filled below)."""

from __future__ import annotations

import click


@click.command()
def demo() -> None:
    """Run the whole story in a throw-away sandbox and print it."""
