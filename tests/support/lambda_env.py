"""The environment Lambda gives a function, for tests that load a handler in-process against moto."""

from __future__ import annotations

import pytest

REGION = "eu-west-1"

# What every path2prod function sees: moto's dummy credentials, one region, Powertools' namespace, and
# no X-Ray daemon to send traces to.
BASE = {
    "POWERTOOLS_METRICS_NAMESPACE": "path2prod",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# Whatever the developer's shell points boto3 at must not reach the tests.
UNSET = ("AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


def lambda_env(service: str, **variables: str) -> dict[str, str]:
    """The environment of the function named `service`: BASE plus its own variables."""
    return {**BASE, "POWERTOOLS_SERVICE_NAME": service, **variables}


def set_lambda_env(monkeypatch: pytest.MonkeyPatch, service: str, **variables: str) -> None:
    """Make this test's process look like the function's container (undone after the test)."""
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    for name, value in lambda_env(service, **variables).items():
        monkeypatch.setenv(name, value)
