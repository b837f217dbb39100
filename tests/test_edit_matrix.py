"""No editor edit is ever lost and `verify` never cries wolf, whatever follows the edit: a plain
rerun, a forced rerun, a change of the programme's themes, or a new correction."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.archive import verify
from pipeline.cli import main
from pipeline.store import Names, Store

from .test_editor_files import LATER, series  # noqa: F401 - the fixture

EDITS = {
    Names.TRANSCRIPT_TXT: ("gaz à effet de serre", "gaz à effet de serre (GES)"),
    Names.SYNTHESIS: ('status: "draft"', 'status: "review"'),
}
FOLLOW_UPS = ["rerun", "--force", "themes changed", "corrected again"]


def follow_up(kind: str, recordings: Path, store: Store) -> list[str]:
    if kind == "--force":
        return ["--force"]
    if kind == "themes changed":
        themes = recordings / "themes.toml"
        themes.write_text(
            re.sub(r'(?m)^label = "Sobriété"', 'label = "Sobriété et frugalité"', themes.read_text(encoding="utf-8")), encoding="utf-8"
        )
    if kind == "corrected again":
        path = store.path("s-1", Names.TRANSCRIPT_TXT)
        path.write_text(path.read_text(encoding="utf-8").replace("Euh bonjour", "Bonjour", 1), encoding="utf-8")
    return []


@pytest.mark.parametrize("name", list(EDITS))
@pytest.mark.parametrize("kind", FOLLOW_UPS)
def test_an_edit_survives_what_follows_and_verify_stays_quiet(series: tuple[Path, Store], name: str, kind: str):  # noqa: F811
    recordings, store = series
    arguments = ["--recordings", str(recordings), "--outputs", str(store.root), *LATER, "--only", "publish", "--only", "archive"]
    assert main(["run", *arguments]) == 0
    path = store.path("s-1", name)
    before, after = EDITS[name]
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace(before, after, 1), encoding="utf-8")
    edited = path.read_text(encoding="utf-8")
    assert edited != original
    assert [f for f in verify(store) if f.damage] == [], "a pending edit is not damage"
    assert main(["run", *arguments]) == 0
    extra = follow_up(kind, recordings, store)
    assert main(["run", *arguments, *extra]) == 0
    now = path.read_text(encoding="utf-8")
    if kind == "corrected again" and name == Names.TRANSCRIPT_TXT:
        assert after in now and "Euh bonjour" not in now
    else:
        assert now == edited, "the editor's file is never rewritten"
    assert verify(store) == [], "applied, recorded, and nothing else reported"
    assert (
        after.split(": ")[-1] in (store.root / "site" / "sessions" / "s-1" / "index.html").read_text(encoding="utf-8")
        or name == Names.SYNTHESIS
    )
