"""The lost-speech guard: speech that decoded to no words is found and decoded again."""

from __future__ import annotations

import numpy as np

from pipeline.guard import gaps, lost_windows, repair
from pipeline.transcript import Segment, Word

from .conftest import make_segments

SR = 16_000


def timed(seconds: float) -> np.ndarray:
    """Fake audio whose every sample holds its own time: a clip knows where it starts."""
    return (np.arange(int(seconds * SR)) / SR).astype(np.float64)


def vad(*regions: tuple[float, float]):
    """A fake VAD that finds speech at these moments of the recording, in any clip."""

    def find(clip: np.ndarray) -> list[tuple[float, float]]:
        offset, end = float(clip[0]), float(clip[-1])
        return [(max(a, offset) - offset, min(b, end) - offset) for a, b in regions if a < end and b > offset]

    return find


def test_gaps_between_words_and_at_both_ends():
    segments = make_segments(["un deux trois", "quatre cinq"], start=3.0, step=4.0)  # words 3-6.5 and 7-10.5
    found = gaps(segments, duration=20.0, min_gap=2.0)
    assert [(g.start, g.end) for g in found] == [(0.0, 3.0), (10.5, 20.0)]


def test_speech_in_a_gap_is_a_window_and_silence_is_not():
    segments = make_segments(["un deux trois"], start=0.0, step=4.0)  # words until 3.5 s
    # speech 10-14 s, and a 1-s cough at 30 s
    checked, windows = lost_windows(timed(40.0), segments, vad((10.0, 14.0), (30.0, 31.0)), min_gap=2.0, min_speech=2.0)
    assert checked == 1
    assert [(w.start, w.end) for w in windows] == [(10.0, 14.0)]


def test_long_lost_speech_is_cut_into_windows_of_30_seconds():
    checked, windows = lost_windows(timed(80.0), [], vad((0.0, 75.0)), min_gap=2.0, min_speech=2.0)
    assert [(w.start, w.end) for w in windows] == [(0.0, 30.0), (30.0, 60.0), (60.0, 75.0)]


def test_repair_keeps_only_new_words_inside_the_gap_and_records_what_it_did():
    segments = make_segments(["avant la pause"], start=0.0, step=4.0) + make_segments(["après la pause"], start=20.0, step=4.0)
    segments = [Segment(i, s.start, s.end, s.text, s.words) for i, s in enumerate(segments)]
    audio = timed(30.0)
    checked, windows = lost_windows(audio, segments, vad((2.0, 21.0)), min_gap=2.0, min_speech=2.0)
    [window] = windows
    assert (window.start, window.end) == (3.5, 20.0)  # the speech inside the gap only

    def redecode_one(clip: np.ndarray) -> list[Segment]:
        # the re-decoding hears the lost sentence, and the first word after the gap again
        words = (
            Word(1.0, 2.0, " la", 0.9),
            Word(2.0, 3.0, " parole", 0.9),
            Word(3.0, 4.0, " retrouvée", 0.9),
            Word(16.6, 17.0, " après", 0.9),
        )
        return [Segment(0, 1.0, 17.0, "la parole retrouvée après", words, avg_logprob=-0.3, compression_ratio=1.2)]

    repaired, quality = repair(audio, segments, windows, lambda clips: [redecode_one(c) for c in clips], checked)
    texts = [s.text for s in repaired]
    assert texts == ["avant la pause", "la parole retrouvée", "après la pause"]
    assert [s.id for s in repaired] == [0, 1, 2]
    assert quality.redecoded and "3 words recovered" in quality.redecoded[0].note
    assert quality.speech_without_words == ()


def test_text_whisper_itself_would_reject_is_not_put_back():
    audio = timed(30.0)
    checked, windows = lost_windows(audio, [], vad((5.0, 9.0)), min_gap=2.0, min_speech=2.0)

    def noise(clip: np.ndarray) -> list[Segment]:
        return [Segment(0, 0.0, 4.0, "Sous-titrage", (Word(0.0, 4.0, " Sous-titrage", 0.1),), avg_logprob=-1.5, no_speech_prob=0.9)]

    repaired, quality = repair(audio, [], windows, lambda clips: [noise(c) for c in clips], checked)
    assert repaired == [] and quality.redecoded == ()
    assert [(s.start, s.end) for s in quality.speech_without_words] == [(5.0, 9.0)]
    assert quality.seconds_without_words == 4.0
