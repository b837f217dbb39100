"""The store is the only module that knows the ``outputs/`` layout, and nothing imports upward."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pipeline.store import Names

from .conftest import ROOT


def output_names() -> list[str]:
    """Every file and folder name of the ``outputs/`` layout that ``Names`` holds."""
    values: list[str] = []
    for key, value in vars(Names).items():
        if key.isupper() and isinstance(value, str) and ("." in value or value.startswith(".")):
            values.append(value)
    return values


OUTPUT_NAME = re.compile("|".join(rf"(?<![\w-]){re.escape(name)}(?![\w])" for name in sorted(output_names(), key=len, reverse=True)))


def code_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module, docstrings excepted."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append((node.lineno, node.value))
    # attribute docstrings (a string statement after a field)
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            found = [(line, text) for line, text in found if line != node.value.lineno]
    return found


def test_no_output_file_name_is_spelled_outside_the_store():
    offenders = []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        if path.name == "store.py":
            continue
        offenders += [f"{path.relative_to(ROOT)}:{line}: {text!r}" for line, text in code_strings(path) if OUTPUT_NAME.search(text)]
    for path in sorted((ROOT / "pipeline" / "site" / "templates").iterdir()):
        offenders += [f"{path.relative_to(ROOT)}: {m.group()}" for m in OUTPUT_NAME.finditer(path.read_text(encoding="utf-8"))]
    assert offenders == [], "use pipeline.store.Names instead:\n" + "\n".join(offenders)


def units() -> dict[str, Path]:
    """The package's rooms: each module of ``pipeline/`` and each subpackage (as one)."""
    found = {}
    for path in sorted((ROOT / "pipeline").iterdir()):
        if path.suffix == ".py" and path.stem not in ("__init__", "__main__"):
            found[path.stem] = path
        elif path.is_dir() and (path / "__init__.py").exists():
            found[path.name] = path
    return found


def imports_of(unit: str, where: Path) -> set[str]:
    """The other rooms a room imports, at the top or inside a function (relative imports,
    and absolute ones of ``pipeline.``)."""
    rooms = units()
    found: set[str] = set()
    for path in [where] if where.is_file() else sorted(where.rglob("*.py")):
        depth = len(path.relative_to(ROOT / "pipeline").parts)  # 1 for a module, 2 inside a subpackage
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level:
                if node.level == depth:  # from the package's top: ``from .x import`` or ``from ..x import``
                    names = [(node.module or "").split(".")[0]] if node.module else [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipeline."):
                names = [node.module.split(".")[1]]  # type: ignore[union-attr]
            elif isinstance(node, ast.Import):
                names = [a.name.split(".")[1] for a in node.names if a.name.startswith("pipeline.")]
            found.update(n for n in names if n in rooms and n != unit)
    return found


def graph() -> dict[str, set[str]]:
    return {unit: imports_of(unit, path) for unit, path in units().items()}


def test_no_room_imports_another_that_imports_it_back():
    """Floors are computed from the import graph, so any circle is refused (a room that
    imports one above it closes a circle with the way down)."""
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(unit: str) -> None:
        state[unit] = 1
        stack.append(unit)
        for other in sorted(edges[unit]):
            if state.get(other) == 1:
                circles.append([*stack[stack.index(other) :], other])
            elif other not in state:
                visit(other)
        stack.pop()
        state[unit] = 2

    for unit in sorted(edges):
        if unit not in state:
            visit(unit)
    assert circles == [], "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def floors() -> dict[str, int]:
    """Each room's floor: one above the highest room it imports (0 for a room that imports
    none), from the import graph."""
    edges = graph()
    result: dict[str, int] = {}

    def floor(unit: str) -> int:
        if unit not in result:
            result[unit] = 0  # a circle is refused above; this only stops recursion
            result[unit] = 1 + max((floor(other) for other in edges[unit]), default=-1)
        return result[unit]

    for unit in edges:
        floor(unit)
    return result


def test_the_floors_follow_the_design():
    """The CLI on top; the runner below it, over the planner and the stages; the store below
    every stage; the data types at the bottom."""
    level = floors()
    assert level["cli"] == max(level.values())
    assert level["cli"] > level["runner"] > level["steps"] and level["cli"] > level["plan"] > level["steps"]
    assert level["steps"] > max(level[m] for m in ("store", "transcribe", "speakers", "keywords", "synthesis", "archive", "site"))
    assert level["store"] < level["steps"] and level["store"] < level["archive"]
    assert level["transcript"] <= 1 and level["errors"] == 0 and level["text"] == 0


STAGE_ROOMS = (
    "transcribe",
    "guard",
    "speakers",
    "voices",
    "campplus",
    "voice_graphs",
    "vectors",
    "compose",
    "corrections",
    "vocabulary",
    "keywords",
    "synthesis",
    "review",
    "sentences",
    "subtitles",
    "transcript",
    "steps",
)
"""Rooms that compute: they take data and return data, and never write a file (the store
does, atomically; ``pipeline/steps`` hands it what to write)."""
WRITES = re.compile(
    r"\.(write_text|write_bytes|mkdir|unlink|rmdir|touch)\(|\b(atomic_write|shutil\.(copy\w*|move|rmtree)|os\.(replace|rename|remove|unlink|makedirs))\("
)


def test_rooms_that_compute_never_write_a_file():
    offenders = []
    for unit in STAGE_ROOMS:
        where = units()[unit]
        for path in [where] if where.is_file() else sorted(where.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    text = ast.unparse(node.func)
                    opened = text == "open" and any(isinstance(a, ast.Constant) and set(str(a.value)) & set("wax") for a in node.args[1:2])
                    if WRITES.search(text + "(") or opened:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text}")
    assert offenders == [], "a computing room writes a file:\n" + "\n".join(offenders)


def test_every_output_name_is_known_to_the_store():
    names = output_names()
    for expected in ("asr.json", "transcript.txt", "keywords.md", "synthesis.md", "state.json", ".written", ".series-state.json"):
        assert expected in names
