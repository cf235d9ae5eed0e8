"""CodeCommit's HTTPS git credentials, as git-remote-codecommit derives them from AWS credentials.

The expected signatures are not computed with the code under test: one comes from
git-remote-codecommit's own test (aws/git-remote-codecommit, test/git_url_test.py at 8415703a), the
others are derived here step by step from the SigV4 specification with hmac and hashlib only.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest
from botocore.credentials import Credentials, ReadOnlyCredentials

from path2prod.adapters.git_remote import codecommit_git_credentials

URL = "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/payments-service"
REGION = "eu-west-1"
NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjE/+token=="
KEYS = ReadOnlyCredentials("AKIDEXAMPLE", SECRET, None)
KEYS_WITH_TOKEN = ReadOnlyCredentials("ASIAEXAMPLE", SECRET, TOKEN)


def expected_password(secret: str, host: str, path: str, region: str, when: datetime) -> str:
    """SigV4 by hand: canonical request, string to sign, derived key, signature."""
    timestamp = when.strftime("%Y%m%dT%H%M%S")
    date = when.strftime("%Y%m%d")
    # Method GIT, the repo path, no query, the host header alone, and (CodeCommit's variant) an empty
    # payload line instead of a payload hash.
    canonical_request = f"GIT\n{path}\n\nhost:{host}\n\nhost\n"
    scope = f"{date}/{region}/codecommit/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (date, region, "codecommit", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{timestamp}Z{signature}"


def test_git_remote_codecommits_own_test_vector() -> None:
    # GIVEN the inputs of git-remote-codecommit's test_sign / test_git_url
    credentials = Credentials("access", "secret")
    when = datetime(2017, 12, 24, 11, 53, 20, tzinfo=UTC)

    # WHEN the credentials for its test_repo URL are derived
    username, password = codecommit_git_credentials(
        "https://git-codecommit.us-west-2.amazonaws.com/v1/repos/test_repo", credentials, "us-west-2", when
    )

    # THEN they are the ones its tests expect
    assert username == "access"
    assert password == ("20171224T115320Zb6df2d758a8023b2f000a546417007b65494f3ce8ad0300fd45fcfa173f1959a")


def test_the_vector_with_a_session_token() -> None:
    # git-remote-codecommit's URL has "access%25token": the quoted form of "access%token". The token
    # goes into the username only; the signature is the same as without it.
    username, password = codecommit_git_credentials(
        "https://git-codecommit.us-west-2.amazonaws.com/v1/repos/test_repo",
        Credentials("access", "secret", "token"),
        "us-west-2",
        datetime(2017, 12, 24, 11, 53, 20, tzinfo=UTC),
    )

    assert username == "access%token"
    assert password.endswith("b6df2d758a8023b2f000a546417007b65494f3ce8ad0300fd45fcfa173f1959a")


def test_password_matches_sigv4_derived_by_hand() -> None:
    # GIVEN fixed keys and a fixed time
    # WHEN the credentials are derived
    username, password = codecommit_git_credentials(URL, KEYS, REGION, NOW)

    # THEN the username is the access key alone and the password is "<timestamp>Z<signature>"
    assert username == "AKIDEXAMPLE"
    assert password == expected_password(
        SECRET, "git-codecommit.eu-west-1.amazonaws.com", "/v1/repos/payments-service", REGION, NOW
    )
    assert password.startswith("20240506T070809Z")


def test_username_with_a_session_token_is_key_percent_token_unquoted() -> None:
    # GIVEN assumed-role credentials (with a session token, which may hold "/", "+" and "=")
    username, password = codecommit_git_credentials(URL, KEYS_WITH_TOKEN, REGION, NOW)

    # THEN the username is "<key>%<token>" as is: dulwich sends it as basic auth, nothing unquotes it
    assert username == "ASIAEXAMPLE%IQoJb3JpZ2luX2VjE/+token=="  # TOKEN, verbatim
    assert password == expected_password(
        SECRET,
        "git-codecommit.eu-west-1.amazonaws.com",
        "/v1/repos/payments-service",
        REGION,
        NOW,
    )


def test_time_is_taken_in_utc() -> None:
    # GIVEN the same instant written in UTC+02:00, and as a naive UTC time
    in_paris = NOW.astimezone(timezone(timedelta(hours=2)))
    naive_utc = NOW.replace(tzinfo=None)

    # THEN all three sign the same
    reference = codecommit_git_credentials(URL, KEYS, REGION, NOW)
    assert codecommit_git_credentials(URL, KEYS, REGION, in_paris) == reference
    assert codecommit_git_credentials(URL, KEYS, REGION, naive_utc) == reference


def test_without_a_time_it_signs_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    _, password = codecommit_git_credentials(URL, KEYS, REGION)
    after = datetime.now(UTC)

    signed_at = datetime.strptime(password.split("Z", 1)[0], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    assert before <= signed_at <= after


def test_botocore_credentials_object_is_accepted() -> None:
    # A session's Credentials (what boto3 hands out) sign like their frozen values
    live = Credentials("ASIAEXAMPLE", SECRET, TOKEN)

    assert codecommit_git_credentials(URL, live, REGION, NOW) == codecommit_git_credentials(
        URL, KEYS_WITH_TOKEN, REGION, NOW
    )


def test_the_signature_covers_the_repository() -> None:
    other = URL.replace("payments-service", "billing-service")

    assert codecommit_git_credentials(other, KEYS, REGION, NOW) != codecommit_git_credentials(
        URL, KEYS, REGION, NOW
    )


@pytest.mark.parametrize(
    "url", ["codecommit::eu-west-1://payments-service", "http://git-codecommit.eu-west-1.amazonaws.com/x", ""]
)
def test_only_https_urls_are_signed(url: str) -> None:
    with pytest.raises(ValueError, match="HTTPS"):
        codecommit_git_credentials(url, KEYS, REGION, NOW)
