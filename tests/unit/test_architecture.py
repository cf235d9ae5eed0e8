"""The structure every feature shares, checked rather than hoped for (issue 12's "Done when" lines).

A newcomer changes one feature by reading its four modules (service, ports, wiring, settings) and the
errors it names; these tests keep that true as the code grows.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "path2prod" / "path2prod"
FEATURES = ("approvals", "checkpointer", "gate", "reconciler", "recorder", "rollback")
FEATURE_MODULES = ("service.py", "ports.py", "wiring.py", "settings.py", "errors.py")
MAX_LINES = 400
MAX_HANDLER_BODY_LINES = 5


def _python_files(*roots: Path) -> list[Path]:
    return sorted(path for root in roots for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_no_module_of_the_layer_or_the_benchmarks_is_over_400_lines() -> None:
    # GIVEN every module of the layer and of bench/
    files = _python_files(PACKAGE, ROOT / "bench")

    # THEN each is short enough to read in one sitting
    long_files = {
        str(path.relative_to(ROOT)): count
        for path in files
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long_files == {}


@pytest.mark.parametrize("feature", FEATURES)
def test_every_feature_has_the_same_modules(feature: str) -> None:
    # GIVEN a feature package
    present = {path.name for path in (PACKAGE / feature).glob("*.py")}

    # THEN it holds the same named modules as every other feature
    assert set(FEATURE_MODULES) <= present


@pytest.mark.parametrize(
    "app", sorted((ROOT / "functions").glob("*/app.py")), ids=lambda path: path.parent.name
)
def test_every_handler_is_decorators_and_a_call(app: Path) -> None:
    # GIVEN a function's handler
    handlers = [
        node for node in _module(app).body if isinstance(node, ast.FunctionDef) and node.name == "handler"
    ]
    assert len(handlers) == 1
    body = handlers[0].body

    # THEN its body is a few lines: the use case lives in the layer, not in the handler
    lines = body[-1].end_lineno - body[0].lineno + 1  # type: ignore[operator]
    assert lines <= MAX_HANDLER_BODY_LINES


def test_entry_states_are_spelled_only_in_the_vocabulary() -> None:
    # GIVEN every module of the layer
    spelled = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _python_files(PACKAGE)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if '"SUCCEEDED"' in line
    ]

    # THEN the state is written once, in the enum's definition
    assert spelled == ["layers/path2prod/path2prod/domain/vocabulary.py:" + str(_line_of("SUCCEEDED = "))]


def _line_of(text: str) -> int:
    lines = (PACKAGE / "domain" / "vocabulary.py").read_text().splitlines()
    return next(number for number, line in enumerate(lines, start=1) if line.strip().startswith(text))


def test_every_protocol_is_declared_once() -> None:
    # GIVEN every Protocol class in the layer
    declared: dict[str, list[str]] = {}
    for path in _python_files(PACKAGE):
        for node in ast.walk(_module(path)):
            if isinstance(node, ast.ClassDef) and any(_names(base, "Protocol") for base in node.bases):
                declared.setdefault(node.name, []).append(str(path.relative_to(PACKAGE)))

    # THEN no two declare the same name
    assert {name: paths for name, paths in declared.items() if len(paths) > 1} == {}


def test_errors_are_declared_in_errors_modules_under_one_base_per_layer() -> None:
    # GIVEN every exception class the layer declares
    misplaced = []
    for path in _python_files(PACKAGE):
        for node in ast.walk(_module(path)):
            if (
                isinstance(node, ast.ClassDef)
                and any(_is_error_base(base) for base in node.bases)
                and path.name != "errors.py"
            ):
                misplaced.append(f"{path.relative_to(PACKAGE)}:{node.name}")

    # THEN each lives in its layer's errors.py
    assert misplaced == []


def test_each_errors_module_has_one_base_under_the_root() -> None:
    # GIVEN each errors.py of the layer
    bases = {}
    for path in _python_files(PACKAGE):
        if path.name == "errors.py":
            module = _module(path)
            bases[str(path.relative_to(PACKAGE))] = [
                node.name
                for node in module.body
                if isinstance(node, ast.ClassDef)
                and any(_names(base, "Path2ProdError") for base in node.bases)
            ]

    # THEN exactly one class in each derives from the root: the layer's base, which the others derive from
    assert {path: names for path, names in bases.items() if len(names) != 1} == {}


def test_the_domain_imports_nothing_from_outside_itself() -> None:
    # GIVEN the domain's modules
    outside = []
    for path in _python_files(PACKAGE / "domain"):
        for node in ast.walk(_module(path)):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if re.match(r"(boto3|botocore|dulwich|aws_lambda_powertools)\b", name) or (
                    name.startswith("path2prod.") and not name.startswith("path2prod.domain")
                ):
                    outside.append(f"{path.name}: {name}")

    # THEN it depends on no adapter, feature or SDK: it is pure rules
    assert outside == []


def _names(node: ast.expr, name: str) -> bool:
    return (isinstance(node, ast.Name) and node.id == name) or (
        isinstance(node, ast.Attribute) and node.attr == name
    )


def _is_error_base(node: ast.expr) -> bool:
    text = ast.unparse(node)
    return bool(re.search(r"(Error|Exception|Moved|Invalid\w*|Refused|Failed)$", text))
