"""Layer rules, checked on the source (ast): envs/robots -> Percept -> memory -> agent -> action.

Every import of every module (also imports inside functions: they are dependencies all the same)
is read; the test fails on an import that reaches upward, on an import cycle between modules, and
on an import of another module's private (underscore) name.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"embodied_mem": REPO / "embodied_mem", "embodied_mem.envs": REPO / "envs", "embodied_mem.robots": REPO / "robots"}

# Layers, lowest first; a module may import its own layer and those below it. The longest matching
# prefix decides. Apps (runner, CLIs, benchmarks, the robot bridge that owns a Memory) sit on top.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # hydra_cli (one-line usage errors) and map_export (PLY / map_server writers) import only deps
    ("base", ("embodied_mem.percept", "embodied_mem.deps", "embodied_mem.plots", "embodied_mem.mapping3d",
              "embodied_mem.hydra_cli", "embodied_mem.map_export")),
    ("adapters", ("embodied_mem.envs", "embodied_mem.robots")),
    ("memory", ("embodied_mem.memory", "embodied_mem.graph", "embodied_mem.store", "embodied_mem.stores",
                "embodied_mem.fleet")),
    ("encoders", ("embodied_mem.encoders",)),
    ("agent", ("embodied_mem.agent",)),
    ("apps", ("embodied_mem", "embodied_mem.runner", "embodied_mem.cli", "embodied_mem.config_schema",
              "embodied_mem.bench", "embodied_mem.sweeps", "embodied_mem.demo", "embodied_mem.memory_cli",
              "embodied_mem.configs", "embodied_mem.robots.cli", "embodied_mem.robots.ros2.bridge",
              "embodied_mem.robots.ros2.config", "embodied_mem.robots.ros2")),
]

# Besides the order: who must not import whom at all. The agent finds its world through the env's
# declared description, never by importing the env; memory knows Percept, nothing of simulators,
# middleware, encoders or agents (a learned key encoder is injected).
FORBIDDEN = {
    "embodied_mem.agent": ("embodied_mem.envs", "embodied_mem.robots"),
    "embodied_mem.memory": ("embodied_mem.encoders", "embodied_mem.agent", "embodied_mem.envs", "embodied_mem.robots"),
    "embodied_mem.envs": ("embodied_mem.robots",),
}

# Known forbidden imports still to be removed (each entry must still exist: a stale one fails, so the
# list only shrinks). Empty: the per-world agents are on the shared loop and read the env's
# declared description instead of importing env modules.
KNOWN_FORBIDDEN: set[tuple[str, str]] = set()


def _modules(roots: dict[str, Path] = ROOTS) -> dict[str, tuple[Path, bool]]:
    mods = {}
    for pkg, root in roots.items():
        for f in root.rglob("*.py"):
            rel = f.relative_to(root).with_suffix("")
            if "build" in rel.parts:
                continue
            parts = [p for p in rel.parts if p != "__init__"]
            mods[".".join([pkg, *parts])] = (f, f.name == "__init__.py")
    return mods


def _imports(mods: dict[str, tuple[Path, bool]]) -> list[tuple[str, str, str | None, int]]:
    """(importer, imported module, imported name or None, line) for every import inside the project."""
    out = []
    for name, (path, is_pkg) in mods.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                out += [(name, a.name, None, node.lineno) for a in node.names if a.name.startswith("embodied_mem")]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("embodied_mem"):
                    continue
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    if sub in mods:  # `from pkg import submodule`
                        out.append((name, sub, None, node.lineno))
                    else:
                        out.append((name, target, a.name, node.lineno))
    return out


def _layer(module: str) -> int:
    best, rank = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    return rank


def test_every_module_has_a_layer():
    assert all(_layer(m) >= 0 for m in _modules())


def _upward(mods: dict[str, tuple[Path, bool]]) -> list[str]:
    return [f"{src}:{line} imports {dst} ({LAYERS[_layer(src)][0]} -> {LAYERS[_layer(dst)][0]})"
            for src, dst, _, line in _imports(mods) if _layer(dst) > _layer(src)]


def _private(mods: dict[str, tuple[Path, bool]]) -> list[str]:
    return [f"{s}:{line} imports {n} from {d}" for s, d, n, line in _imports(mods)
            if n is not None and n.startswith("_") and not n.startswith("__") and d != s]


def test_no_import_reaches_upward():
    upward = _upward(_modules())
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_agent_imports_no_env_and_memory_no_encoder_agent_or_env():
    bad, seen_known = [], set()
    for src, dst, _, line in _imports(_modules()):
        for who, banned in FORBIDDEN.items():
            if (src == who or src.startswith(who + ".")) and dst.startswith(banned):
                if (src, dst) in KNOWN_FORBIDDEN:
                    seen_known.add((src, dst))
                else:
                    bad.append(f"{src}:{line} imports {dst}")
    assert not bad, "forbidden imports:\n" + "\n".join(bad)
    assert seen_known == KNOWN_FORBIDDEN, f"stale KNOWN_FORBIDDEN entries: {KNOWN_FORBIDDEN - seen_known}"


def _cycles(mods: dict[str, tuple[Path, bool]]) -> list[list[str]]:
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for src, dst, _, _ in _imports(mods):
        if dst in graph and dst != src:
            graph[src].add(dst)
    # Tarjan's strongly connected components: any component of two or more modules is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    # a package's __init__ importing its own submodules while they import the package is Python's
    # normal package pattern, not a dependency cycle between modules: drop package inits
    return [c for c in cycles if len([m for m in c if not mods[m][1]]) > 1]


def test_no_import_cycles():
    cycles = _cycles(_modules())
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_imports_another_modules_private_names():
    bad = _private(_modules())
    assert not bad, "\n".join(bad)


def test_the_checks_catch_planted_violations(tmp_path: Path):
    pkg = tmp_path / "embodied_mem"
    (pkg / "memory").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "memory" / "__init__.py").write_text("")
    (pkg / "memory" / "a.py").write_text("def f():\n    from ..agent import loop\n    from .b import g\n")
    (pkg / "memory" / "b.py").write_text("from .a import f\nfrom embodied_mem.percept import _hidden\n")
    mods = _modules({"embodied_mem": pkg})
    assert any("embodied_mem.memory.a" in u and "memory -> agent" in u for u in _upward(mods))
    assert _cycles(mods) == [["embodied_mem.memory.a", "embodied_mem.memory.b"]]
    assert _private(mods) == ["embodied_mem.memory.b:2 imports _hidden from embodied_mem.percept"]


def test_the_walk_sees_what_it_checks():
    """The checks above would pass vacuously on a walk that finds nothing."""
    imps = _imports(_modules())
    assert ("embodied_mem.agent.loop", "embodied_mem.agent.critic") in {(s, d) for s, d, _, _ in imps}
    assert _layer("embodied_mem.envs.crafter") < _layer("embodied_mem.memory.facade") < _layer("embodied_mem.agent.loop")
    assert len(imps) > 200
