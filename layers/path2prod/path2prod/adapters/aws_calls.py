"""Clients that count the AWS API calls made with them: the reconciler reports its calls per run, the
figure that must grow with executions since its mark, never with the pipeline's history."""

from __future__ import annotations

from typing import Any


class MeteredClients:
    """boto3 clients made on first use, one per service, each call counted (botocore's `before-call`
    event: once per API operation, whatever botocore's own retries)."""

    def __init__(self, **clients: Any) -> None:
        """`clients`: ready-made clients by service name (tests pass moto's); others are made by boto3."""
        self._clients: dict[str, Any] = {}
        self._made = 0
        for service, client in clients.items():
            self._metered(service, client)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._metered(service, boto3.client(service))  # type: ignore[call-overload]
        return self._clients[service]

    def made(self) -> int:
        """The calls made so far with these clients."""
        return self._made

    def _metered(self, service: str, client: Any) -> None:
        client.meta.events.register("before-call", self._count)
        self._clients[service] = client

    def _count(self, **_: Any) -> None:
        self._made += 1
