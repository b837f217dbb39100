"""The review report flags what an editor should check, in audio order, linked to its moment."""

from __future__ import annotations

from dataclasses import replace

from pipeline.review import flagged_share, review, to_markdown
from pipeline.transcript import Correction, Quality, Span

from .test_speakers import transcript_of


def test_each_kind_of_doubt_is_flagged_where_it_is():
    transcript = transcript_of(
        [
            "Bonjour, je suis avec Marc Dubreuil et la DINUM.",  # a name and an acronym not in the catalogue
            "Le budget est de 12 millions pour 2024.",  # numbers
            "merci merci merci merci beaucoup",  # a loop
            "Camille Durand parle de sobriété.",  # known: nothing
        ]
    )
    segments = list(transcript.segments)
    words = list(segments[3].words)
    words[4] = replace(words[4], probability=0.2)  # « sobriété. » doubtful
    segments[3] = replace(segments[3], words=tuple(words))
    segments[2] = replace(segments[2], no_speech_prob=0.9)
    transcript = replace(
        transcript,
        segments=tuple(segments),
        quality=Quality(3, (), (Span(20.0, 23.0, "guard"),)),
        corrections=(Correction(1.0, 2.0, "eric", "Éric", "spelling"), Correction(2.0, 3.0, "a", "b", "editor")),
    )
    flags = review(transcript, ["Camille Durand"])
    found = [(f.kind, f.text) for f in flags]
    assert ("name", "Marc") in found and ("name", "Dubreuil") in found and ("name", "DINUM") in found
    assert ("name", "Bonjour,") not in found and not any(k == "name" and "Camille" in t for k, t in found)
    assert ("number", "12 millions") in found and ("number", "2024.") in found
    assert ("loop", "merci merci merci merci") in found
    assert ("no-speech", "merci merci merci merci beaucoup") in found
    assert ("doubt", "sobriété.") in found
    assert ("lost", "") in found
    assert ("replaced", "eric → Éric") in found and not any(t == "a → b" for _, t in found), "an editor's own edits are not flagged"
    assert [f.start for f in flags] == sorted(f.start for f in flags)
    assert 0 < flagged_share(transcript, flags) < 1

    report = to_markdown(transcript, flags, "Séance 1", "../site/sessions/s/index.html")
    assert report.startswith("# À relire : Séance 1\n")
    assert "- [ ] [00:14](../site/sessions/s/index.html#t=14) mots incertains (20%) « sobriété. »" in report


def test_a_clean_transcript_has_nothing_to_check():
    transcript = transcript_of(["Camille Durand parle de sobriété numérique."])
    assert review(transcript, ["Camille Durand"]) == ()
    assert "Rien à signaler." in to_markdown(transcript, (), "S", "x")
