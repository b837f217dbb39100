"""Speakers: clustering, names, attribution, and every output naming who speaks."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
import webvtt

from pipeline.catalogue import Speaker
from pipeline.compose import attribute, compose
from pipeline.diarization_metrics import score, word_errors
from pipeline.errors import CatalogueError
from pipeline.speakers import (
    Diarization,
    SpeakerOptions,
    Turn,
    Voice,
    fit_to_speech,
    names_toml,
    propose_names,
    read_names,
    smooth,
    voices_of,
)
from pipeline.subtitles import paragraphs, to_srt, to_txt, to_vtt
from pipeline.transcript import Transcript
from pipeline.vocabulary import VocabularyOptions

from .conftest import make_segments


def made_up_voices(count: int, per_voice: int, spread: float = 0.15, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around ``count`` random directions (a made-up embedding space)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(count, 256))
    points = np.concatenate([c + spread * np.linalg.norm(c) * rng.normal(size=(per_voice, 256)) / 16 for c in centres])
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32), np.repeat(np.arange(count), per_voice)


def pieces_of(count: int) -> list[tuple[float, float]]:
    return [(3.0 * i, 3.0 * i + 3.0) for i in range(count)]


@pytest.mark.parametrize("count", [2, 3, 5])
def test_the_number_of_voices_follows_from_their_similarity(count: int):
    points, truth = made_up_voices(count, 20)
    labels = voices_of(points, pieces_of(len(points)), SpeakerOptions())
    assert len(set(labels.tolist())) == count
    # every found voice is one true voice
    assert all(len(set(truth[labels == k].tolist())) == 1 for k in set(labels.tolist()))


def test_one_voice_stays_one_voice():
    points, _ = made_up_voices(1, 40, spread=0.3)
    assert len(set(voices_of(points, pieces_of(40), SpeakerOptions()).tolist())) == 1


def test_a_known_count_is_respected_and_a_brief_voice_is_absorbed():
    points, _ = made_up_voices(3, 15)
    assert len(set(voices_of(points, pieces_of(45), SpeakerOptions(count=2)).tolist())) == 2
    # a third voice heard for 1 s in all goes to the nearest of the others
    pieces = pieces_of(30) + [(90.0 + 0.1 * i, 90.1 + 0.1 * i) for i in range(10)]
    two, _ = made_up_voices(2, 15)
    stray, _ = made_up_voices(1, 10, seed=9)
    labels = voices_of(np.concatenate([two, stray]), pieces, SpeakerOptions())
    assert len(set(labels.tolist())) == 2


def test_a_short_turn_between_two_turns_of_one_voice_is_smoothed_away():
    pieces = [(0.0, 3.0), (3.0, 6.0), (6.0, 6.5), (6.5, 9.0), (9.0, 12.0)]
    assert smooth(pieces, [0, 0, 1, 0, 1], min_turn=1.0) == [0, 0, 0, 0, 1]


def test_turn_edges_move_to_where_speech_starts_and_stops_within_reach_and_never_over_a_neighbour():
    turns = [Turn(1.0, 4.0, "A"), Turn(4.2, 8.0, "B"), Turn(20.0, 22.0, "A"), Turn(30.0, 31.0, "B")]
    speech = [(0.2, 3.5), (3.9, 9.0), (21.0, 21.8)]  # nothing around 30 s: the detector missed it
    fitted = fit_to_speech(turns, speech, reach=0.5)
    assert fitted[0] == Turn(0.5, 4.2, "A"), "start: out to the speech by at most 0.5 s; end: out, never over the next turn"
    assert fitted[1] == Turn(4.2, 8.5, "B"), "start: never back over the turn before; end: out by 0.5 s at most"
    assert fitted[2] == Turn(21.0, 21.8, "A"), "both edges in silence: in to the speech"
    assert fitted[3] == turns[3], "a turn with no detected speech is kept"


def voice(label: str, first: float, vector: np.ndarray | None = None, seconds: float = 60.0) -> Voice:
    return Voice(label, seconds, first, tuple(vector.tolist()) if vector is not None else ())


def test_names_come_from_voiceprints_then_catalogue_order_with_the_moderator_first():
    rng = np.random.default_rng(3)
    known = rng.normal(size=256).astype(np.float32)
    known /= np.linalg.norm(known)
    stranger = rng.normal(size=256).astype(np.float32)
    stranger /= np.linalg.norm(stranger)
    voices = [voice("SPEAKER_1", 0.0, stranger), voice("SPEAKER_2", 30.0, known), voice("SPEAKER_3", 60.0, stranger)]
    speakers = [Speaker("Inès Martin", "Chercheuse"), Speaker("Camille Durand", "Modératrice"), Speaker("Paul Roux", "Élu")]
    names, not_heard = propose_names(voices, speakers, {"Inès Martin": known}, threshold=0.75)
    # Inès is recognised by her voice; the moderator takes the first voice; Paul the next
    assert names == {"SPEAKER_1": "Camille Durand", "SPEAKER_2": "Inès Martin", "SPEAKER_3": "Paul Roux"}
    assert not_heard == ()


def test_more_names_than_voices_are_reported_and_more_voices_than_names_are_numbered():
    speakers = [Speaker("A B"), Speaker("C D"), Speaker("E F")]
    names, not_heard = propose_names([voice("SPEAKER_1", 0.0)], speakers, {}, 0.75)
    assert names == {"SPEAKER_1": "A B"} and not_heard == ("C D", "E F")
    names, not_heard = propose_names([voice(f"SPEAKER_{i}", float(i)) for i in (1, 2)], [Speaker("A B")], {}, 0.75)
    assert names == {"SPEAKER_1": "A B", "SPEAKER_2": "Intervenant 2"} and not_heard == ()


def test_the_editors_names_file_reads_back_and_a_bad_line_is_one_error():
    found = Diarization(
        "s", (Turn(0, 5, "SPEAKER_1"),), (voice("SPEAKER_1", 0.0, seconds=65.0),), {"SPEAKER_1": "Camille Durand"}, ("Paul Roux",)
    )
    text = names_toml(found, {"SPEAKER_1": "Bonjour à toutes…"})
    assert "1 min 05 s de parole" in text and "non entendus : Paul Roux" in text
    assert read_names(text) == {"SPEAKER_1": "Camille Durand"}
    with pytest.raises(CatalogueError, match=r"speakers.toml: line 2: 'Camille' is not a voice label"):
        read_names('SPEAKER_1 = "A"\nCamille = "B"\n', "speakers.toml")
    with pytest.raises(CatalogueError, match=r"line 1: SPEAKER_1 has no name"):
        read_names('SPEAKER_1 = ""\n', "speakers.toml")


def transcript_of(texts: list[str]) -> Transcript:
    from .test_transcript import build_transcript

    base = build_transcript(["x"])
    return replace(base, segments=tuple(make_segments(texts, step=4.0)))


def test_words_take_the_speaker_of_their_turn_and_segments_are_cut_at_turn_changes():
    transcript = transcript_of(["Bonjour et bienvenue à tous.", "Merci beaucoup pour l'invitation."])
    turns = (Turn(0.0, 2.0, "SPEAKER_1"), Turn(2.0, 8.0, "SPEAKER_2"))
    segments = attribute(transcript.segments, turns)
    assert [(s.speaker, s.text) for s in segments] == [
        ("SPEAKER_1", "Bonjour et bienvenue"),  # words of 0.7 s: the third ends at 2.1 s, its middle at 1.75 s
        ("SPEAKER_2", "à tous."),
        ("SPEAKER_2", "Merci beaucoup pour l'invitation."),
    ]
    assert [s.id for s in segments] == [0, 1, 2]


def test_every_rendering_names_who_speaks():
    transcript = transcript_of(["Bonjour et bienvenue à tous.", "Merci beaucoup pour l'invitation."])
    found = Diarization(
        "s",
        (Turn(0.0, 3.9, "SPEAKER_1"), Turn(4.0, 8.0, "SPEAKER_2")),
        (voice("SPEAKER_1", 0.0), voice("SPEAKER_2", 4.0)),
        {"SPEAKER_1": "Camille Durand", "SPEAKER_2": "Inès Martin"},
    )
    named = compose(
        transcript, (), VocabularyOptions(), found, {"SPEAKER_2": "Inès Martin-Roux"}, (Speaker("Camille Durand", "Modératrice"),)
    )
    assert [(s.id, s.name, s.role) for s in named.speakers] == [
        ("SPEAKER_1", "Camille Durand", "Modératrice"),
        ("SPEAKER_2", "Inès Martin-Roux", ""),
    ]
    assert all(w.speaker for s in named.segments for w in s.words)
    text = to_txt(named)
    assert "Camille Durand : Bonjour" in text and "Inès Martin-Roux : Merci" in text, "plain spaces: editors search in it"
    assert [p.speaker for p in paragraphs(named)] == ["Camille Durand", "Inès Martin-Roux"]
    captions = webvtt.from_buffer(io.StringIO(to_vtt(named))).captions
    assert [c.voice for c in captions] == ["Camille Durand", "Inès Martin-Roux"]
    assert "Inès Martin-Roux\u00a0: Merci" in to_srt(named)


def test_der_and_word_errors_are_scored_as_md_eval_does():
    reference = [(0.0, 10.0, "a"), (10.0, 20.0, "b")]
    assert score(reference, [(0.0, 10.0, "x"), (10.0, 20.0, "y")]).der == 0.0
    half = score(reference, [(0.0, 20.0, "x")])
    assert half.confusion == pytest.approx(0.5, abs=0.02) and half.hypothesis_speakers == 1
    words = [(1.0, 1.5, "x"), (12.0, 12.5, "y"), (13.0, 13.5, "x")]
    assert word_errors(words, reference, {"x": "a", "y": "b"}) == (1, 3)


def test_windows_of_the_spectrogram_are_computed_from_their_own_samples():
    from pipeline.voices import mel_frames, mel_spectrogram

    rng = np.random.default_rng(0)
    audio = rng.normal(scale=0.1, size=16_000 * 5).astype(np.float32)
    whole = mel_spectrogram(audio)
    for first in (0, 37, whole.shape[0] - 160):
        assert np.allclose(mel_frames(audio, first), whole[first : first + 160], rtol=1e-4, atol=1e-6)
    assert np.allclose(mel_frames(audio, 10, gain=2.0), 4.0 * whole[10:170], rtol=1e-4, atol=1e-6)


def test_the_speech_the_transcription_heard_gives_the_regions_the_detector_would_give_the_speakers(monkeypatch: pytest.MonkeyPatch):
    """The transcription records where Silero heard speech (no margin); with the speakers'
    margin it is what the speakers stage's own pass of the detector finds (to the rounding
    of a millisecond), and the stage then does not run the detector."""
    from faster_whisper.vad import VadOptions

    import pipeline.speakers as speakers_module
    from pipeline.media import as_float32, decode, probe
    from pipeline.speakers import SpeakerOptions, _speech_regions, heard_regions
    from pipeline.transcribe import HEARD, speech_in, speech_probabilities
    from pipeline.transcript import Quality

    from .conftest import ROOT

    audio = decode(probe(ROOT / "recordings" / "2022-03-17-sobriete.mp4"), pcm16=True)
    samples = as_float32(audio)
    heard = [
        (round(r["start"] / 16_000, 3), round(r["end"] / 16_000, 3))
        for r in speech_in(speech_probabilities(samples), len(samples), VadOptions(**HEARD))
    ]
    options = SpeakerOptions()
    expected = _speech_regions(audio, options)
    got = heard_regions(heard, options, len(audio) / 16_000)
    assert len(got) == len(expected) > 5
    assert np.abs(np.array(got) - np.array(expected)).max() <= 0.001

    def detector_runs(*args: object) -> list[tuple[float, float]]:
        raise AssertionError("the speech detector ran again")

    monkeypatch.setattr(speakers_module, "_speech_regions", detector_runs)
    words = [(start + 0.05, min(end, start + 2.0)) for start, end in heard if end - start > 0.3][:6]
    segments = make_segments(["un deux trois quatre cinq six"], start=words[0][0], step=words[-1][1] - words[0][0] + 0.5)
    transcript = Transcript("s", "fr", 1.0, len(audio) / 16_000, tuple(segments), None, quality=Quality(speech=tuple(heard)))  # type: ignore[arg-type]

    class Encoder:
        def embed_pieces(
            self, audio: np.ndarray, pieces: list[tuple[float, float]], options: object, progress: object = None
        ) -> np.ndarray:
            return np.ones((len(pieces), 4)) / 2

    found = speakers_module.diarize("s", transcript, audio, Encoder(), options)
    assert found.turns and found.turns[0].start in {round(start, 3) for start, _ in got}, "the turn starts where speech does"
