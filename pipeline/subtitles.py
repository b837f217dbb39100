"""Plain-text, SubRip and WebVTT renderings of a transcript.

Cues follow common captioning practice (BBC, Netflix French guidelines): at most two lines
of 42 characters, split at word boundaries using Whisper's word timestamps, never
overlapping, and cut at sentence ends or pauses so each cue reads as a unit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import srt

from .transcript import Segment, Transcript, Word, glued

MAX_LINE = 42
MAX_LINES = 2
MAX_CUE_SECONDS = 7.0
MIN_CUE_SECONDS = 0.3
PAUSE_SECONDS = 1.5
PARAGRAPH_CHARS = 600
NAME_SEPARATOR = "\u00a0: "
"""« Name : » opens a caption's turn (French spacing: a no-break space before the colon)."""
TEXT_NAME_SEPARATOR = " : "
"""The same in ``transcript.txt``, with a plain space: editors search and replace in it."""


@dataclass(frozen=True)
class Cue:
    """One caption: its time span, its (at most two) lines, its speaker's name, and whether
    it opens that speaker's turn."""

    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str = ""
    turn: bool = False


@dataclass(frozen=True)
class Paragraph:
    """Consecutive segments of one speaker read as one paragraph, starting at ``start``
    seconds; ``turn`` when it opens a turn (another speaker spoke before)."""

    start: float
    end: float
    text: str
    segment_ids: tuple[int, ...]
    speaker: str = ""
    turn: bool = False


def speaker_names(transcript: Transcript) -> dict[str, str]:
    """Voice label -> the name readers see."""
    return {s.id: s.name for s in transcript.speakers}


def _glued(words: Sequence[Word]) -> tuple[Word, ...]:
    """Whisper marks a new word by a leading space; a piece without one (« 'hui » in
    « Aujourd'hui », « -ce » in « Est-ce ») belongs to the word before it: one Word each."""
    return tuple(
        replace(g[0], end=g[-1].end, word="".join(w.word for w in g), probability=min(w.probability for w in g)) for g in glued(words)
    )


def _segment_words(segment: Segment) -> tuple[Word, ...]:
    """Word timings, or evenly spread pseudo-words when the transcriber gave none."""
    if segment.words:
        return _glued(segment.words)
    tokens = segment.text.split()
    if not tokens:
        return ()
    total = sum(len(t) + 1 for t in tokens)
    span = max(segment.end - segment.start, 0.0)
    words, cursor = [], segment.start
    for token in tokens:
        length = span * (len(token) + 1) / total
        words.append(Word(start=cursor, end=cursor + length, word=" " + token, probability=0.0))
        cursor += length
    return tuple(words)


def _chunks(token: str) -> list[str]:
    return [token[i : i + MAX_LINE] for i in range(0, len(token), MAX_LINE)] or [""]


def _wrap(tokens: Sequence[str]) -> list[str]:
    """Greedy wrap at word boundaries into lines of at most MAX_LINE characters."""
    lines: list[str] = []
    for token in tokens:
        _add(lines, token)
    return lines


def _add(lines: list[str], token: str) -> None:
    """Add one token to wrapped lines in place (the same greedy rule as :func:`_wrap`)."""
    for piece in _chunks(token):
        if lines and len(lines[-1]) + 1 + len(piece) <= MAX_LINE:
            lines[-1] += " " + piece
        else:
            lines.append(piece)


def cues(transcript: Transcript) -> list[Cue]:
    """Caption cues for the whole transcript, in order and without overlap; a cue never
    spans two speakers (segments are cut at turn changes)."""
    result: list[Cue] = []
    names = speaker_names(transcript)
    previous: str | None = None
    for segment in transcript.segments:
        first = len(result)
        pending: list[Word] = []
        lines: list[str] = []  # the greedy wrap of ``pending``, kept up to date word by word
        for word in _segment_words(segment):
            token = word.word.strip()
            if not token:
                continue
            grown = list(lines)
            _add(grown, token)
            fits = len(grown) <= MAX_LINES
            too_long = pending and word.end - pending[0].start > MAX_CUE_SECONDS
            paused = pending and word.start - pending[-1].end >= PAUSE_SECONDS
            if pending and (not fits or too_long or paused):
                result.append(_make_cue(pending, lines, result))
                pending, lines = [word], []
                _add(lines, token)
            else:
                pending.append(word)
                lines = grown
            if token[-1] in ".?!…" and sum(len(line) + 1 for line in lines) - 1 >= MAX_LINE // 2:
                result.append(_make_cue(pending, lines, result))
                pending, lines = [], []
        if pending:
            result.append(_make_cue(pending, lines, result))
        if segment.speaker and len(result) > first:
            name = names.get(segment.speaker, segment.speaker)
            for k in range(first, len(result)):
                result[k] = replace(result[k], speaker=name, turn=k == first and segment.speaker != previous)
            previous = segment.speaker
    return result


def _make_cue(words: Sequence[Word], lines: Sequence[str], previous: Sequence[Cue]) -> Cue:
    start = words[0].start
    end = max(words[-1].end, start + MIN_CUE_SECONDS)
    if previous and start < previous[-1].end:
        start = previous[-1].end
        end = max(end, start + MIN_CUE_SECONDS)
    # A single word longer than two lines is cut; captions never exceed two lines.
    return Cue(start=round(start, 3), end=round(end, 3), lines=tuple(lines[:MAX_LINES]))


def paragraphs(transcript: Transcript) -> list[Paragraph]:
    """Group segments into paragraphs: a new one at each change of speaker, at a pause, or
    at a sentence end once long enough."""
    groups: list[list[Segment]] = []
    for segment in transcript.segments:
        if not segment.text.strip():
            continue
        if groups:
            last = groups[-1][-1]
            size = sum(len(s.text) for s in groups[-1])
            sentence_end = last.text.rstrip().endswith((".", "?", "!", "…"))
            same_voice = segment.speaker == last.speaker
            if same_voice and segment.start - last.end < PAUSE_SECONDS and not (sentence_end and size >= PARAGRAPH_CHARS):
                groups[-1].append(segment)
                continue
        groups.append([segment])
    names = speaker_names(transcript)
    result = []
    for index, group in enumerate(groups):
        voice = group[0].speaker
        turn = bool(voice) and (index == 0 or groups[index - 1][0].speaker != voice)
        result.append(
            Paragraph(
                start=group[0].start,
                end=group[-1].end,
                text=" ".join(s.text.strip() for s in group),
                segment_ids=tuple(s.id for s in group),
                speaker=names.get(voice, voice) if voice else "",
                turn=turn,
            )
        )
    return result


def clock(seconds: float) -> str:
    """``hh:mm:ss`` for paragraph stamps."""
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def short_clock(seconds: float) -> str:
    """``mm:ss`` (``h:mm:ss`` past an hour), for stamps readers click."""
    whole = int(seconds)
    if whole >= 3600:
        return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return f"{whole // 60:02d}:{whole % 60:02d}"


def vtt_time(seconds: float) -> str:
    """``hh:mm:ss.mmm`` for WebVTT cues."""
    millis = int(round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def to_txt(transcript: Transcript, title: str = "") -> str:
    """Readable text: a short header, then paragraphs each stamped ``[hh:mm:ss]``."""
    prov = transcript.provenance
    header = [title or transcript.session_id, f"Transcription automatique ({prov.model.id}), langue {transcript.language}, non relue.", ""]
    if transcript.speakers:
        header[-1:] = ["Intervenants : " + ", ".join(s.name for s in transcript.speakers) + ".", ""]
    body = [f"[{clock(p.start)}] {p.speaker + TEXT_NAME_SEPARATOR if p.turn else ''}{p.text}\n" for p in paragraphs(transcript)]
    return "\n".join(header) + "\n" + "\n".join(body)


def to_srt(transcript: Transcript) -> str:
    """SubRip captions, composed by the ``srt`` library."""
    subtitles = (
        srt.Subtitle(
            index=i,
            start=dt.timedelta(seconds=cue.start),
            end=dt.timedelta(seconds=cue.end),
            content=(cue.speaker + NAME_SEPARATOR if cue.turn else "") + "\n".join(cue.lines),
        )
        for i, cue in enumerate(cues(transcript), start=1)
    )
    return str(srt.compose(subtitles, reindex=False))


def _note_lines(transcript: Transcript) -> Iterator[str]:
    prov = transcript.provenance
    facts = {
        "source": prov.input_name,
        "source_sha256": prov.input_sha256,
        "model": prov.model.id,
        "model_bin_sha256": prov.model.sha256.get("model.bin", ""),
        "faster_whisper": prov.faster_whisper_version,
        "ctranslate2": prov.ctranslate2_version,
        "pipeline": prov.pipeline_version,
        "language": transcript.language,
        "transcribed_utc": prov.finished_utc,
        "options": json.dumps(dict(prov.options), ensure_ascii=False, sort_keys=True),
    }
    for key, value in facts.items():
        # A NOTE may not contain "-->" nor a blank line.
        yield f"{key}: {str(value).replace('-->', '->')}".replace("\n", " ")


def to_vtt(transcript: Transcript) -> str:
    """WebVTT captions with a NOTE block carrying the provenance."""
    parts = ["WEBVTT\n", "NOTE\n" + "\n".join(_note_lines(transcript)) + "\n"]
    for cue in cues(transcript):
        text = _escape_vtt("\n".join(line.replace("-->", "->") for line in cue.lines))
        if cue.speaker:  # a voice span: players show the name, screen readers read it
            text = f"<v {_escape_vtt(cue.speaker).replace('-->', '->')}>{text}</v>"
        parts.append(f"{vtt_time(cue.start)} --> {vtt_time(cue.end)}\n{text}\n")
    return "\n".join(parts)


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def all_renderings(transcript: Transcript, title: str = "") -> Iterable[tuple[str, str]]:
    """(file suffix, text) for every text rendering of a transcript."""
    yield "txt", to_txt(transcript, title)
    yield "srt", to_srt(transcript)
    yield "vtt", to_vtt(transcript)
