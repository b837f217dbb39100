from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from pipeline import keywords as keywords_io
from pipeline import transcript as transcript_io
from pipeline.catalogue import Catalogue, Session, Speaker
from pipeline.keywords import ThemeModel, analyse, extract_keywords, term_index
from pipeline.plan import Project
from pipeline.runner import execute
from pipeline.sentences import sentences_of
from pipeline.settings import Settings
from pipeline.store import Store, atomic_write
from pipeline.synthesis import french_typography, synthesize

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = FIXTURES / "synthesis-expected.md"
SESSION = Session(
    id="fixture-sobriete-gouvernance",
    title="Sobriété numérique et gouvernance des données",
    recording="fixture.mp4",
    number=3,
    date="2022-04-21",
    themes=("sobriete", "gouvernance-publique"),
    speakers=(Speaker("Camille Durand", "Modératrice"), Speaker("Inès Martin", "Chercheuse")),
    replay_url="https://replay.example.org/seance-3.mp4",
)


@pytest.fixture(scope="module")
def parts(nlp, themes):
    transcript = transcript_io.load(FIXTURES / "transcript-sobriete-gouvernance.json")
    found = extract_keywords(
        transcript, analyse(transcript, nlp, terms=term_index(themes)), nlp, ThemeModel.build(nlp, themes), SESSION.title
    )
    return transcript, found, themes


def test_draft_matches_the_golden_file(parts):
    transcript, found, themes = parts
    markdown = synthesize(transcript, found, SESSION, themes, "t" * 64, "k" * 64).markdown
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(markdown, encoding="utf-8")
    assert markdown == GOLDEN.read_text(encoding="utf-8"), "draft changed: review it, then rerun with UPDATE_GOLDEN=1"


def test_front_matter_and_sections(parts):
    transcript, found, themes = parts
    markdown = synthesize(transcript, found, SESSION, themes, "t" * 64, "k" * 64).markdown
    front = yaml.safe_load(markdown.split("---\n")[1])
    assert front["status"] == "draft" and front["session"] == 3 and front["date"] == "2022-04-21"
    assert front["transcript_sha256"] == "t" * 64 and front["speakers"][0] == {"name": "Camille Durand", "role": "Modératrice"}
    assert {"sobriete", "gouvernance-publique"} <= set(front["themes"])
    for heading in ("En bref", "Thèmes abordés", "Chapitres", "Citations", "Intervenants", "Ressources"):
        assert f"\n## {heading}\n" in markdown
    brief = markdown.split("## En bref\n\n")[1].split("\n\n")[0].splitlines()
    assert 3 <= len(brief) <= 6


def test_every_quoted_sentence_is_a_timestamped_transcript_sentence(parts):
    transcript, found, themes = parts
    markdown = synthesize(transcript, found, SESSION, themes).markdown
    units: dict[int, list[str]] = {}
    for unit in sentences_of(transcript):
        units.setdefault(int(unit.start), []).append(unit.text)
    quoted = re.findall(r"\[\d\d:\d\d\]\(#t=(\d+)\)\s*(?:« )?([^\n»]+?)(?: »)?$", markdown, flags=re.M)
    quoted += [(t, text) for text, t in re.findall(r"^> « (.+?) » — \[\d\d:\d\d\]\(#t=(\d+)\)", markdown, flags=re.M)]
    sentences = [(t, text) for t, text in quoted if len(text.split()) > 4]
    assert len(sentences) >= 6

    def plain(text: str) -> str:
        return re.sub(r"\s+", " ", text.replace("\\", "").replace("\u202f", " ").replace("\u00a0", " ")).strip()

    for start, text in sentences:
        # the quoted sentence is the transcript sentence that starts at its stamp
        assert plain(text) in [plain(u) for u in units.get(int(start), [])], (start, text)


def test_french_typography():
    assert french_typography("Pourquoi ? Parce que : « voilà » !") == "Pourquoi\u202f? Parce que\u00a0: «\u00a0voilà\u00a0»\u202f!"
    assert french_typography("Vraiment?") == "Vraiment\u202f?"
    assert french_typography("à 12:30") == "à 12:30"


def test_markup_in_the_transcript_stays_text(parts):
    from dataclasses import replace

    transcript, found, themes = parts
    evil = replace(SESSION, title="<script>alert(1)</script> *gras*", speakers=(Speaker("<img src=x onerror=alert(1)>", ""),))
    markdown = synthesize(transcript, found, evil, themes).markdown
    body = markdown.split("---\n", 2)[2]
    assert "<script>" not in body and "\\<script\\>" in body and "\\<img" in body and "\\*gras\\*" in body


def test_an_edited_synthesis_is_kept_and_the_new_draft_goes_beside_it(tmp_path: Path, parts):
    transcript, found, themes = parts
    store = Store(tmp_path)
    atomic_write(store.path(SESSION.id, "transcript.json"), (FIXTURES / "transcript-sobriete-gouvernance.json").read_bytes())
    atomic_write(store.path(SESSION.id, "keywords.json"), keywords_io.dumps(found).encode())
    project = Project(tmp_path, Catalogue(sessions=(SESSION,), themes=themes), Settings(), store)
    first = execute(project, ("synthesis",))
    assert [r.status for r in first.results] == ["drafted"]
    synthesis = store.path(SESSION.id, "synthesis.md")
    edited = synthesis.read_text(encoding="utf-8").replace('status: "draft"', 'status: "reviewed"') + "\nNote de l'éditrice.\n"
    synthesis.write_text(edited, encoding="utf-8")
    again = execute(project, ("synthesis",), force=True)
    assert synthesis.read_text(encoding="utf-8") == edited
    assert again.results[0].kept_edits == (store.path(SESSION.id, "synthesis.draft.md"),)
    assert 'status: "draft"' in store.path(SESSION.id, "synthesis.draft.md").read_text(encoding="utf-8")


def test_draft_makes_the_choices_an_editor_would(parts):
    """Expectations written by hand from reading the fixture, not from the code's output:
    the conclusion that joins both themes is in « En bref », greetings and thanks never are,
    the definition of sobriety is in « En bref » or quoted under its theme, quotes do not repeat « En bref »."""
    transcript, found, themes = parts
    markdown = synthesize(transcript, found, SESSION, themes).markdown
    brief = markdown.split("## En bref\n\n")[1].split("\n\n")[0]
    assert "vont ensemble" in brief
    assert "bonjour" not in brief.lower() and "merci" not in brief.lower()
    sobriety = markdown.split("### Sobriété")[1].split("\n### ")[0]
    assert "dimensionner les infrastructures au juste besoin" in sobriety + brief, "the definition, in « En bref » or under its theme"
    quotes = markdown.split("## Citations\n")[1].split("\n## ")[0]
    for line in brief.splitlines():
        sentence = line.split(") ", 1)[1][:40]
        assert sentence not in quotes


def test_a_session_carries_at_most_three_theme_tags_the_catalogues_first(parts):
    from dataclasses import replace

    from pipeline.keywords import ThemeKeywords

    transcript, found, themes = parts
    everywhere = tuple(ThemeKeywords(t.id, t.label, (), 0.5 + i / 100, 0.5 + i / 100) for i, t in enumerate(themes) if t.kind == "theme")
    session = replace(SESSION, themes=("societes-urbaines",))
    front = yaml.safe_load(synthesize(transcript, replace(found, themes=everywhere), session, themes).markdown.split("---")[1])
    assert front["themes"][0] == "societes-urbaines" and len(front["themes"]) == 3
    assert front["themes"][1:] == ["vulnerabilites-numeriques", "ecosysteme-entreprises"], "the most covered others"
