"""The test suites import as pytest's default (prepend) mode does: a test module outside a package is
imported by its basename, so two with the same basename would collide (the second fails to import)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_two_test_modules_share_a_basename() -> None:
    # GIVEN every test module of every suite
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))

    # THEN each basename is used once
    assert [name for name, count in names.items() if count > 1] == []


def test_the_shared_scaffolding_imports_as_tests_support() -> None:
    # WHEN the helpers are imported the way every suite imports them
    from tests.support import entries, git, handlers, lambda_context

    # THEN they are the checkout's own, not a package of the same name from elsewhere
    for module in (entries, git, handlers, lambda_context):
        assert Path(module.__file__ or "").resolve().is_relative_to(TESTS / "support")
