"""Reading another account's repository through a role: assumed once, reused while it lives."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from path2prod.adapters import env_repo
from path2prod.adapters.env_repo import EnvRepository
from tests.support.git import make_repo

ROLE = "arn:aws:iam::111111111111:role/path2prod-promotion-source"


@pytest.fixture
def assumed(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A session whose AssumeRole calls are counted (moto answers them)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.Session(region_name="eu-west-1")
        calls: list[str] = []
        session.events.register("before-call.sts.AssumeRole", lambda **_: calls.append("AssumeRole"))
        yield session, calls


def test_a_promotion_reading_the_upstream_twice_assumes_its_role_once(assumed: Any, tmp_path: Path) -> None:
    # GIVEN dev's repository with two commits, read through dev's role
    session, calls = assumed
    dev = make_repo(tmp_path, "dev")
    base = dev.commit("base")
    candidate = dev.commit("candidate")
    dev.push_main(candidate)
    upstream = EnvRepository(str(dev.bare), session=session, role_arn=ROLE, cache_dir=tmp_path / "cache")

    # WHEN the opener reads the candidate's facts, then its range down to what the target runs
    info = upstream.commit_info(candidate)
    promoted = upstream.promoted_range(candidate, base)

    # THEN both reads went through one assumed role
    assert info.message.strip() == "candidate"
    assert [commit.sha for commit in promoted.commits] == [candidate]
    assert calls == ["AssumeRole"]


def test_the_role_is_assumed_anew_when_its_session_is_about_to_expire(
    assumed: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN one read through the role
    session, calls = assumed
    dev = make_repo(tmp_path, "dev")
    dev.push_main(dev.commit("first"))
    upstream = EnvRepository(str(dev.bare), session=session, role_arn=ROLE, cache_dir=tmp_path / "cache")
    upstream.main_head()

    # WHEN the clock reaches the reuse margin before the credentials' expiry
    expires = upstream._assumed[1] if upstream._assumed else None
    assert expires is not None
    monkeypatch.setattr(env_repo, "utc_now", lambda: expires - env_repo._REUSE_MARGIN + timedelta(seconds=1))
    upstream.main_head()

    # THEN the role was assumed a second time
    assert calls == ["AssumeRole", "AssumeRole"]
