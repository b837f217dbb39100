"""The transcript model shared by every stage: frozen dataclasses and their JSON form.

``transcript.json`` is the source of truth for later stages and for editors' corrections,
so :func:`dump` and :func:`load` are exact inverses (tested by a round trip).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import TranscriptFormatError

SCHEMA = "https://github.com/villes-numeriques/pipeline/schemas/transcript"
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1 had no speakers and no quality record


@dataclass(frozen=True)
class Word:
    """One recognised word with its timing (seconds), Whisper's probability and its speaker."""

    start: float
    end: float
    word: str
    probability: float
    speaker: str | None = None


@dataclass(frozen=True)
class Segment:
    """A stretch of speech as Whisper decoded it."""

    id: int
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 0.0
    temperature: float = 0.0
    speaker: str | None = None
    """The speaker of most of its words (segments are split at turn changes)."""


@dataclass(frozen=True)
class SpeakerInfo:
    """A voice of the session: its label, the name it is shown with, and how much it spoke."""

    id: str
    name: str
    role: str = ""
    seconds: float = 0.0
    words: int = 0


@dataclass(frozen=True)
class Span:
    """A stretch of the recording (seconds), with a short note of what happened there."""

    start: float
    end: float
    note: str = ""


@dataclass(frozen=True)
class Correction:
    """A replacement made in the decoded words: where, what was heard, what is written now,
    and by which rule (``spelling``, ``known``, ``close``, or ``editor``)."""

    start: float
    end: float
    heard: str
    written: str
    rule: str


@dataclass(frozen=True)
class Quality:
    """What the transcription guard saw: speech windows that decoded to too few words,
    those re-decoded without the prompt, and the speech still left without words."""

    checked_windows: int = 0
    redecoded: tuple[Span, ...] = ()
    speech_without_words: tuple[Span, ...] = ()
    speech: tuple[tuple[float, float], ...] | None = None
    """Where Silero VAD heard speech, (start, end) in seconds, split by silences of 100 ms or
    more, no margin (the speakers stage fits turn edges to it); None: not recorded (a resumed
    or sequential transcription, older files)."""

    @property
    def seconds_without_words(self) -> float:
        """Speech seconds that ended with no text after the guard."""
        return round(sum(s.end - s.start for s in self.speech_without_words), 3)


@dataclass(frozen=True)
class ModelInfo:
    """Which Whisper weights produced the transcript, identified by their file hashes."""

    id: str
    path: str
    sha256: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Provenance:
    """Everything an archivist needs to know how the transcript was made."""

    input_name: str
    input_sha256: str
    input_duration: float
    model: ModelInfo
    faster_whisper_version: str
    ctranslate2_version: str
    pipeline_version: str
    options: Mapping[str, Any]
    started_utc: str
    finished_utc: str


@dataclass(frozen=True)
class Transcript:
    """A whole session transcript."""

    session_id: str
    language: str
    language_probability: float
    duration: float
    segments: tuple[Segment, ...]
    provenance: Provenance
    speakers: tuple[SpeakerInfo, ...] = ()
    quality: Quality = field(default_factory=Quality)
    corrections: tuple[Correction, ...] = ()

    @property
    def text(self) -> str:
        """The plain text of all segments, joined by spaces."""
        return " ".join(segment.text.strip() for segment in self.segments).strip()


def glued(words: Sequence[Word]) -> list[list[Word]]:
    """Word pieces grouped into written words: a piece without a leading space belongs to the
    word before it (Whisper writes « aujourd'hui » as « aujourd » + « 'hui »)."""
    groups: list[list[Word]] = []
    for word in words:
        if groups and word.word and not word.word[0].isspace():
            groups[-1].append(word)
        else:
            groups.append([word])
    return groups


def split_by_speaker(segment: Segment, words: Sequence[Word]) -> list[Segment]:
    """``segment`` holding ``words`` instead of its own, cut where the speaker changes (one
    segment per run of one speaker's words; ids are the caller's to renumber)."""
    runs: list[list[Word]] = []
    for word in words:
        if runs and runs[-1][-1].speaker == word.speaker:
            runs[-1].append(word)
        else:
            runs.append([word])
    return [
        replace(
            segment,
            start=run[0].start,
            end=run[-1].end,
            text="".join(w.word for w in run).strip(),
            words=tuple(run),
            speaker=run[0].speaker,
        )
        for run in runs
    ]


def speaking(segments: Sequence[Segment]) -> dict[str, tuple[float, int]]:
    """Each speaker's speaking time (the spans of their words, seconds) and word count."""
    seconds: dict[str, float] = {}
    words: dict[str, int] = {}
    for segment in segments:
        for word in segment.words:
            if word.speaker:
                seconds[word.speaker] = seconds.get(word.speaker, 0.0) + max(word.end - word.start, 0.0)
                words[word.speaker] = words.get(word.speaker, 0) + 1
    return {speaker: (round(seconds[speaker], 2), words[speaker]) for speaker in words}


def to_dict(transcript: Transcript) -> dict[str, Any]:
    """The JSON-ready form of a transcript, with its schema and version."""
    body = asdict(replace(transcript, segments=()))
    body["segments"] = [_segment_dict(s) for s in transcript.segments]
    quality = body.pop("quality")
    quality["seconds_without_words"] = transcript.quality.seconds_without_words
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "session_id": body["session_id"],
        "info": {
            "language": body["language"],
            "language_probability": body["language_probability"],
            "duration": body["duration"],
        },
        "speakers": body["speakers"],
        "quality": quality,
        "corrections": body["corrections"],
        "segments": body["segments"],
        "provenance": body["provenance"],
    }


def _segment_dict(segment: Segment) -> dict[str, Any]:
    """``asdict(segment)``, written out: ``asdict`` deep-copies 15,000 words of an hour of
    speech one by one, ten times slower (a test checks both give the same)."""
    return {
        "id": segment.id,
        "start": segment.start,
        "end": segment.end,
        "text": segment.text,
        "words": [
            {"start": w.start, "end": w.end, "word": w.word, "probability": w.probability, "speaker": w.speaker} for w in segment.words
        ],
        "avg_logprob": segment.avg_logprob,
        "no_speech_prob": segment.no_speech_prob,
        "compression_ratio": segment.compression_ratio,
        "temperature": segment.temperature,
        "speaker": segment.speaker,
    }


def dumps(transcript: Transcript) -> str:
    """Serialise to the ``transcript.json`` text (UTF-8, stable key order)."""
    return json.dumps(to_dict(transcript), ensure_ascii=False, indent=2) + "\n"


def segment_from_dict(seg: Mapping[str, Any]) -> Segment:
    """One segment from its JSON form (positional: an hour of speech has 15,000 words)."""
    return Segment(
        seg["id"],
        seg["start"],
        seg["end"],
        seg["text"],
        tuple(Word(w["start"], w["end"], w["word"], w["probability"], w.get("speaker")) for w in seg.get("words", ())),
        seg.get("avg_logprob", 0.0),
        seg.get("no_speech_prob", 0.0),
        seg.get("compression_ratio", 0.0),
        seg.get("temperature", 0.0),
        seg.get("speaker"),
    )


def _spans(items: Any) -> tuple[Span, ...]:
    return tuple(Span(float(i["start"]), float(i["end"]), str(i.get("note", ""))) for i in items or ())


def from_dict(data: Mapping[str, Any], source: Path | str | None = None) -> Transcript:
    """Rebuild a transcript from its JSON form; refuse other schema versions clearly."""
    version = data.get("schema_version") if isinstance(data, Mapping) else None
    if version not in READABLE_VERSIONS:
        raise TranscriptFormatError(
            source,
            f"transcript schema version {version!r} is not supported (expected {SCHEMA_VERSION})",
            "regenerate it with `pipeline transcribe --force`",
        )
    try:
        info = data["info"]
        prov = data["provenance"]
        segments = tuple(segment_from_dict(seg) for seg in data["segments"])
        provenance = Provenance(
            **{k: v for k, v in prov.items() if k != "model"},
            model=ModelInfo(**prov["model"]),
        )
        quality = data.get("quality") or {}
        return Transcript(
            session_id=data["session_id"],
            language=info["language"],
            language_probability=info["language_probability"],
            duration=info["duration"],
            segments=segments,
            provenance=provenance,
            speakers=tuple(SpeakerInfo(**s) for s in data.get("speakers") or ()),
            quality=Quality(
                int(quality.get("checked_windows", 0)),
                _spans(quality.get("redecoded")),
                _spans(quality.get("speech_without_words")),
                None if quality.get("speech") is None else tuple((float(a), float(b)) for a, b in quality["speech"]),
            ),
            corrections=tuple(Correction(**c) for c in data.get("corrections") or ()),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TranscriptFormatError(
            source,
            f"transcript does not match schema {SCHEMA_VERSION}: {exc}",
            "fix the edited field or regenerate the transcript",
        ) from exc


def loads(text: str, source: Path | str | None = None) -> Transcript:
    """Parse ``transcript.json`` text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptFormatError(
            source,
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            "fix the JSON syntax or regenerate the transcript",
        ) from exc
    return from_dict(data, source)


def load(path: Path) -> Transcript:
    """Read a ``transcript.json`` file."""
    return loads(path.read_text(encoding="utf-8"), path)
