"""Loading a function's handler module by path, as Lambda does (functions/ is no package)."""

from __future__ import annotations

import importlib.util
from functools import cache
from types import ModuleType

from path2prod.sandbox.template import project_root


@cache
def function_module(name: str) -> ModuleType:
    """functions/<name>/app.py, loaded once per test session: Powertools' Logger, Tracer and Metrics are
    module-level. A test that changes the function's settings clears the module's cached wiring."""
    return fresh_function_module(name)


def fresh_function_module(name: str) -> ModuleType:
    """functions/<name>/app.py, loaded anew: its module-level caches start empty."""
    path = project_root() / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"{name}_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
