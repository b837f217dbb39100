"""An editor corrects transcript.txt: the words and speakers follow, times are kept."""

from __future__ import annotations

import pytest

from pipeline.catalogue import Speaker
from pipeline.compose import compose
from pipeline.corrections import apply_edits, read_edited
from pipeline.errors import EditorFileError
from pipeline.speakers import Diarization, Turn, Voice
from pipeline.subtitles import to_srt, to_txt, to_vtt
from pipeline.transcript import Transcript
from pipeline.vocabulary import VocabularyOptions

from .test_speakers import transcript_of


def voice(label: str, first: float) -> Voice:
    return Voice(label, 4.0, first, (1.0, 0.0))


def two_speakers() -> Transcript:
    transcript = transcript_of(
        ["Bonjour et bienvenue à tous.", "La umache publique est un levier : la sobriété en dépend.", "Merci beaucoup."]
    )
    found = Diarization(
        "s",
        (Turn(0.0, 7.9, "SPEAKER_1"), Turn(8.0, 12.0, "SPEAKER_2")),
        (voice("SPEAKER_1", 0.0), voice("SPEAKER_2", 8.0)),
        {"SPEAKER_1": "Camille Durand", "SPEAKER_2": "Intervenant 2"},
    )
    return compose(transcript, (), VocabularyOptions(), found, {}, (Speaker("Camille Durand", "Modératrice"),))


def test_an_untouched_text_changes_nothing():
    transcript = two_speakers()
    text = to_txt(transcript, "Séance")
    corrected, summary = apply_edits(transcript, read_edited(text, ["Camille Durand", "Intervenant 2"]))
    assert not summary.changed
    assert corrected.segments == transcript.segments and corrected.speakers == transcript.speakers


def test_replaced_words_take_the_times_of_what_they_replace_and_the_rest_keeps_its_own():
    transcript = two_speakers()
    text = to_txt(transcript, "Séance").replace("La umache publique", "La commande publique")
    corrected, summary = apply_edits(transcript, read_edited(text, ["Camille Durand"]))
    assert (summary.replaced, summary.inserted, summary.removed) == (1, 0, 0)
    before = [w for s in transcript.segments for w in s.words]
    after = [w for s in corrected.segments for w in s.words]
    assert len(after) == len(before)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1
    old, new = changed[0]
    assert (new.word, new.start, new.end, new.speaker) == (" commande", old.start, old.end, old.speaker)
    assert "La commande publique est un levier" in corrected.text
    assert [(c.heard, c.written, c.rule) for c in corrected.corrections] == [("umache", "commande", "editor")]
    # every rendering follows
    assert "commande publique" in to_vtt(corrected) and "commande publique" in to_srt(corrected)


def test_words_inserted_and_removed_get_times_inside_their_span():
    transcript = two_speakers()
    text = to_txt(transcript).replace("est un levier", "est sans doute un levier").replace("Bonjour et bienvenue", "Bonjour bienvenue")
    corrected, summary = apply_edits(transcript, read_edited(text, ["Camille Durand"]))
    assert (summary.inserted, summary.removed) == (2, 1)
    words = [w for s in corrected.segments for w in s.words]
    assert [w.word.strip() for w in words][:2] == ["Bonjour", "bienvenue"]
    times = [(w.start, w.end) for w in words]
    assert times == sorted(times), "words stay in time order"
    inserted = [w for w in words if w.word.strip() in {"sans", "doute"}]
    est, un = (next(w for w in words if w.word.strip() == token) for token in ("est", "un"))
    assert all(est.end <= w.start and w.end <= un.start for w in inserted)


def test_a_name_changed_at_the_head_of_a_paragraph_gives_it_to_that_speaker():
    transcript = two_speakers()
    text = to_txt(transcript).replace("Intervenant 2 : Merci", "Inès Martin : Merci")
    corrected, summary = apply_edits(transcript, read_edited(text, ["Camille Durand", "Intervenant 2"]), {"Inès Martin": "Chercheuse"})
    assert summary.speakers_changed == 2 and summary.words_changed == 0
    assert [(s.name, s.role, s.words) for s in corrected.speakers] == [
        ("Camille Durand", "Modératrice", 16),
        ("Inès Martin", "Chercheuse", 2),
    ]
    assert "<v Inès Martin>Merci beaucoup." in to_vtt(corrected)


def test_a_colon_inside_a_sentence_is_not_a_speaker_name():
    paragraphs = read_edited(
        "Titre\n\n[00:00:01] Il y a deux choses : la première.\n\n[00:00:05] Camille Durand : Oui.\n", ["Camille Durand"]
    )
    assert [(p.speaker, p.text) for p in paragraphs] == [("", "Il y a deux choses : la première."), ("Camille Durand", "Oui.")]


def test_wrapped_lines_join_their_paragraph_and_stamps_out_of_order_are_one_error():
    paragraphs = read_edited("[00:00:01] Une phrase\ncoupée en deux.\n\n[00:00:09] Suite.\n", [])
    assert [p.text for p in paragraphs] == ["Une phrase coupée en deux.", "Suite."]
    with pytest.raises(EditorFileError, match=r"transcript.txt: line 3: the stamp \[00:00:02\] comes before"):
        read_edited("[00:00:05] A.\n\n[00:00:02] B.\n", [], "transcript.txt")
    with pytest.raises(EditorFileError, match="no paragraph stamped"):
        read_edited("tout le texte sans repère\n", [], "transcript.txt")


def test_paragraph_first_alignment_rebuilds_the_edited_text_exactly():
    import random

    from pipeline.corrections import opcodes

    rng = random.Random(7)
    vocabulary = ["de", "la", "et", "données", "sobriété", "ville", "capteurs", "le", "numérique", "public"]
    old = [[rng.choice(vocabulary) for _ in range(rng.randint(1, 30))] for _ in range(60)]
    new = [list(g) for g in old]
    for _ in range(12):  # replace, insert and delete words, merge and drop paragraphs
        g = rng.randrange(len(new))
        if new[g]:
            k = rng.randrange(len(new[g]))
            new[g][k : k + 1] = rng.choice([[], ["CORRIGÉ"], ["deux", "mots"]])
    new[10:12] = [new[10] + new[11]]
    del new[30]
    flat_old, flat_new = [t for g in old for t in g], [t for g in new for t in g]
    rebuilt: list[str] = []
    for tag, i1, i2, j1, j2 in opcodes(old, new):
        rebuilt += flat_old[i1:i2] if tag == "equal" else flat_new[j1:j2]
        if tag == "equal":
            assert flat_old[i1:i2] == flat_new[j1:j2]
    assert rebuilt == flat_new
