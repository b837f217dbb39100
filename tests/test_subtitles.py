from __future__ import annotations

import io
import re

import srt
import webvtt

from pipeline.subtitles import MAX_LINE, cues, paragraphs, to_srt, to_txt, to_vtt

from .test_transcript import build_transcript

LONG = (
    "La sobriété numérique commence par une question simple : de quoi avons-nous vraiment besoin, "
    "et comment dimensionner les infrastructures au juste besoin au lieu de multiplier les plateformes ?"
)
TEXTS = [LONG, "Merci.", "Une ville sobre doit rester inclusive.", "Anticonstitutionnellementextraordinairementinterminablementlong", LONG]


def test_vtt_is_valid_and_cues_fit_two_lines_of_42():
    transcript = build_transcript(TEXTS)
    text = to_vtt(transcript)
    parsed = webvtt.from_buffer(io.StringIO(text))
    assert len(parsed.captions) == len(cues(transcript)) > len(TEXTS)
    previous_end = 0.0
    for caption in parsed.captions:
        lines = caption.text.splitlines()
        assert 1 <= len(lines) <= 2
        assert all(len(line) <= MAX_LINE for line in lines), lines
        assert caption.start_in_seconds >= previous_end - 1e-6, "cues overlap"
        assert caption.end_in_seconds > caption.start_in_seconds
        previous_end = caption.end_in_seconds


def test_vtt_note_carries_provenance_and_nothing_breaks_the_syntax():
    text = to_vtt(build_transcript(["<b>pas</b> de balise --> ici"]))
    assert text.startswith("WEBVTT\n\nNOTE\n")
    assert "source_sha256: " + "a" * 64 in text
    assert "model_bin_sha256: " + "b" * 64 in text
    note = text.split("\n\n")[1]
    assert "-->" not in note
    body = text.split("\n\n", 2)[2]
    assert "<b>" not in body and "&lt;b&gt;" in body
    assert len(re.findall("-->", body)) == 1


def test_srt_parses_and_matches_the_cues():
    transcript = build_transcript(TEXTS)
    parsed = list(srt.parse(to_srt(transcript)))
    expected = cues(transcript)
    assert [s.content.splitlines() for s in parsed] == [list(c.lines) for c in expected]
    assert [s.index for s in parsed] == list(range(1, len(expected) + 1))


def test_words_are_all_kept_in_cues_in_order():
    transcript = build_transcript(TEXTS[:3])
    from_cues = " ".join(" ".join(c.lines) for c in cues(transcript)).split()
    assert from_cues == " ".join(TEXTS[:3]).split()


def test_txt_paragraphs_have_stamps():
    transcript = build_transcript(["Bonjour.", "Deuxième phrase."])
    text = to_txt(transcript, "Séance 2")
    assert text.splitlines()[0] == "Séance 2"
    assert "[00:00:00] Bonjour. Deuxième phrase." in text
    assert [p.segment_ids for p in paragraphs(transcript)] == [(0, 1)]


def test_word_pieces_without_a_leading_space_stay_glued():
    from dataclasses import replace

    from pipeline.transcript import Segment, Word

    words = (
        Word(0.0, 0.4, " Aujourd", 0.9),
        Word(0.4, 0.6, "'hui,", 0.9),
        Word(0.6, 0.8, " est", 0.9),
        Word(0.8, 1.0, "-ce", 0.9),
        Word(1.0, 1.5, " clair ?", 0.9),
    )
    transcript = replace(
        build_transcript(["x"]), segments=(Segment(id=0, start=0.0, end=1.5, text="Aujourd'hui, est-ce clair ?", words=words),)
    )
    [cue] = cues(transcript)
    assert cue.lines == ("Aujourd'hui, est-ce clair ?",)
    assert (cue.start, cue.end) == (0.0, 1.5)
