"""The import contract: which package of privformers may use which.

Every package (and top-level module) sits in one layer. A module imports from its own package or from a
layer below its own, never from a layer above, nor from another package of its own layer (the packages
of a layer are independent of each other); and no two modules import each other, directly or through
others (no cycle, within a package too). Layers, top to bottom:

    cli                         the command line: the ``privformers/cli/`` package, the only place that parses
                                arguments (``tests/test_cli_contract.py``)
    pipeline  bench             applications: the private pipeline (DP teacher, MPC student, one privacy
                                report); the engine's op benchmarks and their party programs
    distill                     distillation of MPC-friendly students (with DP-SGD from ``dp``)
    dp  generation              differentially private fine-tuning; private generation
    secure  lm                  torch and Hugging Face modules run on secret shares; small data-to-text LMs
                                (training, plaintext generation, evaluation)
    models                      which model to run, for every package: specs, loading from a path or a
                                public config, random-weight shapes, supported configs, plaintext reference
    approx                      MPC-friendly approximations as plain PyTorch modules; recipes; student
                                checkpoints
    data  metrics               data sets (readers, splits); generation metrics
    mpc                         the two-party engine: ring, shares, dealer, protocols, transport, meter
    hf  jsonout  kv_cache  lazy
                                helpers that import no other privformers module

An import counts wherever it is written: at the top of a module, inside a function (where the cycles
used to hide), under ``if TYPE_CHECKING``; a package's lazy export counts as an import of the module
that defines the name (``from privformers.approx import load_student`` reads ``approx.checkpoint``),
and so does ``importlib.import_module`` of a constant name. Two things are not edges: importing the
root package itself (``privformers.__version__``, ``__path__``), and discovery by a name pattern (the
party programs' ``<area>.programs``): a registry, whose entries the engine never names. Known upward
imports would be listed with their reasons in ``ALLOWED``; there are none.

The negative controls below plant a violation in a copy of the package (never in the source) and check
that it is reported: an upward import inside a function, an import between the two packages of a layer,
a cycle through a lazy export, and (on a synthetic package) relative, ``TYPE_CHECKING`` and
``importlib.import_module`` imports.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "privformers"

LAYERS: tuple[tuple[str, ...], ...] = (   # top to bottom; see the docstring
    ("cli",),
    ("pipeline", "bench"),
    ("distill",),
    ("dp", "generation"),
    ("secure", "lm"),
    ("models",),
    ("approx",),
    ("data", "metrics"),
    ("mpc",),
    ("hf", "jsonout", "kv_cache", "lazy"),
)
# Known upward imports, each with why it stays for now. The list only shrinks: a test fails once an entry's
# import is gone, so that whoever removes the import removes the entry too.
ALLOWED: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    """One import in the source: the module that imports, the module it reads from, and where."""

    source: str
    target: str
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.source} imports {self.target}"


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package under root, by dotted name (a package by its ``__init__.py``)."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def lazy_exports(tree: ast.Module) -> dict[str, str]:
    """A package's ``_EXPORTS`` literal (public name -> submodule), empty when it has none."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def imports(root: Path) -> list[Import]:
    """Every import of one package module by another, function-level and ``TYPE_CHECKING`` ones included."""
    mods = modules(root)
    trees = {name: ast.parse(path.read_text(), str(path)) for name, path in mods.items()}
    exports = {name: lazy_exports(tree) for name, tree in trees.items() if mods[name].name == "__init__.py"}

    def known(name: str) -> str:
        while name not in mods and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    def targets(module: str, node: ast.AST) -> Iterator[str]:
        if isinstance(node, ast.Import):
            yield from (known(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:   # relative: from the package that holds this module
                package = module.split(".") if mods[module].name == "__init__.py" else module.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in mods:
                    yield f"{base}.{alias.name}"
                elif alias.name in exports.get(base, {}):
                    yield f"{base}.{exports[base][alias.name]}"
                else:
                    yield known(base)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield known(node.args[0].value)

    found = set()
    for module, tree in trees.items():
        if module == PACKAGE:
            continue
        for node in ast.walk(tree):
            for target in targets(module, node):
                if target.split(".")[0] == PACKAGE and target not in (PACKAGE, module):
                    found.add(Import(module, target, mods[module].relative_to(root), node.lineno))
    return sorted(found, key=str)


def component(module: str) -> str:
    """The layer entry a module belongs to: its top-level package or module under privformers."""
    return module.split(".")[1]


def layer_violations(found: Sequence[Import], layers: Sequence[Sequence[str]] = LAYERS,
                     allowed: Collection[tuple[str, str]] = ALLOWED) -> list[str]:
    """One line per import from a layer above, or from another package of the same layer (but those allowed)."""
    level = {name: i for i, layer in enumerate(layers) for name in layer}
    out = []
    for imp in found:
        a, b = component(imp.source), component(imp.target)
        if a == b or (imp.source, imp.target) in allowed:
            continue
        if level[a] == level[b]:
            out.append(f"{imp} ({a} and {b} share a layer: they must not import each other)")
        elif level[a] > level[b]:
            out.append(f"{imp} (layer {a} is below {b}: an upward import)")
    return out


def cycles(found: Sequence[Import]) -> list[list[str]]:
    """The import cycles: each group of modules that reach one another (Tarjan's strongly connected
    components with more than one module), sorted."""
    graph: dict[str, set[str]] = {}
    for imp in found:
        graph.setdefault(imp.source, set()).add(imp.target)
        graph.setdefault(imp.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def visit(v: str) -> None:   # recursion depth is bounded by the longest import chain
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while not group or group[-1] != v:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(groups)


# -- the contract on privformers ------------------------------------------------------------------------------
def test_every_package_and_top_level_module_has_a_layer():
    names = {component(m) for m in modules(REPO) if m != PACKAGE}
    listed = [name for layer in LAYERS for name in layer]
    assert len(listed) == len(set(listed)), "a name is listed twice"
    assert sorted(names - set(listed)) == [], "add these to LAYERS (and to the docstring)"
    assert sorted(set(listed) - names) == [], "LAYERS names what is not there"


def test_no_module_imports_from_above_its_layer_or_from_a_sibling_package():
    assert layer_violations(imports(REPO)) == []


def test_no_import_cycles_between_modules():
    assert cycles(imports(REPO)) == []


def test_each_allowed_upward_import_is_still_there():
    found = {(imp.source, imp.target) for imp in imports(REPO)}
    assert sorted(set(ALLOWED) - found) == [], "gone: remove it from ALLOWED"
    unexcused = layer_violations(imports(REPO), allowed=())
    for source, target in ALLOWED:   # and each one is an upward import indeed, or it needs no entry
        assert any(f" {source} imports {target} " in line for line in unexcused), (source, target)


# -- negative controls: the checks see a real violation -----------------------------------------------------
@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """The package's Python files, copied (the controls plant their violations there, never in the source)."""
    shutil.copytree(REPO / PACKAGE, tmp_path / PACKAGE, ignore=lambda d, names: [
        n for n in names if not n.endswith(".py") and not (Path(d) / n).is_dir()])
    return tmp_path


def plant(path: Path, code: str) -> None:
    path.write_text(path.read_text() + "\n\n" + code)


def test_an_upward_import_inside_a_function_is_reported(tree_copy: Path):
    assert layer_violations(imports(tree_copy)) == []
    ring = tree_copy / PACKAGE / "mpc" / "ring.py"
    plant(ring, "def planted():\n    from privformers.generation.api import generate\n\n    return generate\n")
    found = layer_violations(imports(tree_copy))
    print("\n".join(found))
    line = len(ring.read_text().splitlines()) - 2
    assert found == [f"privformers/mpc/ring.py:{line}: privformers.mpc.ring imports privformers.generation.api "
                     "(layer mpc is below generation: an upward import)"]


def test_an_import_between_sibling_packages_is_reported(tree_copy: Path):
    plant(tree_copy / PACKAGE / "dp" / "noise.py", "import privformers.generation.many  # noqa\n")
    found = layer_violations(imports(tree_copy))
    print("\n".join(found))
    assert len(found) == 1 and "dp and generation share a layer" in found[0]


def test_a_cycle_through_a_lazy_export_is_reported(tree_copy: Path):
    """``approx.convert`` imports ``approx.recipes``; a function in recipes importing ``approximate`` from the
    package (a lazy export of convert) closes a cycle."""
    assert cycles(imports(tree_copy)) == []
    plant(tree_copy / PACKAGE / "approx" / "recipes.py",
          "def planted():\n    from privformers.approx import approximate\n\n    return approximate\n")
    found = cycles(imports(tree_copy))
    print(found)
    assert found == [["privformers.approx.convert", "privformers.approx.recipes"]]


def test_relative_type_checking_and_import_module_imports_count(tmp_path: Path):
    """A synthetic package: each kind of import written once, each one upward."""
    files = {
        "__init__.py": "",
        "low/__init__.py": "",
        "low/a.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from ..high import b\n",
        "low/c.py": "def f():\n    from ..high.b import thing\n\n    return thing\n",
        "low/d.py": "import importlib\n\nimportlib.import_module('privformers.high.b')\n",
        "high/__init__.py": "",
        "high/b.py": "from privformers.low import a\n\nthing = a\n",
    }
    for name, text in files.items():
        (tmp_path / PACKAGE / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / PACKAGE / name).write_text(text)
    found = imports(tmp_path)
    up = layer_violations(found, [("high",), ("low",)])
    print("\n".join(up))
    assert sorted(line.split(":")[0] for line in up) == [f"privformers/low/{m}.py" for m in "acd"]
    assert cycles(found) == [["privformers.high.b", "privformers.low.a"]]
