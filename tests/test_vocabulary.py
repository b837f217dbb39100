"""The vocabulary corrects names after decoding, conservatively, and records each change."""

from __future__ import annotations

from pipeline.catalogue import Session, Speaker
from pipeline.transcript import Segment, Word
from pipeline.vocabulary import Term, VocabularyOptions, correct_segment, terms_of


def segment(*tokens: str) -> Segment:
    words = tuple(Word(float(i), float(i) + 0.9, token, 0.8) for i, token in enumerate(tokens))
    return Segment(0, 0.0, float(len(tokens)), "".join(tokens).strip(), words)


def rare(word: str) -> float:
    return 1.0  # every word is rare (the real table is wordfreq's)


def fix(seg: Segment, *terms: Term, zipf=rare) -> tuple[str, list[str]]:
    fixed, corrections = correct_segment(seg, list(terms), VocabularyOptions(), zipf)
    return fixed.text, [f"{c.heard} -> {c.written} ({c.rule})" for c in corrections]


def test_a_close_spelling_of_a_speakers_name_becomes_the_name():
    text, made = fix(segment(" Je", " suis", " Eric", " Joannis."), Term("Éric Joanis"))
    assert text == "Je suis Éric Joanis."
    assert made == ["Eric Joannis. -> Éric Joanis. (close)"]


def test_accents_and_capitals_are_a_spelling_fix_and_a_right_name_is_left_alone():
    assert fix(segment(" avec", " julien", " moreau"), Term("Julien Moreau"))[1] == ["julien moreau -> Julien Moreau (spelling)"]
    assert fix(segment(" avec", " Julien", " Moreau,", " merci"), Term("Julien Moreau")) == ("avec Julien Moreau, merci", [])


def test_a_name_split_or_glued_by_whisper_is_found():
    assert fix(segment(" Inès", " Mar", "tin"), Term("Inès Martin"))[0] == "Inès Martin"  # pieces glued into one word
    assert fix(segment(" bonjour", " Anne", " Sophie", " Lefèvre"), Term("Anne-Sophie Lefèvre"))[0] == "bonjour Anne-Sophie Lefèvre"


def test_other_words_are_never_taken_for_a_name():
    # a different first letter, a distant spelling, and common words
    assert fix(segment(" Marie", " Moreau"), Term("Julien Moreau"))[1] == []
    assert fix(segment(" la", " gouvernance", " des", " données"), Term("Julien Moreau"))[1] == []
    common = fix(segment(" les", " données"), Term("Donnet"), zipf=lambda w: 5.0)
    assert common[1] == []


def test_a_known_misrecognition_is_replaced_exactly():
    term = Term("commande publique", variants=("umache publique",), fuzzy=False)
    assert fix(segment(" la", " umache", " publique"), term) == ("la commande publique", ["umache publique -> commande publique (known)"])


def test_the_vocabulary_of_a_session_is_its_speakers_full_names():
    session = Session("s", "Titre (avec parenthèses)", "s.mp4", speakers=(Speaker("Animateur"), Speaker("Julien Moreau", "Chercheur")))
    assert [t.text for t in terms_of(session)] == ["Julien Moreau"]
