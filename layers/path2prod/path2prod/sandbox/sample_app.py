"""The small sample app the demo deploys: a greeting service, its unit test, a per-env config and a
smoke test that checks the deployed env's config — what a buildspec runs before calling a build good."""

from __future__ import annotations

import json

BUILDSPEC = """\
version: 0.2
phases:
  install:
    commands:
      - echo "building $CODEBUILD_RESOLVED_SOURCE_VERSION for $PATH2PROD_ENV"
  build:
    commands:
      - python3 -m unittest -v test_greeting.py
  post_build:
    commands:
      - python3 smoke_test.py "$PATH2PROD_ENV"
"""

GREETING = """\
def greeting(name: str, style: str = "plain") -> str:
    return f"hello, {name}" if style == "plain" else f"Hello, {name}!"
"""

BROKEN_GREETING = """\
def greeting(name: str, style: str = "plain") -> str:
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

# Runs after the build in each env: the env's own config must name everything the code needs.
SMOKE_TEST = """\
import json
import sys

from greeting import greeting

REQUIRED = ("style",)

config = json.load(open(f"config/{sys.argv[1]}.json"))
missing = [key for key in REQUIRED if key not in config]
if missing:
    sys.exit(f"smoke test: config/{sys.argv[1]}.json lacks {missing}")
print(greeting("smoke test", config["style"]))
"""

SMOKE_TEST_V1 = SMOKE_TEST.replace('REQUIRED = ("style",)', "REQUIRED = ()").replace(
    'greeting("smoke test", config["style"])', 'greeting("smoke test")'
)


def _configs(with_style: tuple[str, ...]) -> dict[str, str]:
    return {
        f"config/{env}.json": json.dumps({"env": env, **({"style": "excited"} if env in with_style else {})})
        + "\n"
        for env in ("dev", "stg", "prd")
    }


# G: the first good version, everywhere.
GOOD = {
    "buildspec.yml": BUILDSPEC,
    "greeting.py": GREETING,
    "test_greeting.py": TEST,
    "smoke_test.py": SMOKE_TEST_V1,
    **_configs(()),
}
# F: breaks the unit test: fails in dev, never goes further.
BROKEN_IN_DEV = {"greeting.py": BROKEN_GREETING}
# B: needs a new config key that dev and stg have and prd lacks: passes dev and stg, fails in prd.
BROKEN_IN_PRD = {"greeting.py": GREETING, "smoke_test.py": SMOKE_TEST, **_configs(("dev", "stg"))}
