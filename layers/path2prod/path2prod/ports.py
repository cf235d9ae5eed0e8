"""Ports more than one feature needs, declared once; each feature's ports.py adds its own.

Adapters meet these Protocols structurally (adapters/alerts.py, event_bus.py, env_repo.py); tests pass
the same adapters against moto, or fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from path2prod.domain.time import utc_now

__all__ = ["Alerts", "Bus", "Clock", "MainBranch", "utc_now"]

Clock = Callable[[], datetime]


class Alerts(Protocol):
    """The people who run the env (the alerts topic): told what needs a human."""

    def publish(self, subject: str, body: str) -> None: ...


class Bus(Protocol):
    """The account's event bus: path2prod's own domain events go out on it."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class MainBranch(Protocol):
    """An env's repository as far as every feature reads it: the commit its `main` names."""

    def main_head(self) -> str | None: ...
