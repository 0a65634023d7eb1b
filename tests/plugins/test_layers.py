"""No import runs upward, and no import goes round in a circle.

The plugin package is built in layers, bottom to top (docs/architecture.md,
"Layers"): a layer may import its own layer and any layer below it, never one
above. This test reads every module of ``ue_backup`` and every DAG file with
``ast`` (nothing is imported, so it runs in a fraction of a second), draws
the graph of their imports of each other, and fails naming each edge that
runs upward and each cycle.

What counts as an import: ``import x`` and ``from x import y`` anywhere in the
file, at module level or inside a function (a function-level import is still
a dependency: it only runs later, which is why the Kubernetes hooks are
imported that way, not a licence to import upward). ``from pkg import mod``
is an edge to ``pkg.mod`` when that module exists.

Imports under ``if TYPE_CHECKING:`` count for the layer rule (a lower layer
that names a higher layer's types still depends on it) but not for the cycle
rule: they never run, so they cannot make an import-time circle, and naming a
type that way is the usual way to break one.

The layers are those of the issue that asked for this test (issue 15), with
these choices written down here:

- ``records`` (record shapes, copy metadata keys), ``drill_resources`` (the
  drill cleanup's states and restored types), ``verify`` and
  ``external_window`` are pure rules, beside ``planning``; ``drill_dag``
  (the drill DAG's ``drill_step`` gate and report notifier, built on
  ``dag_support.only_if``) is in the DAG-support layer.

- ``aws`` and ``transient`` (the provider-hook and botocore settings, and the
  transient-error rules the hooks' retries use) are a layer of their own
  between the pure rules and the hooks, because ``aws`` subclasses the
  provider's ``AwsBaseHook``; ``transient`` imports nothing of ours and could
  sit lower, it stays here because only the AWS side uses it.
- ``waiters`` (botocore waiter definitions read by the hooks) and
  ``inventory`` (every listing of what exists, made through the hooks, for
  restore, drill, retention and verification) are in the hooks layer.
- Package ``__init__`` modules belong to their package's layer; the empty
  ``ue_backup/__init__.py`` is in the lowest.

Pure-rule modules are also checked for purity: they import no AWS,
Kubernetes or network client (``PURE_FORBIDDEN``). ``compat`` and ``config``
import Airflow itself (names whose home moved; the Variable a configuration
is read from, inside a function), which is allowed.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "plugins" / "ue_backup"
DAGS = ROOT / "dags"

# Bottom to top. A pattern ending in ``.*`` matches every module below that
# package; the others match one module exactly.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "pure rules",
        (
            "ue_backup",
            "ue_backup.planning",
            "ue_backup.temp_files",
            "ue_backup.restore_scripts",
            "ue_backup.manifest",
            "ue_backup.backup_set",
            "ue_backup.kube_names",
            "ue_backup.states",
            "ue_backup.config",
            "ue_backup.retention",
            "ue_backup.retention_artifacts",
            "ue_backup.retention_cost",
            "ue_backup.retention_locked",
            "ue_backup.drill_report",
            "ue_backup.cold_window",
            "ue_backup.rpo",
            "ue_backup.names",
            "ue_backup.errors",
            "ue_backup.compat",
            "ue_backup.switch_over",
            "ue_backup.verify",
            "ue_backup.verify_locked",
            "ue_backup.app_checks",
            "ue_backup.external_window",
            "ue_backup.window_estimate",
            "ue_backup.past_runs",
            "ue_backup.immutable",
            "ue_backup.immutable_keys",
            "ue_backup.locked_inventory",
            "ue_backup.database_point",
            "ue_backup.datasync_sets",
            "ue_backup.datasync_retention",
            "ue_backup.records",
            "ue_backup.recorded_network",
            "ue_backup.restored_shape",
            "ue_backup.drill_resources",
            "ue_backup.run_settings",
            "ue_backup.dag_shape",
            "ue_backup.plan_view",
            "ue_backup.console_paths",
            "ue_backup.run_summary",
            "ue_backup.catalog",
        ),
    ),
    ("AWS support", ("ue_backup.aws", "ue_backup.transient")),
    ("hooks", ("ue_backup.hooks", "ue_backup.hooks.*", "ue_backup.waiters", "ue_backup.inventory")),
    ("triggers", ("ue_backup.triggers", "ue_backup.triggers.*")),
    (
        "operators, sensors, links, notifications",
        (
            "ue_backup.operators",
            "ue_backup.operators.*",
            "ue_backup.sensors",
            "ue_backup.sensors.*",
            "ue_backup.links",
            "ue_backup.links.*",
            "ue_backup.notifications",
        ),
    ),
    ("task steps", ("ue_backup.tasks", "ue_backup.tasks.*")),
    (
        "DAG support",
        (
            "ue_backup.dag_support",
            "ue_backup.drill_dag",
            "ue_backup.restore_chain",
            "ue_backup.forms",
        ),
    ),
    ("DAG files", ("dags.*",)),
    ("Airflow UI plugin", ("ue_backup.ui", "ue_backup.ui.*")),
)

# What a pure rule may not import: the clients through which effects happen.
PURE_FORBIDDEN = (
    "boto3",
    "botocore",
    "aiobotocore",
    "kubernetes",
    "kubernetes_asyncio",
    "airflow.providers",
    "requests",
    "urllib3",
    "httpx",
    "socket",
    "subprocess",
)


@dataclass(frozen=True)
class Import:
    """One import statement of ``source``: what it names, where, and whether it runs."""

    source: str
    target: str
    line: int
    type_only: bool


def module_name(path: Path) -> str:
    """``plugins/ue_backup/hooks/ecd.py`` -> ``ue_backup.hooks.ecd``; a DAG file -> ``dags.x``."""
    if path.parent == DAGS:
        return f"dags.{path.stem}"
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def our_files() -> dict[str, Path]:
    files = [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]
    files += sorted(DAGS.glob("*.py"))
    return {module_name(p): p for p in sorted(files)}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _type_only_nodes(tree: ast.AST) -> set[int]:
    """The ids of import nodes inside an ``if TYPE_CHECKING:`` body (not its else)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:
                found.update(id(n) for n in ast.walk(statement))
    return found


def imports_of(name: str, path: Path, modules: Iterable[str]) -> list[Import]:
    """Every import of one file that names one of ``modules``, at any depth of the file."""
    known = set(modules)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    type_only = _type_only_nodes(tree)
    found = []

    def ours(dotted: str) -> str | None:
        """The longest known module that ``dotted`` is, or is inside."""
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in known:
                return candidate
        return None

    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.append(submodule if submodule in known else base)
        for dotted in targets:
            target = ours(dotted)
            if target and target != name:
                found.append(Import(name, target, node.lineno, id(node) in type_only))
    return found


def external_imports_of(path: Path) -> list[tuple[str, int]]:
    """Every imported name of one file, ours or not, with its line."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.append((node.module, node.lineno))
    return names


def layer_of(module: str) -> int | None:
    for index, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*") and fnmatch.fnmatch(module, pattern)):
                return index
    return None


def upward(imports: Iterable[Import], layers: Mapping[str, int]) -> list[str]:
    """One line per import of a module from a higher layer than its own."""
    lines = []
    for edge in imports:
        if layers[edge.target] > layers[edge.source]:
            lines.append(
                f"{edge.source} ({LAYERS[layers[edge.source]][0]}) imports "
                f"{edge.target} ({LAYERS[layers[edge.target]][0]}) at line {edge.line}"
                + (" [TYPE_CHECKING]" if edge.type_only else "")
            )
    return sorted(set(lines))


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected group of modules (Tarjan), as a path back to its start."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in edges.get(node, ()):
                groups.append(group)

    for node in sorted(edges):
        if node not in index:
            visit(node)

    found = []
    for group in groups:
        start = min(group)
        # Breadth first inside the group: the shortest way from start back to start.
        paths = {start: [start]}
        queue = [start]
        circle = None
        while queue and circle is None:
            node = queue.pop(0)
            for nxt in sorted(edges.get(node, ())):
                if nxt == start:
                    circle = [*paths[node], start]
                    break
                if nxt in group and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    queue.append(nxt)
        found.append(circle)
    return sorted(found)


def the_graph() -> tuple[dict[str, Path], list[Import]]:
    files = our_files()
    imports = []
    for name, path in files.items():
        imports += imports_of(name, path, files)
    return files, imports


def test_every_module_has_a_layer():
    """A new module must be placed in a layer here before it can be imported by anything."""
    files, _ = the_graph()
    unplaced = [m for m in files if layer_of(m) is None]
    assert unplaced == [], f"modules in no layer (add them to LAYERS): {unplaced}"


def test_no_import_runs_upward():
    files, imports = the_graph()
    layers = {m: layer_of(m) for m in files}
    offending = upward(imports, layers)
    assert offending == [], "imports that run upward:\n  " + "\n  ".join(offending)


def test_no_import_cycle():
    _, imports = the_graph()
    edges: dict[str, set[str]] = {}
    for edge in imports:
        if not edge.type_only:
            edges.setdefault(edge.source, set()).add(edge.target)
    found = [" -> ".join(circle) for circle in cycles(edges)]
    assert found == [], "import cycles:\n  " + "\n  ".join(found)


def test_pure_rules_import_no_effect_client():
    files, _ = the_graph()
    offending = []
    for name, path in files.items():
        if layer_of(name) != 0:
            continue
        for imported, line in external_imports_of(path):
            if any(imported == f or imported.startswith(f + ".") for f in PURE_FORBIDDEN):
                offending.append(f"{name} imports {imported} at line {line}")
    assert offending == [], "pure rules importing an effect client:\n  " + "\n  ".join(offending)


def test_the_graph_sees_function_level_relative_and_type_checking_imports(tmp_path):
    """The reader itself: every way of importing named in the docstring gives an edge."""
    source = tmp_path / "ue_backup" / "tasks" / "x.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import ue_backup.planning\n"
        "from ue_backup.hooks import ecd\n"
        "from . import y\n"
        "if TYPE_CHECKING:\n"
        "    from ue_backup.dag_support import setting\n"
        "def f():\n"
        "    from ..config import load_config\n"
    )
    modules = [
        "ue_backup.planning",
        "ue_backup.hooks",
        "ue_backup.hooks.ecd",
        "ue_backup.tasks.y",
        "ue_backup.dag_support",
        "ue_backup.config",
    ]
    found = {(i.target, i.type_only) for i in imports_of("ue_backup.tasks.x", source, modules)}
    assert found == {
        ("ue_backup.planning", False),
        ("ue_backup.hooks.ecd", False),
        ("ue_backup.tasks.y", False),
        ("ue_backup.dag_support", True),
        ("ue_backup.config", False),
    }


def test_the_rules_catch_an_upward_edge_and_a_cycle():
    """The checks themselves, on a made-up graph: they can fail."""
    imports = [
        Import("ue_backup.planning", "ue_backup.hooks.ecd", 3, False),
        Import("ue_backup.hooks.ecd", "ue_backup.planning", 4, False),
    ]
    layers = {"ue_backup.planning": 0, "ue_backup.hooks.ecd": 2}
    assert upward(imports, layers) == [
        "ue_backup.planning (pure rules) imports ue_backup.hooks.ecd (hooks) at line 3"
    ]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"a"}}) == [["a", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_ui_plugin_reads_no_aws_nor_kubernetes():
    """The web server needs no AWS or Kubernetes access: the UI plugin imports only the
    pure rules of ours (the catalog, the planner) and no effect client."""
    files, imports = the_graph()
    ui = {m for m in files if layer_of(m) == len(LAYERS) - 1}
    assert ui, "the UI plugin's modules are not placed"
    offending = [
        f"{edge.source} imports {edge.target} at line {edge.line}"
        for edge in imports
        if edge.source in ui and edge.target not in ui and layer_of(edge.target) != 0
    ]
    for name in sorted(ui):
        for imported, line in external_imports_of(files[name]):
            if any(imported == f or imported.startswith(f + ".") for f in PURE_FORBIDDEN):
                offending.append(f"{name} imports {imported} at line {line}")
    assert offending == [], "the UI plugin reaching beyond the pure rules:\n  " + "\n  ".join(
        offending
    )


# --- every AWS call of a task step goes through a hook method ------------------------------

# The ways to a raw boto3 client: the project's client helpers, the provider's factory,
# and a hook's client (``hook.conn``, ``hook.get_conn()``).
RAW_CLIENT_CALLS = ("aws_client", "settings_client", "get_client_type", "get_conn")
# None left: the inventory work moved the last raw calls (backup_steps, restore_steps,
# retention_inventory) into ``ue_backup.inventory``. Nothing may be added here.
RAW_CLIENT_ALLOWED: frozenset[str] = frozenset()


def raw_client_uses(path: Path) -> list[str]:
    """Where a module reaches a boto3 client itself: a call of one of ``RAW_CLIENT_CALLS``,
    or any use of a ``.conn`` attribute (``hook.conn.delete_object``, ``conn = hook.conn``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in RAW_CLIENT_CALLS:
                found.append(f"line {node.lineno}: {name}()")
        elif isinstance(node, ast.Attribute) and node.attr == "conn":
            found.append(f"line {node.lineno}: .conn")
    return sorted(set(found), key=lambda text: int(text.split()[1].rstrip(":")))


def test_task_steps_make_no_raw_aws_call():
    """``tasks/`` is glue: every AWS call is a hook method (issue 15, "hooks own every AWS
    call"), so what the IAM policy must allow is read off the hooks alone."""
    files, _ = the_graph()
    offending = [
        f"{name} {use}"
        for name, path in files.items()
        if (name == "ue_backup.tasks" or name.startswith("ue_backup.tasks."))
        and name not in RAW_CLIENT_ALLOWED
        for use in raw_client_uses(path)
    ]
    assert offending == [], "raw AWS clients in task steps (add a hook method):\n  " + (
        "\n  ".join(offending)
    )
