"""The small sample app the demo deploys: a greeting, its test, and a buildspec that runs the test."""

from __future__ import annotations

BUILDSPEC = """\
version: 0.2
phases:
  install:
    commands:
      - echo "building $CODEBUILD_RESOLVED_SOURCE_VERSION for $PATH2PROD_ENV"
  build:
    commands:
      - python3 -m unittest -v test_greeting.py
"""

GREETING = """\
def greeting(name: str) -> str:
    return f"hello, {name}"
"""

BROKEN_GREETING = """\
def greeting(name: str) -> str:
    return f"helo, {name}"
"""

TEST = """\
import unittest

from greeting import greeting


class GreetingTest(unittest.TestCase):
    def test_greets_by_name(self):
        self.assertEqual(greeting("path2prod"), "hello, path2prod")


if __name__ == "__main__":
    unittest.main()
"""

PASSING = {"buildspec.yml": BUILDSPEC, "greeting.py": GREETING, "test_greeting.py": TEST}
FAILING = {"greeting.py": BROKEN_GREETING}
