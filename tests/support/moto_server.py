"""A moto server on 127.0.0.1, for tests that run the CLI or a subprocess against "real" endpoints.

The sandbox's own moto runs in server mode too; tests that drive the CLI as a user would point it at one
of these through a config file's `endpoint_url`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from path2prod.sandbox.home import free_port

REGION = "eu-west-1"


@contextmanager
def moto_server() -> Iterator[str]:
    """A fresh moto server on a free port; yields its endpoint URL and stops it on exit."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def client(endpoint: str, service: str, *, region: str = REGION) -> Any:
    """A client of `service` on the server, as its default account (moto's 123456789012)."""
    return boto3.client(
        service, endpoint_url=endpoint, region_name=region, aws_access_key_id="x", aws_secret_access_key="x"
    )


def session_in(account: str, endpoint: str, *, region: str = REGION) -> boto3.Session:
    """A session acting in `account` (moto's assume-role picks the account from the role's ARN)."""
    credentials = client(endpoint, "sts", region=region).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/setup", RoleSessionName="setup"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )
