"""Secrets Manager: the key that signs approval links."""

from __future__ import annotations

from typing import Any

SECRET_MAX_AGE_SECONDS = 300  # a rotated key is picked up within 5 minutes


def signing_secret(secret_id: str, secrets_client: Any = None) -> bytes:
    """The signing key, cached for a few minutes by Powertools' parameters utility (one API call per
    warm container, not one per request)."""
    # Imported here: only the functions that sign or check links pay for it.
    from aws_lambda_powertools.utilities import parameters

    provider = parameters.SecretsProvider(boto3_client=secrets_client) if secrets_client else None
    if provider is not None:
        value = provider.get(secret_id, max_age=SECRET_MAX_AGE_SECONDS)
    else:
        value = parameters.get_secret(secret_id, max_age=SECRET_MAX_AGE_SECONDS)
    if isinstance(value, bytes):
        return value
    if not value:
        raise ValueError(f"secret {secret_id} is empty")
    return str(value).encode("utf-8")
