"""EventBridge: publishing path2prod's domain events on the account's bus."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from path2prod.adapters.errors import PublishFailed
from path2prod.domain.ledger import DOMAIN_EVENT_SOURCE

if TYPE_CHECKING:
    from mypy_boto3_events.client import EventBridgeClient


class EventBus:
    """Publishes domain events (source `path2prod`) on one event bus."""

    def __init__(self, bus_name: str, events_client: EventBridgeClient | None = None) -> None:
        self.bus_name = bus_name
        self._client = events_client

    @property
    def client(self) -> EventBridgeClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("events")
        return self._client

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        """Put one domain event on the bus; raise PublishFailed if EventBridge refuses it."""
        entry: dict[str, Any] = {
            "EventBusName": self.bus_name,
            "Source": DOMAIN_EVENT_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, sort_keys=True),
        }
        response = self.client.put_events(Entries=[entry])  # type: ignore[list-item]
        if response.get("FailedEntryCount"):
            failure = response["Entries"][0]
            raise PublishFailed(f"{detail_type}: {failure.get('ErrorCode')}: {failure.get('ErrorMessage')}")
