"""What every benchmark shares: where it runs (moto's account and region, the stack's names), moto's
fake credentials, and the machine the figures come from."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = ROOT / "functions"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account for plain credentials; the recorder's stack
PIPELINE = "path2prod-app"
LEDGER_TABLE = "path2prod-bench-ledger"

# moto's fake credentials, never real ones, and a region, for every client a benchmark makes.
MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
# What would send a client elsewhere than moto.
NOT_FOR_MOTO = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB")


def use_moto_credentials() -> None:
    """moto's fake credentials and a region, before anything makes a client (for the whole run)."""
    os.environ.update(MOTO_ENV)
    for key in NOT_FOR_MOTO:
        os.environ.pop(key, None)


@contextlib.contextmanager
def patched_env(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ while inside; what was there before comes back afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def machine() -> dict[str, Any]:
    """The machine the figures come from."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def progress(message: str) -> None:
    """A line of progress on stderr: stdout is the report's."""
    print(message, file=sys.stderr, flush=True)
