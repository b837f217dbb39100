"""The series' glossary: read with one-line errors, fed by the editors' corrections, applied to
every session at the next run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import CatalogueError
from pipeline.glossary import HEADER, Proposal, appended, proposals, read_glossary
from pipeline.store import Names, Store
from pipeline.transcript import Correction
from pipeline.vocabulary import Term, correct

from .test_editor_files import LATER, series  # noqa: F401 - the fixture
from .test_speakers import transcript_of


def test_terms_are_read_and_merged_and_a_bad_entry_is_one_line(tmp_path: Path):
    path = tmp_path / "glossary.toml"
    path.write_text(
        HEADER + '\n[[term]]\ntext = "commande publique"\nheard = ["umache publique"]\n\n'
        '[[term]]\ntext = "Commande publique"\nheard = "comande publique"\nclose = true\n',
        encoding="utf-8",
    )
    assert read_glossary(path) == (Term("commande publique", ("umache publique", "comande publique"), True),)
    assert read_glossary(tmp_path / "absent.toml") == ()
    for text, expected in (
        ('[[term]]\nheard = ["x"]\n', r"line 1: term #1 has no text"),
        ('[[term]]\ntext = "a"\n\n[[term]]\ntext = "b"\nheard = [1]\n', r"line 6: term #2, heard must be a list of texts"),
        ('[[term]]\ntext = "a"\nspelling = "b"\n', r"line 3: term #1 has no field 'spelling'"),
        ('[[term]\ntext = "a"\n', r"invalid TOML"),
    ):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(CatalogueError, match=expected) as caught:
            read_glossary(path)
        assert str(path) in caught.value.one_line()


def test_a_known_misrecognition_is_corrected_after_decoding_and_recorded():
    transcript = transcript_of(["La umache publique est un levier.", "Une umache de plus."])
    fixed = correct(transcript, (Term("commande publique", ("umache publique",), False),))
    assert fixed.segments[0].text == "La commande publique est un levier."
    assert fixed.segments[1].text == "Une umache de plus.", "only the phrase is replaced, not the lone word"
    assert [(c.heard, c.written, c.rule) for c in fixed.corrections] == [("umache publique", "commande publique", "known")]


def test_corrections_propose_phrases_once_and_not_what_the_glossary_knows():
    base = transcript_of(["La commande publique est un levier.", "Bonjour à tous."])
    words = [w for s in base.segments for w in s.words]
    commande, bonjour = words[1], words[6]
    transcript = replace(
        base,
        corrections=(
            Correction(commande.start, commande.end, "umache", "commande", "editor"),
            Correction(bonjour.start, bonjour.end, "Bonjour", "", "editor"),  # a removal proposes nothing
            Correction(0.0, 0.1, "eric joanis", "Éric Joanis", "spelling"),  # not an editor's
        ),
    )
    found = proposals([transcript, replace(transcript, session_id="other")], ())
    assert [(p.heard, p.text) for p in found] == [("umache publique", "commande publique")]
    assert proposals([transcript], (Term("commande publique", ("umache publique",), False),)) == []
    text = appended('# mes notes\n[[term]]\ntext = "CNRC"', found)
    assert text.startswith('# mes notes\n[[term]]\ntext = "CNRC"\n') and 'heard = ["umache publique"]' in text
    assert appended("", [Proposal('dit "x"', "x", "s", 0.0)]).startswith(HEADER)


def test_a_term_corrected_in_one_session_is_right_in_the_others_after_accepting_it(
    series: tuple[Path, Store],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
):
    recordings, store = series
    path = store.path("s-1", Names.TRANSCRIPT_TXT)
    path.write_text(path.read_text(encoding="utf-8").replace("gaz à effet de serre", "gaz à effet de sera", 1), encoding="utf-8")
    arguments = ["--recordings", str(recordings), "--outputs", str(store.root)]
    assert main(["run", *arguments, *LATER]) == 0
    capsys.readouterr()
    assert main(["glossary", *arguments]) == 0
    out = capsys.readouterr().out
    assert "1. « serre liées » → « sera liées »" in out
    assert main(["glossary", *arguments, "--accept", "2"]) == 2
    assert "no proposal 2 (there are 1)" in capsys.readouterr().err
    assert main(["glossary", *arguments, "--accept", "1"]) == 0
    assert 'heard = ["serre liées"]' in (recordings / "glossary.toml").read_text(encoding="utf-8")
    assert main(["run", *arguments, *LATER]) == 0
    other = json.loads(store.read_text("s-2", Names.TRANSCRIPT))
    assert "gaz à effet de sera liées" in " ".join(s["text"] for s in other["segments"])
    assert [(c["heard"], c["rule"]) for c in other["corrections"]] == [("serre liées", "known")]
    assert main(["glossary", *arguments]) == 0
    assert "No proposal" in capsys.readouterr().err
