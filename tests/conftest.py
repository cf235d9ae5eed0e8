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


# The e2e modules that run one after the other in one sandbox (tests/e2e/conftest.py's `sandbox`), by
# the sandbox's name, in this order: their tests pick their own commits and entries out of what the
# others left. "demo" is the sandbox `path2prod demo --keep` leaves: the story is told once, test_demo
# checks its output and the rollback module starts from its end (G running in prd after B's automatic
# rollback); the bake alarm module follows (it promotes a commit to prd over what runs there, and leaves
# prd on a good commit, its alarm OK). The deploy window module has a sandbox of its own (most of its
# time is a freeze waited out, while its sandbox idles). In
# "records", the ledger module (which wants a fresh sandbox and restarts it) goes before the audit
# module, whose last tests break the ledgers on purpose. In "hostile", an outage in prd follows forged
# events (which leave stg's chain broken); dead letters are worked last (dev's queue holds the forged
# events by then, which a redrive must keep parked). Each test of aws_rules starts its own (each changes
# how the sandbox starts). Sandboxes are shared to save their starts (about 11 s of CPU each)
# and to balance the workers: each group takes 2-3 minutes at the suite's load.
SHARED_SANDBOXES = {
    "tests/e2e/test_demo.py": "demo",
    "tests/e2e/test_sandbox_rollback.py": "demo",
    "tests/e2e/test_sandbox_bake_alarm.py": "demo",
    "tests/e2e/test_sandbox_approvals.py": "approvals",
    "tests/e2e/test_sandbox_promotion_review.py": "approvals",
    "tests/e2e/test_sandbox_ledger.py": "records",
    "tests/e2e/test_sandbox_audit.py": "records",
    "tests/e2e/test_sandbox_forgery.py": "hostile",
    "tests/e2e/test_sandbox_rollback_retry.py": "hostile",
    "tests/e2e/test_sandbox_dlq.py": "hostile",
}
_MODULE_ORDER = list(SHARED_SANDBOXES)
# Modules whose every test starts a sandbox of its own: their tests may run on different workers.
SANDBOX_PER_TEST_MODULES = frozenset({"tests/e2e/test_sandbox_aws_rules.py"})


# The units that take longest, longest first (docs/benchmarks.md, "Test suite time"): collected first, so
# under xdist each starts at once on a worker of its own, and the short modules fill in around them.
LONGEST_FIRST = (
    "demo-sandbox",
    "hostile-sandbox",
    "approvals-sandbox",
    "tests/e2e/test_sandbox_deploy_window.py",
    "tests/e2e/test_sandbox_reliability.py",
    "tests/e2e/test_sandbox_aws_rules.py::test_a_permission_missing_from_the_template_fails_in_the_sandbox",
    "records-sandbox",
    "tests/e2e/test_sandbox_aws_rules.py::test_a_build_gets_the_sandbox_endpoint_and_none_of_the_callers_aws_settings",
)


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: the tests of one unit run on one worker, in collection order."""
    module = nodeid.split("::", 1)[0]
    if module in SANDBOX_PER_TEST_MODULES:
        return nodeid
    return f"{SHARED_SANDBOXES[module]}-sandbox" if module in SHARED_SANDBOXES else module


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest units first, the modules sharing a sandbox in SHARED_SANDBOXES' order (a stable sort:
    each module's tests keep theirs)."""

    def rank(item: pytest.Item) -> tuple[int, int]:
        unit, module = unit_of(item.nodeid), item.nodeid.split("::", 1)[0]
        unit_rank = LONGEST_FIRST.index(unit) if unit in LONGEST_FIRST else len(LONGEST_FIRST)
        return unit_rank, _MODULE_ORDER.index(module) if module in SHARED_SANDBOXES else 0

    items.sort(key=rank)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (`make test`), a unit's tests stay on one worker (unit_of), so a module-scoped
    fixture (a moto server, a browser, a sandbox) starts once, and the modules sharing a sandbox run one
    after the other. Our own scheduler, since xdist 3.8's `--dist loadgroup` marks do nothing under
    pytest 9 (it rewrites `item._nodeid`, which pytest 9 no longer reads). Units are handed out in
    collection order (LONGEST_FIRST), not xdist's default of the most tests first."""
    from xdist.scheduler import LoadScopeScheduling  # only when xdist runs the suite

    config.option.loadscopereorder = False

    class ByUnit(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return ByUnit(config, log)


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
