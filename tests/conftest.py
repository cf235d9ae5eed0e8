"""Sample events for every test suite: the project's own (events/) and AWS's documented ones.

AWS's samples live outside the checkout, in `../shared/aws-events/` (CI keeps `../shared` beside it);
tests that need them are skipped, with the reason, when that folder is absent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.samples import AWS_EVENTS_DIR, EVENTS_DIR, load_event, readdressed, real_commits

AWS_EVENTS_MISSING = f"AWS's documented samples are not beside the checkout ({AWS_EVENTS_DIR} is absent)"


def project_event_names() -> list[str]:
    """The CodePipeline events of events/ (the recorder's); other functions' events are loaded by name."""
    return sorted(
        path.stem
        for path in EVENTS_DIR.glob("*.json")
        if json.loads(path.read_text()).get("source") == "aws.codepipeline"
    )


def load_aws_sample(name: str) -> dict[str, Any]:
    """One of AWS's documented samples by name, its placeholder commit ids made real-shaped (see
    `real_commits`); skips the calling test when they are not available."""
    if not AWS_EVENTS_DIR.is_dir():
        pytest.skip(AWS_EVENTS_MISSING)
    sample: dict[str, Any] = json.loads((AWS_EVENTS_DIR / f"{name}.json").read_text())
    return real_commits(sample)


def aws_event_sample_names() -> list[str] | None:
    """Names of AWS's samples that are EventBridge events (not API responses); None when absent."""
    if not AWS_EVENTS_DIR.is_dir():
        return None
    names = []
    for path in sorted(AWS_EVENTS_DIR.glob("*.json")):
        content = json.loads(path.read_text())
        if isinstance(content, dict) and "detail-type" in content and "detail" in content:
            names.append(path.stem)
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `project_event_name` over events/ and `aws_sample_name` over AWS's event samples."""
    if "project_event_name" in metafunc.fixturenames:
        metafunc.parametrize("project_event_name", project_event_names())
    if "aws_sample_name" in metafunc.fixturenames:
        names = aws_event_sample_names()
        if names is None:
            params = [pytest.param(None, id="aws-samples-absent", marks=pytest.mark.skip(AWS_EVENTS_MISSING))]
        else:
            params = [pytest.param(name, id=name) for name in names]
        metafunc.parametrize("aws_sample_name", params)


# The e2e modules that run one after the other in one sandbox (tests/e2e/conftest.py's `sandbox`): their
# tests pick their own commits and entries out of what the others left. The others start their own: one
# restarts it, one tampers with its ledger, one forges events on its buses, one changes its template.
SHARED_SANDBOX_MODULES = frozenset(
    f"tests/e2e/test_sandbox_{name}.py"
    for name in ("approvals", "promotion_review", "rollback", "rollback_retry")
)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (`make test`), a test module's tests stay on one worker, so a module-scoped
    fixture (a moto server, a browser, a sandbox) starts once, and the shared-sandbox modules form one
    unit. Our own scheduler, since xdist 3.8's `--dist loadgroup` marks do nothing under pytest 9 (it
    rewrites `item._nodeid`, which pytest 9 no longer reads)."""
    from xdist.scheduler import LoadScopeScheduling  # only when xdist runs the suite

    class ByModule(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "shared-sandbox" if module in SHARED_SANDBOX_MODULES else module

    return ByModule(config, log)


@pytest.fixture(name="load_event")
def load_event_fixture() -> Callable[[str], dict[str, Any]]:
    """`load_event(name)` as a fixture, so test modules need not import conftest."""
    return load_event


@pytest.fixture(name="aws_sample")
def aws_sample_fixture() -> Callable[[str], dict[str, Any]]:
    """`aws_sample(name)`: AWS's documented sample (skips the test when `../shared` is absent)."""
    return load_aws_sample


@pytest.fixture(name="readdressed")
def readdressed_fixture() -> Callable[..., dict[str, Any]]:
    """`readdressed(sample, account=, region=, pipeline=)` as a fixture."""
    return readdressed
