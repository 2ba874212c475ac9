"""The package layout is a one-way street: no import cycles, no upward imports.

Layers, lowest first (a module may import its own package, or any package of a lower
layer; packages of the same layer may import each other as long as no cycle forms):
domain/clock/config (+ config_sections)/log -> data, features, models, signals, sizing, risk, portfolio,
store, news, notify, auth -> brokers -> execution -> engine -> strategies -> backtest | trading | research
-> services -> cli. Pages and jobs import only core.services (plus core.config / core.log).
Function-level imports count.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    {"domain", "clock", "config", "config_sections", "log"},
    {"data", "features", "models", "signals", "sizing", "risk", "portfolio", "store", "news", "notify", "auth"},
    {"brokers"},
    {"execution"},
    {"engine"},
    {"strategies"},
    {"backtest", "trading", "research"},
    {"services"},
    {"cli", "__main__", ""},
]
RANK = {pkg: i for i, group in enumerate(LAYERS) for pkg in group}
APP_ALLOWED = {"services", "config", "log"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, known: set[str]) -> list[tuple[str, int]]:
    """Return the core modules ``path`` imports (module level and inside functions), with line numbers."""
    out = []
    tree = ast.parse(path.read_text(), filename=str(path))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in typing_only:  # annotations only, never executed
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("core"):
                out.append((name, node.lineno))
    return out


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _core_graph() -> tuple[dict[str, Path], dict[str, list[tuple[str, int]]]]:
    files = {_module(p): p for p in (ROOT / "core").rglob("*.py")}
    known = set(files)
    return files, {m: _imports(p, known) for m, p in files.items()}


def test_every_core_package_has_a_layer():
    files, _ = _core_graph()
    assert sorted({_package(m) for m in files} - set(RANK)) == []


def test_no_upward_import_in_core():
    _, graph = _core_graph()
    upward = []
    for module, imports in graph.items():
        src = _package(module)
        for target, line in imports:
            dst = _package(target)
            if dst != src and target != "core" and RANK[dst] > RANK[src]:
                upward.append(f"{module}:{line} imports {target} ({dst} is above {src})")
    assert upward == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_packages_or_modules():
    _, graph = _core_graph()
    packages: dict[str, set[str]] = {}
    modules: dict[str, set[str]] = {}
    for module, imports in graph.items():
        for target, _ in imports:
            if target == "core" or target == module:
                continue
            modules.setdefault(module, set()).add(target)
            if _package(target) != _package(module):
                packages.setdefault(_package(module), set()).add(_package(target))
    # A package's __init__ re-exporting its own modules is not a cycle of behaviour.
    modules = {m: {t for t in ts if not (m == t.rpartition(".")[0] or _is_init_of(t, m))} for m, ts in modules.items()}
    assert _cycles(packages) == []
    assert _cycles(modules) == []


def _is_init_of(target: str, module: str) -> bool:
    return module.startswith(target + ".")


def test_pages_and_jobs_import_only_services():
    known = set(_core_graph()[0])
    bad = []
    for folder in ("pages", "jobs"):
        for path in (ROOT / folder).rglob("*.py"):
            for target, line in _imports(path, known):
                if target != "core" and _package(target) not in APP_ALLOWED:
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert bad == []


def test_the_checker_sees_upward_and_function_level_imports(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text("def f():\n    from core.services import backtest\n    import core.engine.build\n")
    found = dict(_imports(src, {"core.services", "core.services.backtest", "core.engine", "core.engine.build"}))
    assert found == {"core.services.backtest": 2, "core.engine.build": 3}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


MAX_LINES = 400  # issue 13: one file, one idea; a file past this is asking to be split


def _long_files(root: Path, limit: int = MAX_LINES) -> list[str]:
    """Return ``"path: N lines"`` for every .py file under ``root`` longer than ``limit`` lines."""
    out = []
    for path in sorted(root.rglob("*.py")):
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            out.append(f"{path.relative_to(root.parent)}: {n} lines")
    return out


def test_no_core_file_over_400_lines():
    assert _long_files(ROOT / "core") == [], "split these along a natural seam (a private sibling module, re-exported)"


def test_the_length_check_counts_lines_and_names_the_offenders(tmp_path):
    pkg = tmp_path / "core"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "at_limit.py").write_text("x = 1\n" * 400)
    (pkg / "sub" / "over.py").write_text("x = 1\n" * 400 + "y = 2")  # 401 lines, the last without a newline
    (pkg / "notes.txt").write_text("z\n" * 1000)
    assert _long_files(pkg) == [f"{Path('core', 'sub', 'over.py')}: 401 lines"]


def test_the_services_facade_lists_every_name_it_resolves():
    import core.services as services

    assert sorted(services.__all__) == sorted(services._EXPORTS)
