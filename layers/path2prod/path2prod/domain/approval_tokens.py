"""The approval links' tokens: HMAC-SHA256 over (request, approver, expiry) with the stack's secret.

A token cannot be made without the secret, names one approver of one request, and dies with the
request's expiry; tokens are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from path2prod.domain.errors import BadToken, RequestGone
from path2prod.domain.time import format_time, parse_time


@dataclass(frozen=True)
class TokenClaims:
    request_id: str
    approver: str
    expires_at: str


def make_token(secret: bytes, request_id: str, approver: str, expires_at: str) -> str:
    """The token of `approver`'s link to `request_id`: the claims and their HMAC-SHA256, base64url."""
    if not secret:
        raise ValueError("an empty signing secret")
    expiry = int(parse_time(expires_at).timestamp())
    claims = f"{request_id}.{_b64(approver.encode())}.{expiry}"
    return f"{claims}.{_b64(_signature(secret, request_id, approver, expiry))}"


def read_token(secret: bytes, token: str, *, now: datetime, allow_expired: bool = False) -> TokenClaims:
    """The claims of a genuine token; BadToken if it is malformed or its signature does not match,
    RequestGone once it has expired (checked only after the signature: a forger learns nothing).

    `allow_expired` returns an expired token's claims instead, so a late answer can still be told
    apart from a forgery and recorded as too late.
    """
    # No .strip(): one spelling per token, so a token with a space or line break around it is refused.
    parts = token.split(".")
    if len(parts) != 4:
        raise BadToken("the link's token is malformed")
    request, approver_b64, expiry_text, signature_b64 = parts
    try:
        approver = _unb64(approver_b64).decode("utf-8")
        signature = _unb64(signature_b64)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadToken("the link's token is malformed") from None
    # One spelling per token: int() would also take "+1", "0_1" or other scripts' digits.
    if not (expiry_text.isascii() and expiry_text.isdigit()) or expiry_text != str(int(expiry_text)):
        raise BadToken("the link's token is malformed")
    expiry = int(expiry_text)
    expected = _signature(secret, request, approver, expiry)
    # Constant time: the comparison's duration tells nothing about how much of a forgery was right.
    if not hmac.compare_digest(signature, expected):
        raise BadToken("the link's token is not valid (tampered with, or not made by path2prod)")
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if now >= expires_at and not allow_expired:
        raise RequestGone(f"this link expired at {format_time(expires_at)}")
    return TokenClaims(request_id=request, approver=approver, expires_at=format_time(expires_at))


def _signature(secret: bytes, request_id: str, approver: str, expiry: int) -> bytes:
    message = f"path2prod-approval\n{request_id}\n{approver}\n{expiry}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or not text.isascii() or not all(c.isalnum() or c in "-_" for c in text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:  # unused low bits set: another spelling of the same bytes
        raise ValueError("not canonical base64url")
    return data
