"""Sentence units: the moments readers jump to, built once from a transcript.

Batched decoding gives segments of up to 30 s; a sentence, cut at final punctuation using
word timestamps (and at a change of speaker), is what a keyword occurrence, a quoted
passage or a search hit points to. Every later stage refers to sentences by their index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .transcript import Transcript, Word

SENTENCE_END = (".", "?", "!", "…")


@dataclass(frozen=True)
class Sentence:
    """A sentence of the transcript: its index, text, time span, segment and speaker."""

    index: int
    text: str
    start: float
    end: float
    segment_id: int
    speaker: str | None = None
    heard: tuple[tuple[int, int, float], ...] = ()
    """Each word as Whisper heard it: its characters in ``text`` (start, end) and the
    probability Whisper gave it. Empty for a sentence without word timestamps."""


def sentences_of(transcript: Transcript, heard: bool = False) -> tuple[Sentence, ...]:
    """Every sentence of a transcript, in order, indexed from 0; with what Whisper heard of
    each word (:attr:`Sentence.heard`) when ``heard`` is true (the keywords weigh by it)."""
    pieces: list[tuple[str, float, float, int, str | None, tuple[tuple[int, int, float], ...]]] = []
    for segment in transcript.segments:
        if not segment.words:
            if segment.text.strip():
                pieces.append((segment.text.strip(), segment.start, segment.end, segment.id, segment.speaker, ()))
            continue
        pending: list[Word] = []
        for word in segment.words:
            if pending and word.speaker != pending[-1].speaker:
                pieces.append(_piece(pending, segment.id, heard))
                pending = []
            pending.append(word)
            if word.word.strip().endswith(SENTENCE_END):
                pieces.append(_piece(pending, segment.id, heard))
                pending = []
        if pending:
            pieces.append(_piece(pending, segment.id, heard))
    kept = [p for p in pieces if p[0]]
    return tuple(
        Sentence(index, text, start, end, segment_id, speaker, heard)
        for index, (text, start, end, segment_id, speaker, heard) in enumerate(kept)
    )


def _piece(
    words: Sequence[Word], segment_id: int, with_heard: bool
) -> tuple[str, float, float, int, str | None, tuple[tuple[int, int, float], ...]]:
    joined = "".join(w.word for w in words)
    if not with_heard:
        return joined.strip(), words[0].start, words[-1].end, segment_id, words[0].speaker, ()
    lead = len(joined) - len(joined.lstrip())
    heard, at = [], -lead
    for word in words:
        begin = at + len(word.word) - len(word.word.lstrip())
        at += len(word.word)
        end = at - (len(word.word) - len(word.word.rstrip()))
        if end > begin:
            heard.append((max(begin, 0), end, word.probability))
    return joined.strip(), words[0].start, words[-1].end, segment_id, words[0].speaker, tuple(heard)
