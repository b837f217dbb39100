"""The lost-speech guard: find speech that decoded to no words, decode it again.

Batched decoding has no fallback: when Whisper ends a 30-s window early (an early
end-of-text), the rest of that window is silently lost; a prompt makes it more likely (see
README, « Vocabulary »). After decoding, every gap of at least ``min_gap`` seconds between
two decoded words is checked with Silero VAD; where it holds at least ``min_speech``
seconds of speech, that stretch is decoded again on its own (beam search at temperature
0, no prompt; every such window in one call, which the engine batches) and the words that
fall inside the gap are put back.
Speech that still yields no words is recorded, so that editors and the review report see it.

Pure functions: the VAD and the re-decoding are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .transcript import Quality, Segment, Span, Word

SAMPLING_RATE = 16_000
MAX_WINDOW = 30.0
MARGIN = 0.2
JOIN_SILENCE = 2.0
"""Speech regions closer than this (seconds) are decoded together."""

FindSpeech = Callable[[np.ndarray], list[tuple[float, float]]]
"""Speech regions (seconds from the clip's start) of a 16 kHz clip."""
Redecode = Callable[[Sequence[np.ndarray]], list[list[Segment]]]
"""For each 16 kHz clip, its segments (times from the clip's start), each clip decoded on
its own; all the clips are given at once, so that the engine can decode them in one batch."""


@dataclass(frozen=True)
class Window:
    """A stretch to decode again: the speech inside one gap between decoded words."""

    start: float
    end: float
    gap: Span
    speech: float


def gaps(segments: Sequence[Segment], duration: float, min_gap: float) -> list[Span]:
    """Stretches of at least ``min_gap`` seconds with no decoded word, in order."""
    edges = sorted((w.start, w.end) for s in segments for w in (s.words or _pseudo_words(s)))
    result, cursor = [], 0.0
    for start, end in edges:
        if start - cursor >= min_gap:
            result.append(Span(round(cursor, 3), round(start, 3)))
        cursor = max(cursor, end)
    if duration - cursor >= min_gap:
        result.append(Span(round(cursor, 3), round(duration, 3)))
    return result


def _pseudo_words(segment: Segment) -> tuple[Word, ...]:
    return (Word(segment.start, segment.end, segment.text, 0.0),) if segment.text.strip() else ()


def lost_windows(
    audio: np.ndarray, segments: Sequence[Segment], find_speech: FindSpeech, min_gap: float, min_speech: float
) -> tuple[int, list[Window]]:
    """The gaps checked, and the windows of speech (>= ``min_speech`` s, <= 30 s each) found
    in them."""
    duration = len(audio) / SAMPLING_RATE
    checked = gaps(segments, duration, min_gap)
    windows = []
    for gap in checked:
        clip = audio[int(gap.start * SAMPLING_RATE) : int(gap.end * SAMPLING_RATE)]
        regions = [(gap.start + a, gap.start + b) for a, b in find_speech(clip)]
        for piece in _split(regions):
            speech = sum(b - a for a, b in piece)
            if speech >= min_speech:
                windows.append(Window(round(piece[0][0], 3), round(piece[-1][1], 3), gap, round(speech, 3)))
    return len(checked), windows


def _split(regions: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Speech regions grouped into windows: neighbours (less than 2 s apart) together, at
    most 30 s each (a longer region is cut)."""
    pieces: list[list[tuple[float, float]]] = []
    for start, end in regions:
        while end - start > MAX_WINDOW:
            pieces.append([(start, start + MAX_WINDOW)])
            start += MAX_WINDOW
        if pieces and start - pieces[-1][-1][1] < JOIN_SILENCE and end - pieces[-1][0][0] <= MAX_WINDOW:
            pieces[-1].append((start, end))
        else:
            pieces.append([(start, end)])
    return pieces


LOOP_COMPRESSION = 3.0
"""gzip ratio of a repetition loop. Whisper's own fallback starts at 2.4, which rejects
real, repetitive speech (« appuyez sur 1 … appuyez sur 2 … »); VAD already says this is
speech, so only a real loop is refused."""


def _accepted(segment: Segment) -> bool:
    """Text worth keeping: not « no speech » with low confidence (Whisper's own rule), and
    not a repetition loop."""
    silent = segment.no_speech_prob > 0.6 and segment.avg_logprob < -1.0
    return not silent and segment.compression_ratio <= LOOP_COMPRESSION


def repair(
    audio: np.ndarray, segments: Sequence[Segment], windows: Sequence[Window], redecode: Redecode, checked: int
) -> tuple[list[Segment], Quality]:
    """Decode every window again, all in one call (the engine batches them), and keep the
    new words that fall inside their gaps. Returns the segments (in time order, renumbered)
    and what the guard did."""
    spans = [(max(w.gap.start, w.start - MARGIN), min(w.gap.end, w.end + MARGIN)) for w in windows]
    decoded = redecode([audio[int(start * SAMPLING_RATE) : int(end * SAMPLING_RATE)] for start, end in spans]) if windows else []
    added: list[Segment] = []
    redecoded, still_lost = [], []
    for window, (start, _), heard in zip(windows, spans, decoded, strict=True):
        shifted = [
            replace(s, words=tuple(replace(w, start=round(w.start + start, 3), end=round(w.end + start, 3)) for w in s.words))
            for s in heard
            if _accepted(s)
        ]
        kept = _inside(shifted, window)
        count = sum(len(s.words) for s in kept)
        if count:
            added += kept
            redecoded.append(Span(window.start, window.end, f"{count} words recovered from {window.speech:.1f} s of speech"))
        else:
            still_lost.append(Span(window.start, window.end, f"{window.speech:.1f} s of speech gave no text"))
    merged = sorted([*segments, *added], key=lambda s: (s.start, s.end))
    renumbered = [replace(s, id=i) for i, s in enumerate(merged)]
    return renumbered, Quality(checked, tuple(redecoded), tuple(still_lost))


def _inside(segments: Sequence[Segment], window: Window) -> list[Segment]:
    """The segments' words that fall inside the window's gap (the words around it were
    decoded already)."""
    kept = []
    for segment in segments:
        words = tuple(w for w in segment.words if window.gap.start <= (w.start + w.end) / 2 <= window.gap.end)
        if words:
            kept.append(replace(segment, start=words[0].start, end=words[-1].end, text="".join(w.word for w in words).strip(), words=words))
    return kept
