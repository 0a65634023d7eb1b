"""Which tests must share an xdist worker, and in what order the units of work go out.

``make test`` spreads the suite over workers with ``--dist loadscope`` as
``tests/conftest.py`` refines it. A module-scoped fixture of a test module (a
"world": a sandbox installation built once, whose tests build on each other in
file order) ties the tests that use it to one worker, in order. A test of the
same module that uses no such fixture is free: scheduled alone, it runs on
whichever worker is idle instead of waiting behind the world's tests (the
shaped Derby end-to-end test used to hold the worker of the shape module's
parse tests for a minute).

Only node ids reach the xdist controller (it collects nothing), so the
decision is read from the module's source: a test belongs to its module's
world when it names, directly or through the module's own fixtures, a
fixture the module defines with ``scope="module"``. Where the source leaves
room for doubt (an autouse module fixture, ``usefixtures``,
``getfixturevalue``, a test in a class), the whole module stays together, as
before this refinement.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Rank of a unit of work: lower goes out first, so the longest units start at once and
# the many short ones fill in around them at the end (longest-processing-time first).
WORLD_E2E, WORLD, LONG_SINGLE, SINGLE = range(4)
LONG_MARKS = {"e2e", "slow"}


def _fixture_scope(decorator: ast.expr) -> str | None:
    """``"function"``/``"module"``/... for a ``@pytest.fixture`` decorator, else None."""
    call = decorator if isinstance(decorator, ast.Call) else None
    target = call.func if call else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
    if name != "fixture":
        return None
    scope, autouse = "function", False
    for keyword in call.keywords if call else ():
        if keyword.arg == "scope" and isinstance(keyword.value, ast.Constant):
            scope = str(keyword.value.value)
        if keyword.arg == "autouse" and isinstance(keyword.value, ast.Constant):
            autouse = bool(keyword.value.value)
    return f"{scope}+autouse" if autouse else scope


def _arguments(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    args = function.args
    return {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}


@functools.cache
def world_tests(module: str) -> frozenset[str] | None:
    """The test functions of ``module`` (a path under the repository) tied to its world.

    An empty set: the module keeps no world, every test is free. None: the
    whole module stays on one worker (a world whose users the source cannot
    tell for certain).
    """
    path = ROOT / module
    if not path.is_file():
        return frozenset()
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    fixtures: dict[str, set[str]] = {}  # fixture name -> the names it requests
    world: set[str] = set()
    tests: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            return None if _defines_module_fixture(tree) else frozenset()
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        scopes = [s for s in map(_fixture_scope, node.decorator_list) if s]
        if scopes:
            if scopes[0] == "module+autouse":
                return None
            fixtures[node.name] = _arguments(node)
            if scopes[0] == "module":
                world.add(node.name)
        elif node.name.startswith("test"):
            tests[node.name] = _arguments(node)
    if not world:
        return frozenset()
    if "usefixtures" in source or "getfixturevalue" in source:
        return None
    reaches: dict[str, bool] = {}

    def reaches_world(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name in world:
            return True
        if name not in fixtures or name in seen:
            return False
        if name not in reaches:
            reaches[name] = any(reaches_world(n, seen | {name}) for n in fixtures[name])
        return reaches[name]

    return frozenset(t for t, names in tests.items() if any(map(reaches_world, names)))


def _defines_module_fixture(tree: ast.Module) -> bool:
    return any(
        (_fixture_scope(d) or "").startswith("module")
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for d in node.decorator_list
    )


def in_world(nodeid: str) -> bool:
    """Whether the test ``nodeid`` runs with its module's world (on the world's worker)."""
    module, _, rest = nodeid.partition("::")
    tied = world_tests(module)
    if tied is None:
        return True
    return rest.split("[", 1)[0] in tied


def scope(nodeid: str) -> str:
    """The xdist unit of work of ``nodeid``: its module if it is tied to the world, else itself."""
    return nodeid.partition("::")[0] if in_world(nodeid) else nodeid
