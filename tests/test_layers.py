"""The layers hold in the code (docs/explanation/architecture.md): every module imports only modules of
its own layer or of layers below it, at module level, under ``TYPE_CHECKING`` and inside functions alike.

``LAYERS`` lists the layers from the bottom up, each with the modules (package prefixes) it holds; a
module belongs to the layer of its longest matching prefix. ``neuronsim`` itself (the package's
``__init__``, the public surface) is the top. ``from neuronsim import nrt`` names the module
``neuronsim.nrt``, not the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "neuronsim"

# bottom first; a layer may import its own modules and those of every layer listed before it
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("neuronsim.units", "neuronsim.idlist", "neuronsim.text", "neuronsim.errors", "neuronsim.nrt",
              "neuronsim.nrt_2_28", "neuronsim.yaml_loader", "neuronsim.gctune", "neuronsim.version",
              "neuronsim.extras")),
    ("topology", ("neuronsim.topology",)),
    ("hw", ("neuronsim.hw",)),
    ("sim", ("neuronsim.sim",)),
    ("collectives", ("neuronsim.collectives",)),
    ("runtime", ("neuronsim.runtime",)),
    # runtime/nrta.py and runtime/nrta_2_28.py re-export the mirror classes at their former paths
    ("api", ("neuronsim.api", "neuronsim.runtime.nrta", "neuronsim.runtime.nrta_2_28", "neuronsim.facade",
             "neuronsim.threads")),
    ("simulator", ("neuronsim.simulator", "neuronsim.invariants")),
    ("trace", ("neuronsim.trace",)),
    ("workload", ("neuronsim.workload",)),
    ("sweep", ("neuronsim.sweep",)),
    ("tools", ("neuronsim.collectives.nccom", "neuronsim.capi", "neuronsim.testing", "neuronsim.cli",
               "neuronsim.__main__", "neuronsim")),
]
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}

# imports that cross a layer upwards, each to be removed by the move of #15 (the test fails when one of
# them is gone, so this list only shrinks): none is left
KNOWN: set[tuple[str, str]] = set()


def module_of(path: Path) -> str:
    """The dotted module name of ``path`` (relative to the project's root)."""
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    best, best_len = "", -1
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = name, len(prefix)
    if not best:
        raise AssertionError(f"module {module} is in no layer: add it to LAYERS in tests/test_layers.py")
    return best


def _modules() -> dict[str, Path]:
    return {module_of(p.relative_to(PACKAGE.parent)): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(module: str, path: Path, known: set[str]) -> list[tuple[str, int, str]]:
    """``(imported module, line, where)`` of every neuronsim import in ``path``; ``where`` is ``module``,
    ``type-checking`` or ``function``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    where[id(inner)] = "type-checking"
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    where[id(inner)] = "function"
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # "from neuronsim import nrt" imports the module neuronsim.nrt
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in known else base)
        for target in targets:
            if target == "neuronsim" or target.startswith("neuronsim."):
                found.append((target, node.lineno, where.get(id(node), "module")))
    return found


def _violations() -> dict[tuple[str, str], str]:
    modules = _modules()
    known = set(modules)
    found: dict[tuple[str, str], str] = {}
    for module, path in modules.items():
        mine = RANK[layer_of(module)]
        for target, line, where in imports_of(module, path, known):
            theirs = RANK[layer_of(target)]
            if theirs > mine:
                found.setdefault((module, target), f"{path.relative_to(PACKAGE.parent)}:{line}: {module} "
                                 f"({layer_of(module)}) imports {target} ({layer_of(target)}) [{where}]")
    return found


def test_every_module_is_in_a_layer() -> None:
    for module in _modules():
        layer_of(module)


def test_no_module_imports_a_higher_layer() -> None:
    found = _violations()
    new = [text for key, text in sorted(found.items()) if key not in KNOWN]
    assert not new, "imports of a higher layer:\n" + "\n".join(new)


def test_the_known_exceptions_still_exist() -> None:
    gone = sorted(KNOWN - set(_violations()))
    assert not gone, f"these imports no longer cross a layer upwards: remove them from KNOWN: {gone}"


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    source = ("from __future__ import annotations\nfrom typing import TYPE_CHECKING\n"
              "from neuronsim import nrt\nimport neuronsim.units\nfrom . import neff\n"
              "if TYPE_CHECKING:\n    from neuronsim.simulator import Simulator\n"
              "def f():\n    from neuronsim.workload.runner import run_workload\n")
    path = tmp_path / "m.py"
    path.write_text(source, encoding="utf-8")
    got = imports_of("neuronsim.runtime.m", path, {"neuronsim.nrt", "neuronsim.runtime.neff"})
    assert got == [("neuronsim.nrt", 3, "module"), ("neuronsim.units", 4, "module"),
                   ("neuronsim.runtime.neff", 5, "module"), ("neuronsim.simulator", 7, "type-checking"),
                   ("neuronsim.workload.runner", 9, "function")]
    assert [layer_of(m) for m, *_ in got] == ["base", "base", "runtime", "simulator", "workload"]


def _layers_in_order(calls: list[tuple[str, str]]) -> list[str]:
    root = PACKAGE.parent
    layers: list[str] = []
    for filename, _ in calls:
        layer = layer_of(module_of(Path(filename).resolve().relative_to(root)))
        if not layers or layers[-1] != layer:
            layers.append(layer)
    return layers


def test_a_scheduled_allreduce_leaves_the_runtime_once_for_collectives_and_hw() -> None:
    """A 2-rank ``nrta_cc_schedule`` all-reduce (benchmarks/request_path.py): from the second rank's
    schedule call, once the request has left the runtime for the collectives it stays in the collectives
    and the layers below them (hw, topology; ``sim`` is the caller's ``run_until_idle``) until its queues
    complete it in the runtime."""
    import sys

    sys.path.insert(0, str(PACKAGE.parent / "benchmarks"))
    try:
        from request_path import allreduce_path
    finally:
        sys.path.remove(str(PACKAGE.parent / "benchmarks"))
    layers = _layers_in_order(allreduce_path().calls)
    last_call = len(layers) - 1 - layers[::-1].index("api")
    after = layers[last_call:]
    leave = after.index("collectives")
    assert after[:leave] == ["api", "runtime", "hw", "runtime"]
    middle = after[leave:]
    end = middle.index("runtime")
    assert set(middle[:end]) <= {"collectives", "hw", "topology", "base", "sim", "simulator"}, middle
    assert set(middle[end:]) <= {"runtime", "hw"}, middle[end:]
