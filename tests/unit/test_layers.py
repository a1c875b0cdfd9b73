"""The package's layers: imports between top-level parts of ``receipt_lightning`` point down
only, and they form no cycle. Read with ``ast`` (nothing is imported), so a lazy import inside a
function counts as much as one at the top of a module; ``if TYPE_CHECKING:`` imports too.

Bottom to top; a part may import its own layer's peers (no cycle allowed) and any layer below.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "receipt_lightning"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE

LAYERS: list[set[str]] = [
    {"errors", "runs", "run_checkpoint", "receipt", "configs"},
    {"fields"},
    {"ocr"},
    {"data"},
    {"model"},
    {"aws"},
    {"training"},
    {"jobs"},
    {"sweeps"},
    {"export"},
    {"predict", "predict_images", "draw"},
    {"train", "warm_start", "serve"},
    {"commands", "scripts"},
    {"cli", "worker"},
]
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}


def part_of(module: str) -> str | None:
    """``receipt_lightning.training.spot.callback`` -> ``training``; None outside the package
    or for the package itself."""
    names = module.split(".")
    return names[1] if names[0] == PACKAGE and len(names) > 1 else None


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    names = list(rel.parts)
    return ".".join(names[:-1] if names[-1] == "__init__" else names)


def imported_modules(path: Path) -> list[tuple[str, int]]:
    """Every module ``path`` imports, absolute, with the line of the import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            # `from receipt_lightning import train`: the names may be parts themselves
            if target == PACKAGE:
                found += [(f"{PACKAGE}.{alias.name}", node.lineno) for alias in node.names]
    return found


def import_graph() -> dict[tuple[str, str], list[str]]:
    """(importing part, imported part) -> where, as ``file:line imports module``."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        src = part_of(module_name(path))
        if src is None:  # receipt_lightning/__init__.py
            continue
        for target, line in imported_modules(path):
            dst = part_of(target)
            if dst is not None and dst != src:
                where = f"{path.relative_to(ROOT.parent)}:{line} imports {target}"
                edges.setdefault((src, dst), []).append(where)
    return edges


def test_every_part_has_a_layer():
    parts = {p.stem for p in ROOT.glob("*.py")} | {
        p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()
    }
    parts.discard("__init__")
    assert parts <= set(RANK), f"parts with no layer in LAYERS: {sorted(parts - set(RANK))}"


def test_imports_point_down_the_layers():
    upward = [
        f"{src} (layer {RANK[src]}) imports {dst} (layer {RANK[dst]}): {where[0]}"
        for (src, dst), where in sorted(import_graph().items())
        if RANK.get(dst, -1) > RANK.get(src, -1)
    ]
    assert not upward, "imports that point up the layers:\n" + "\n".join(upward)


def test_no_import_cycle_between_parts():
    edges = import_graph()
    graph: dict[str, set[str]] = {}
    for src, dst in edges:
        graph.setdefault(src, set()).add(dst)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            hops = [f"{a} -> {b} ({edges[(a, b)][0]})" for a, b in zip(cycle, cycle[1:], strict=False)]
            raise AssertionError("import cycle between parts:\n" + "\n".join(hops))


def test_the_walker_sees_lazy_and_relative_imports(tmp_path):
    # A test that cannot fail is a defect: check the walker on a known module.
    found = dict(imported_modules(ROOT / "train.py"))
    assert "receipt_lightning.errors" in found
    assert any(m.startswith("receipt_lightning.training.") for m in found)  # imported inside build_graph
