"""The import structure: packages and modules form layers that only import downward, with no
circles.

Each file of src/t2igan (and benchmarks/) is read with `ast`; its imports of t2igan become edges
between "rooms": a top-level module (config, runs...) or a package (data, models...). A room may
import only rooms on a lower layer; inside a package, modules must not import each other in a
circle.
"""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src"

# Bottom to top. Rooms on one line are peers and must not import each other.
LAYERS = [
    {"errors"},
    {"files", "interrupts", "runtime", "settings", "pretrained"},
    {"images", "losses", "augment", "prompts"},
    {"text"},
    {"data"},
    {"config"},
    {"runs"},
    {"models", "metrics"},
    {"sampling"},
    {"evaluate", "api"},
    {"training"},
    {"demo", "serve"},
    {"cli"},
    {"__main__"},
    {"benchmarks"},
]
LAYER = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}


def modules() -> dict[str, Path]:
    found = {}
    for path in SOURCE.rglob("*.py"):
        name = ".".join(path.relative_to(SOURCE).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    for path in (ROOT / "benchmarks").glob("*.py"):
        found[f"benchmarks.{path.stem}"] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The t2igan modules a file imports (a name imported from a package counts as its module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("t2igan"):
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & known.keys()
            found |= submodules
            if len(submodules) < len(node.names):
                found.add(node.module)
    return found


def room(module: str) -> str:
    parts = module.split(".")
    return parts[0] if parts[0] == "benchmarks" else (parts[1] if len(parts) > 1 else "t2igan")


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def test_every_room_has_a_layer() -> None:
    rooms = {room(m) for m in modules()} - {"t2igan"}
    assert rooms <= LAYER.keys(), f"add to LAYERS: {sorted(rooms - LAYER.keys())}"


def test_no_module_imports_in_a_circle() -> None:
    assert cycles(graph()) == []


def test_rooms_import_only_from_lower_layers() -> None:
    upward = defaultdict(set)
    for module, targets in graph().items():
        for target in targets:
            a, b = room(module), room(target)
            # the package's __init__ re-exports the API (t2igan.load) and sits above it
            if a != b and "t2igan" not in (a, b) and LAYER[b] >= LAYER[a]:
                upward[module].add(target)
    assert dict(upward) == {}


def test_the_checker_finds_a_circle() -> None:  # the tool itself, on a made-up graph
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
