"""The package's folders are its layers: data -> analytics -> store -> present, with io and
the step registry below them all and the command above; no module imports a higher layer,
and no modules import each other in a loop."""

import ast
from pathlib import Path

from conftest import SRC

PACKAGE = SRC / "corrflow"
RANK = {"io": 0, "steps": 0, "_api": 0, "data": 1, "analytics": 2, "store": 3, "present": 4}
TOP = {"cli", "workflow", "__main__", "__init__"}  # the command and the rule adapter: above every layer
# the config package: reading the schema (its one home) and the section dataclasses the
# steps take are below every layer; resolving a workflow's config (checks against the
# sources, calendars and the all-pairs plan) above them
CONFIG_BELOW = {
    "corrflow.config.schema",
    "corrflow.config.errors",
    "corrflow.config.guard",
    "corrflow.config.sections",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """corrflow modules ``path`` imports (at any depth of the file: lazy imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("corrflow"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("corrflow")}
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {m for m in found if m in modules}


def layer(module: str) -> str:
    if module.startswith("corrflow.config"):
        return "io" if module in CONFIG_BELOW else "cli"
    return module.split(".")[1] if "." in module else "__init__"


def test_the_folders_are_the_layers():
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == {
        "data",
        "analytics",
        "store",
        "present",
        "config",
    }
    top_modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert top_modules <= set(RANK) | TOP, top_modules - set(RANK) - TOP


def test_no_module_imports_a_higher_layer():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        if layer(module) in TOP:
            continue
        for target in imports(path):
            if layer(target) in TOP or RANK[layer(target)] > RANK[layer(module)]:
                upward.append(f"{module} imports {target}")
    assert upward == []


def test_no_import_cycles():
    graph = {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}
    # a package's __init__ is a namespace here, not a dependency of its members
    graph = {m: {t for t in targets if t != m and not m.startswith(t + ".")} for m, targets in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(module, stack):
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target, [*stack, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_each_package_names_its_public_api_and_each_name_exists():
    import importlib

    for init in sorted(PACKAGE.rglob("__init__.py")):
        package = importlib.import_module(module_name(init))
        if package.__name__ in ("corrflow.data.sources", "corrflow.present.figures"):
            continue  # registries: their members are the API
        assert package.__doc__ and package.__all__, package.__name__
        # a public name that is also a submodule's becomes the module once that is imported
        submodules = {p.stem for p in init.parent.glob("*.py")} | {
            p.name for p in init.parent.iterdir() if p.is_dir()
        }
        assert not set(package.__all__) & submodules, (package.__name__, set(package.__all__) & submodules)
        for name in package.__all__:
            assert getattr(package, name) is not None, (package.__name__, name)
