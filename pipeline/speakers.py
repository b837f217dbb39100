"""Who speaks when: speaker turns from voice embeddings, names from the catalogue.

The ``speakers`` stage runs after transcription and loads no Whisper: it decodes the audio,
cuts the speech that carries words into pieces of at most ``piece`` seconds, embeds each
piece with the GE2E voice encoder (:mod:`pipeline.voices`; 1.6-s windows every ``hop``
seconds), groups the pieces by average-linkage agglomerative clustering (the number of
voices follows from a similarity threshold chosen on the dev files, or is given), gives a
voice heard less than ``min_voice`` seconds to the nearest other voice, and smooths turns
shorter than ``min_turn``. Music, silence and applause carry no words, so they never get a
speaker.

Names: a voice close enough to a voiceprint of a catalogue speaker from earlier sessions takes
that name; the others take the catalogue's names in order of first appearance (the moderator
usually speaks first); extra voices are « Intervenant N ». The proposal is written to
``speakers.toml``, which an editor corrects in one line per voice; the outputs follow without
any model running again.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from .catalogue import Session, Speaker
from .text import xml_safe
from .transcript import Transcript
from .voices import SAMPLING_RATE

SPEAKERS_VERSION = 3
SCHEMA_VERSION = 1
UNNAMED = "Intervenant {n}"
MODERATOR_ROLES = re.compile(r"mod[ée]rat|anim|présent|host", re.I)
SENTENCE_ENDS = (".", "?", "!", "…")
VAD_BLOCK_SECONDS = 300.0
"""The speech detector reads the recording 5 minutes at a time: its memory does not grow with
the recording's length."""
SIMILARITY = {"ge2e+campplus": 0.50, "ge2e": 0.65, "campplus": 0.35}
"""Each encoder's clustering threshold, chosen on the dev files as a whole (README, « Speakers »)."""
RECOGNISE = {"ge2e+campplus": 0.75, "ge2e": 0.85, "campplus": 0.60}
"""Each encoder's voiceprint threshold: a voice at least this close to a known speaker's
voiceprint takes that name."""


@dataclass(frozen=True)
class SpeakerOptions:
    """How voices are told apart."""

    enabled: bool = True
    """Attribute the words to speakers."""
    count: int = 0
    """The number of speakers when it is known (0: estimated from the audio)."""
    min_speakers: int = 1
    """Fewest speakers to consider."""
    max_speakers: int = 0
    """Most speakers to consider (0: no bound; a webinar with an audience may have many)."""
    encoder: str = "ge2e+campplus"
    """The voice encoders: ``ge2e+campplus`` (both, their embeddings side by side: the best
    on the dev files), ``campplus`` or ``ge2e`` (the fastest)."""
    piece: float = 3.2
    """Longest stretch of speech embedded as one piece (seconds)."""
    hop: float = 0.8
    """Spacing of the GE2E windows inside a piece (seconds; each window is 1.6 s, the
    encoder's training length)."""
    window: float = 1.5
    """Length of the CAM++ windows inside a piece (seconds); 0: one pass over each whole piece."""
    window_hop: float = 1.5
    """Spacing of the CAM++ windows inside a piece (seconds): a piece gets
    ``round((length - window) / window_hop) + 1`` windows spread from its start to its end, a
    single one centred on it. Half a window (0.75) before version 3: 30 % more windows, the
    same turns on the dev files (README, « Speakers »)."""
    join_gap: float = 0.3
    """Words closer than this (seconds) belong to one stretch of speech."""
    sentence_cut: bool = True
    """A stretch of speech also ends with each sentence."""
    similarity: float = 0.0
    """Average cosine similarity between two groups of pieces above which they are one
    voice (average-linkage agglomerative clustering); 0: the encoder's own threshold,
    chosen on the dev files (``SIMILARITY``)."""
    min_voice: float = 3.0
    """A voice heard less than this (seconds) is given to the nearest other voice."""
    min_turn: float = 1.0
    """A turn shorter than this between two turns of one speaker is given to that speaker."""
    bridge: float = 2.0
    """Pieces of one voice less than this apart (seconds) are one turn."""
    pad: float = 0.2
    """Turns are widened by this (seconds) where no other turn is."""
    fit_to_speech: bool = True
    """Turn edges are moved to where Silero VAD hears speech starting and ending: Whisper's
    word times run over pauses and miss the breath before a sentence."""
    speech_pad: float = 0.2
    """Silero VAD's margin around the speech it hears (seconds)."""
    reach: float = 0.5
    """How far (seconds) a turn edge may move out to the speech around it."""
    recognise_similarity: float = 0.0
    """A voice this similar to a known speaker's voiceprint takes that speaker's name; 0: the
    encoder's own threshold (``RECOGNISE``)."""

    def __post_init__(self) -> None:
        if self.encoder not in SIMILARITY:
            raise ValueError(f"encoder = {self.encoder!r} is not one of {', '.join(map(repr, SIMILARITY))}")
        for name in ("hop", "window_hop", "piece"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} = {getattr(self, name)} must be more than 0 (seconds)")

    @property
    def threshold(self) -> float:
        """The clustering threshold in use."""
        return self.similarity or SIMILARITY[self.encoder]

    @property
    def recognise_threshold(self) -> float:
        """The voiceprint threshold in use."""
        return self.recognise_similarity or RECOGNISE[self.encoder]


@dataclass(frozen=True)
class Turn:
    """A stretch of speech by one voice."""

    start: float
    end: float
    voice: str


@dataclass(frozen=True)
class Voice:
    """A voice of the session: its label, speaking time, first moment and mean embedding."""

    label: str
    seconds: float
    first: float
    embedding: tuple[float, ...] = ()


@dataclass(frozen=True)
class Diarization:
    """The speakers stage's result: turns, voices, the proposed names, what was not heard."""

    session_id: str
    turns: tuple[Turn, ...]
    voices: tuple[Voice, ...]
    names: Mapping[str, str] = field(default_factory=dict)
    not_heard: tuple[str, ...] = ()
    provenance: Mapping[str, object] = field(default_factory=dict)


def speech_pieces(transcript: Transcript, options: SpeakerOptions) -> list[tuple[float, float]]:
    """Stretches of speech that carry words, cut into pieces of at most ``options.piece``."""
    words = sorted(
        (w.start, w.end, w.word.rstrip().endswith(SENTENCE_ENDS)) for s in transcript.segments for w in s.words if w.end > w.start
    )
    stretches: list[list[float]] = []
    after_sentence = False
    for start, end, ends_sentence in words:
        if stretches and start - stretches[-1][1] < options.join_gap and not (options.sentence_cut and after_sentence):
            stretches[-1][1] = max(stretches[-1][1], end)
        else:
            stretches.append([start, end])
        after_sentence = ends_sentence
    pieces = []
    for start, end in stretches:
        count = max(1, int(np.ceil((end - start) / options.piece)))
        step = (end - start) / count
        pieces += [(start + i * step, start + (i + 1) * step) for i in range(count)]
    return pieces


def agglomerate(embeddings: np.ndarray, threshold: float, fewest: int = 1, most: int = 0) -> np.ndarray:
    """Average-linkage agglomerative clustering on cosine similarity: the two most similar
    groups merge while their average similarity is at least ``threshold`` (or while there are
    more than ``most`` groups), never below ``fewest`` groups. Labels 0..k-1."""
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=int)
    similarity = np.asarray(embeddings @ embeddings.T, dtype=np.float32)  # pieces² values: 34 MB for an hour
    np.fill_diagonal(similarity, -np.inf)
    size = np.ones(n, dtype=np.float32)
    label = np.arange(n)
    groups = n
    while groups > max(fewest, 1):
        best = int(np.argmax(similarity))
        a, b = divmod(best, n)
        if similarity[a, b] < threshold and not (most and groups > most):
            break
        merged = (similarity[a] * size[a] + similarity[b] * size[b]) / (size[a] + size[b])
        similarity[a, :] = merged
        similarity[:, a] = merged
        similarity[a, a] = -np.inf
        similarity[b, :] = -np.inf
        similarity[:, b] = -np.inf
        size[a] += size[b]
        label[label == b] = a
        groups -= 1
    return np.asarray(np.unique(label, return_inverse=True)[1])


def _centres(embeddings: np.ndarray, labels: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    centres = np.array([embeddings[labels == i].mean(axis=0) for i in ids])
    return np.asarray(centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12))


def absorb_small(embeddings: np.ndarray, labels: np.ndarray, pieces: Sequence[tuple[float, float]], min_seconds: float) -> np.ndarray:
    """Voices heard less than ``min_seconds`` (a cough, a piece spoiled by noise) go to the
    nearest voice heard longer."""
    ids = sorted(set(labels.tolist()))
    heard = {i: sum(end - start for (start, end), label in zip(pieces, labels.tolist(), strict=True) if label == i) for i in ids}
    kept = [i for i in ids if heard[i] >= min_seconds]
    if not kept or len(kept) == len(ids):
        return labels
    centres = _centres(embeddings, labels, kept)
    result = labels.copy()
    for i in ids:
        if i not in kept:
            mask = labels == i
            result[mask] = np.array(kept)[np.argmax(embeddings[mask] @ centres.T, axis=1)]
    return np.asarray(np.unique(result, return_inverse=True)[1])


def refine(embeddings: np.ndarray, labels: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Each piece moves to the voice whose mean it is closest to (a few k-means rounds)."""
    for _ in range(rounds):
        ids = sorted(set(labels.tolist()))
        moved = np.array(ids)[np.argmax(embeddings @ _centres(embeddings, labels, ids).T, axis=1)]
        if np.array_equal(moved, labels):
            break
        labels = moved
    return np.asarray(np.unique(labels, return_inverse=True)[1])


def voices_of(embeddings: np.ndarray, pieces: Sequence[tuple[float, float]], options: SpeakerOptions) -> np.ndarray:
    """A voice label per piece: agglomerative clustering (the number of voices follows from
    the similarity threshold, or is ``options.count``), small voices absorbed, refined."""
    if options.count:
        labels = agglomerate(embeddings, np.inf, options.count, options.count)
        return refine(embeddings, labels)
    labels = agglomerate(embeddings, options.threshold, options.min_speakers, options.max_speakers)
    labels = absorb_small(embeddings, labels, pieces, options.min_voice)
    return refine(embeddings, labels)


def smooth(pieces: Sequence[tuple[float, float]], labels: Sequence[int], min_turn: float) -> list[int]:
    """A short turn between two turns of one voice goes to that voice."""
    result = list(labels)
    changed = True
    while changed:
        changed = False
        runs: list[list[int]] = []  # (first piece, last piece, label)
        for index, label in enumerate(result):
            if runs and runs[-1][2] == label:
                runs[-1][1] = index
            else:
                runs.append([index, index, label])
        for k in range(1, len(runs) - 1):
            first, last, _ = runs[k]
            if runs[k - 1][2] == runs[k + 1][2] and pieces[last][1] - pieces[first][0] < min_turn:
                for index in range(first, last + 1):
                    result[index] = runs[k - 1][2]
                changed = True
                break
    return result


def turns_of(pieces: Sequence[tuple[float, float]], voices: Sequence[str], options: SpeakerOptions) -> list[Turn]:
    """Consecutive pieces of one voice joined into turns (across pauses shorter than
    ``bridge``), each turn widened by ``pad`` seconds where no other turn is: word timestamps
    start late and end early, and a turn covers the breath between its words."""
    spans: list[tuple[float, float, str]] = []
    for (start, end), voice in zip(pieces, voices, strict=True):
        if spans and spans[-1][2] == voice and start - spans[-1][1] < options.bridge:
            spans[-1] = (spans[-1][0], end, voice)
        else:
            spans.append((start, end, voice))
    result = []
    for index, (start, end, voice) in enumerate(spans):
        before = spans[index - 1][1] if index else 0.0
        after = spans[index + 1][0] if index + 1 < len(spans) else end + options.pad
        low = max(start - options.pad, (before + start) / 2 if index else 0.0)
        high = min(end + options.pad, (end + after) / 2)
        result.append(Turn(round(low, 3), round(high, 3), voice))
    return result


def fit_to_speech(turns: Sequence[Turn], regions: Sequence[tuple[float, float]], reach: float) -> list[Turn]:
    """Each turn's edges moved to the speech regions it overlaps: an edge in silence moves in
    to where speech starts (or stops); an edge inside speech moves out to where that speech
    starts (or stops), by at most ``reach`` seconds and never over the turn before or after.
    A turn that overlaps no region (speech the detector missed) is kept as it is."""
    ends = [end for _, end in regions]  # regions are in order and apart
    result: list[Turn] = []
    for index, turn in enumerate(turns):
        inside = []
        k = bisect.bisect_right(ends, turn.start)  # the first region ending after the turn starts
        while k < len(regions) and regions[k][0] < turn.end:
            inside.append(regions[k])
            k += 1
        if not inside:
            result.append(turn)
            continue
        before = result[-1].end if result else 0.0
        after = turns[index + 1].start if index + 1 < len(turns) else inside[-1][1]
        first, last = inside[0][0], inside[-1][1]
        start = max(first, turn.start - reach, before) if first < turn.start else first
        end = min(last, turn.end + reach, after) if last > turn.end else last
        result.append(Turn(round(start, 3), round(end, 3), turn.voice))
    return result


class PieceEncoder(Protocol):
    """What embeds pieces of speech: one L2-normed vector per piece (:mod:`pipeline.voices`)."""

    def embed_pieces(
        self,
        audio: np.ndarray,
        pieces: Sequence[tuple[float, float]],
        options: SpeakerOptions,
        progress: Callable[[float], None] | None = None,
    ) -> np.ndarray: ...


def _speech_regions(audio: np.ndarray, options: SpeakerOptions) -> list[tuple[float, float]]:
    """Where Silero VAD hears speech, for fitting turn edges (5 minutes at a time), when the
    transcript does not record it."""
    from .transcribe import speech_regions

    return speech_regions(audio, min_silence=0.1, pad=options.speech_pad, block_seconds=VAD_BLOCK_SECONDS)


def heard_regions(heard: Sequence[tuple[float, float]], options: SpeakerOptions, duration: float) -> list[tuple[float, float]]:
    """The speech the transcription heard (``Quality.speech``: silences of 100 ms split it, no
    margin) with the speakers' margin, as Silero's own rules widen it: what
    :func:`_speech_regions` finds, without running the detector again."""
    from .transcribe import widened

    rate = SAMPLING_RATE
    samples = [{"start": int(round(a * rate)), "end": int(round(b * rate))} for a, b in heard]
    return [(r["start"] / rate, r["end"] / rate) for r in widened(samples, options.speech_pad * rate, int(round(duration * rate)))]


def diarize(
    session_id: str,
    transcript: Transcript,
    audio: np.ndarray,
    encoder: PieceEncoder,
    options: SpeakerOptions,
    progress: Callable[[float], None] | None = None,
) -> Diarization:
    """Turns and voices of a session (labels ``SPEAKER_1``… in order of first appearance).
    ``progress`` hears the share of the embedding done (0 to 1), the stage's long part."""
    pieces = speech_pieces(transcript, options)
    if not pieces:
        return Diarization(session_id, (), ())
    heard = transcript.quality.speech
    with ThreadPoolExecutor(max_workers=1) as background:
        # The transcription records where it heard speech; else the speech detector runs on one
        # core while the encoders run (measured, README « Speakers »).
        if not options.fit_to_speech:
            regions = None
        elif heard is not None:
            regions = background.submit(heard_regions, heard, options, len(audio) / SAMPLING_RATE)
        else:
            regions = background.submit(_speech_regions, audio, options)
        embeddings = encoder.embed_pieces(audio, pieces, options, progress)
        labels = np.array(smooth(pieces, voices_of(embeddings, pieces, options).tolist(), options.min_turn))
        order = list(dict.fromkeys(labels.tolist()))
        names = {raw: f"SPEAKER_{i + 1}" for i, raw in enumerate(order)}
        turns = turns_of(pieces, [names[raw] for raw in labels.tolist()], options)
        if regions is not None:
            turns = fit_to_speech(turns, regions.result(), options.reach)
    voices = []
    for raw in order:
        mask = labels == raw
        seconds = sum(end - start for (start, end), m in zip(pieces, mask, strict=True) if m)
        centre = embeddings[mask].mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        first = min(start for (start, _), m in zip(pieces, mask, strict=True) if m)
        voices.append(Voice(names[raw], round(seconds, 2), round(first, 3), tuple(round(float(x), 6) for x in centre)))
    return Diarization(session_id, tuple(turns), tuple(voices))


# -- names ----------------------------------------------------------------------------------


def propose_names(
    voices: Sequence[Voice], speakers: Sequence[Speaker], voiceprints: Mapping[str, np.ndarray], threshold: float
) -> tuple[dict[str, str], tuple[str, ...]]:
    """A name per voice, and the catalogue names no voice took (« not heard »).

    First, voices that match a known voiceprint of a catalogue speaker (most similar first);
    then the others in order of first appearance take the remaining names, a moderator first;
    then « Intervenant N »."""
    names: dict[str, str] = {}
    wanted = [s.name for s in speakers]
    pairs = []
    for voice in voices:
        vector = np.array(voice.embedding, dtype=np.float32)
        for name in wanted:
            if name in voiceprints and len(vector):
                pairs.append((float(vector @ voiceprints[name]), voice.label, name))
    for similarity, label, name in sorted(pairs, reverse=True):
        if similarity >= threshold and label not in names and name not in names.values():
            names[label] = name
    ordered = sorted(speakers, key=lambda s: 0 if MODERATOR_ROLES.search(s.role) else 1)
    left = [s.name for s in ordered if s.name not in names.values()]
    for voice in sorted(voices, key=lambda v: v.first):
        if voice.label not in names and left:
            names[voice.label] = left.pop(0)
    unnamed = 0
    for voice in voices:
        if voice.label not in names:
            unnamed += 1
            names[voice.label] = UNNAMED.format(n=len(wanted) + unnamed)
    heard = set(names.values())
    return {v.label: names[v.label] for v in voices}, tuple(s.name for s in speakers if s.name not in heard)


def names_toml(diarization: Diarization, words_by_voice: Mapping[str, str]) -> str:
    """``speakers.toml``: one line per voice for the editor, with its speaking time and first
    words, and the catalogue names no voice took."""
    lines = [
        "# Qui parle dans cette séance. Corrigez un nom à droite du signe =, enregistrez, puis",
        "# lancez `pipeline run` : transcription, sous-titres, synthèse, site et archive suivent,",
        "# sans qu'aucun modèle ne tourne à nouveau.",
        "",
    ]
    for voice in diarization.voices:
        minutes, seconds = divmod(int(round(voice.seconds)), 60)
        first = int(voice.first)
        said = words_by_voice.get(voice.label, "")
        lines.append(
            f"# {voice.label} : {minutes} min {seconds:02d} s de parole, à partir de {first // 60:02d}:{first % 60:02d} « {said} »"
        )
        lines.append(f"{voice.label} = {json.dumps(diarization.names.get(voice.label, voice.label), ensure_ascii=False)}")
    if diarization.not_heard:
        lines += ["", "# Au catalogue, non entendus : " + ", ".join(diarization.not_heard)]
    return "\n".join(lines) + "\n"


def read_names(text: str, source: Path | str | None = None) -> dict[str, str]:
    """The names an editor gave (``SPEAKER_2 = "Name"``); one-line errors with the line."""
    from .catalogue import parse_toml_text
    from .errors import CatalogueError

    data = parse_toml_text(text, source)
    names = {}
    for key, value in data.items():
        if not re.fullmatch(r"SPEAKER_\d+", key):
            line = next((i for i, row in enumerate(text.splitlines(), start=1) if row.strip().startswith(key)), 0)
            raise CatalogueError(source, f"line {line}: '{key}' is not a voice label", "keep the labels SPEAKER_1, SPEAKER_2… on the left")
        value = xml_safe(value) if isinstance(value, str) else value
        if not isinstance(value, str) or not value.strip():
            line = next((i for i, row in enumerate(text.splitlines(), start=1) if row.strip().startswith(key)), 0)
            raise CatalogueError(source, f"line {line}: {key} has no name", f'write {key} = "Prénom Nom"')
        names[key] = value.strip()
    return names


def to_json(diarization: Diarization) -> str:
    """``speakers.json`` text (versioned)."""
    body = asdict(diarization)
    return json.dumps({"schema_version": SCHEMA_VERSION, **body}, ensure_ascii=False) + "\n"


def from_json(text: str, source: Path | str | None = None) -> Diarization:
    """Read ``speakers.json`` back."""
    from .errors import TranscriptFormatError

    try:
        data = json.loads(text)
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema version {data.get('schema_version')!r}")
        return Diarization(
            session_id=data["session_id"],
            turns=tuple(Turn(**t) for t in data["turns"]),
            voices=tuple(Voice(**{**v, "embedding": tuple(v["embedding"])}) for v in data["voices"]),
            names=dict(data.get("names") or {}),
            not_heard=tuple(data.get("not_heard") or ()),
            provenance=dict(data.get("provenance") or {}),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TranscriptFormatError(source, f"is not a speakers file this version reads ({exc})", "delete it and run again") from exc


def inputs(transcript_sha256: str, options: SpeakerOptions, session: Session) -> dict[str, object]:
    """What the voices of a session depend on: the decoded words (where speech is), the
    options and the catalogue's speakers (the name proposal), not the recording's name."""
    from .voices import encoder_id

    return {
        "asr_sha256": transcript_sha256,
        "options": asdict(options),
        "speakers": [asdict(s) for s in session.speakers],
        "encoder": encoder_id(options.encoder),
        "version": SPEAKERS_VERSION,
    }
