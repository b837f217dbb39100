"""The store is the only module that knows the ``outputs/`` layout, and nothing imports upward."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .conftest import ROOT

OUTPUT_NAME = re.compile(
    r"(transcript|keywords|synthesis)(\.draft)?\.(json|txt|srt|vtt|md)\b|state\.json|\.pipeline\.lock|\.last-run\.json|series-state"
)


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


FLOORS = {
    "errors": 1,
    "torchfile": 1,
    "text": 1,
    "transcript": 1,
    "catalogue": 2,
    "media": 2,
    "models": 2,
    "subtitles": 2,
    "sentences": 2,
    "evaluation": 2,
    "diarization_metrics": 2,
    "corrections": 2,
    "curation": 2,
    "campplus": 2,
    "voices": 2,
    "store": 3,
    "transcribe": 3,
    "keywords": 3,
    "guard": 3,
    "vocabulary": 3,
    "speakers": 3,
    "voiceprints": 3,
    "review": 3,
    "glossary": 4,
    "compose": 4,
    "synthesis": 4,
    "settings": 4,
    "site": 5,
    "archive": 5,
    "plan": 5,
    "runner": 6,
    "check": 6,
    "cli": 7,
    "__main__": 8,
    "__init__": 0,
}


def test_nothing_imports_upward():
    problems = []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        relative = path.relative_to(ROOT / "pipeline")
        module = relative.parts[0].removesuffix(".py")
        floor = FLOORS[module]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                target = (node.module or "").split(".")[0] if node.level == (2 if len(relative.parts) > 1 else 1) else ""
                names = [target] if target else [a.name for a in node.names]
                for name in names:
                    if name in FLOORS and name != module and FLOORS[name] > floor:
                        problems.append(f"{relative}: imports {name} (floor {FLOORS[name]} above {floor})")
    assert problems == []
