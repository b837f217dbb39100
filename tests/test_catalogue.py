from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.catalogue import load_catalogue, load_sessions, load_themes, slugify
from pipeline.errors import CatalogueError

from .conftest import ROOT


def test_bundled_catalogues_load():
    catalogue = load_catalogue(ROOT / "recordings")
    session = catalogue.session_for(ROOT / "recordings" / "2022-03-17-sobriete.mp4")
    assert session.id == "2022-03-17-sobriete" and session.number == 2 and session.date == "2022-03-17"
    assert [s.name for s in session.speakers] == ["Animateur", "Julien Moreau"]
    assert {t.id for t in catalogue.themes if t.kind == "theme"} == {
        "sobriete",
        "instrumentation-mesure",
        "gouvernance-publique",
        "ecosysteme-entreprises",
        "vulnerabilites-numeriques",
        "societes-urbaines",
    }
    assert [t.label for t in catalogue.themes if t.kind == "axis"] == [
        "Sobriété (axe)",
        "Inclusion",
        "Risque",
        "Capacitation",
        "Gouvernance (axe)",
    ]
    assert all(t.description and t.terms for t in catalogue.themes)
    assert set(session.themes) <= {t.id for t in catalogue.themes}


def test_recording_without_entry_gets_a_safe_id_from_its_name():
    catalogue = load_catalogue(ROOT / "recordings")
    session = catalogue.session_for(Path("Séance n°3 « Données » (final).MP4"))
    assert session.id == "seance-n3-donnees-final"
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("«»") == "session"


GOOD = """[[session]]
id = "s-1"
title = "Une"
recording = "a.mp4"
"""


@pytest.mark.parametrize(
    ("extra", "line", "field"),
    [
        ('date = "17 mars"\n', 5, "date"),
        ('number = "deux"\n', 5, "number"),
        ("themes = 'sobriete'\n", 5, "themes"),
        ('speakers = [{ role = "x" }]\n', 5, "speakers"),
        ('replay_url = "javascript:alert(1)"\n', 5, "replay_url"),
        ('titre = "faute de frappe"\n', 5, "titre"),
    ],
)
def test_malformed_session_names_line_and_field(tmp_path: Path, extra: str, line: int, field: str):
    path = tmp_path / "sessions.toml"
    path.write_text(GOOD + extra, encoding="utf-8")
    with pytest.raises(CatalogueError) as error:
        load_sessions(path)
    message = error.value.one_line()
    assert message.startswith(f"{path}: line {line}: session #1, field '{field}'"), message


def test_second_entry_errors_point_at_its_own_lines(tmp_path: Path):
    path = tmp_path / "sessions.toml"
    path.write_text(GOOD + "\n" + GOOD.replace("s-1", "s-2").replace("a.mp4", "../b.mp4"), encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"line 9: session #2, field 'recording'.*not a path"):
        load_sessions(path)


def test_duplicate_id_is_refused(tmp_path: Path):
    path = tmp_path / "sessions.toml"
    path.write_text(GOOD + "\n" + GOOD.replace("a.mp4", "b.mp4"), encoding="utf-8")
    with pytest.raises(CatalogueError, match="line 7: session #2, field 'id': 's-1' is already used by session #1"):
        load_sessions(path)


def test_toml_syntax_error_names_the_line(tmp_path: Path):
    path = tmp_path / "sessions.toml"
    path.write_text(GOOD + 'title = "deux fois\n', encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"invalid TOML: .*line 5"):
        load_sessions(path)


def test_broken_theme_file_names_line_and_field(tmp_path: Path):
    path = tmp_path / "themes.toml"
    path.write_text('[[theme]]\nid = "sobriete"\nlabel = "Sobriété"\nterms = "énergie"\n', encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"line 4: theme #1, field 'terms': must be a list"):
        load_themes(path)
