"""The publishable transcript, composed from what Whisper heard (``asr.json``).

The ``transcript`` stage is cheap and loads no model: it applies the series' vocabulary to
the decoded words (:mod:`pipeline.vocabulary`), gives each word the speaker of the turn it
falls in (:mod:`pipeline.speakers`), cuts segments where the speaker changes, names the
speakers as ``speakers.toml`` says, then writes ``transcript.json`` and its text, SubRip and
WebVTT renderings. A change of vocabulary or of a name reruns this stage only, never a model.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace

from .catalogue import Speaker
from .speakers import Diarization, Turn
from .transcript import Segment, SpeakerInfo, Transcript, glued, speaking, split_by_speaker
from .vocabulary import Term, VocabularyOptions, correct

COMPOSE_VERSION = 2
"""Bumped when the composed transcript changes for the same inputs."""
NEAREST_TURN = 1.0
"""A word outside every turn takes the nearest turn's speaker if it is this close (seconds)."""


def inputs(
    asr_sha256: str, terms: Sequence[Term], options: VocabularyOptions, title: str, speakers_sha256: str = "", names_sha256: str = ""
) -> dict[str, object]:
    """What the publishable transcript depends on."""
    return {
        "asr_sha256": asr_sha256,
        "terms": [asdict(t) for t in terms],
        "vocabulary": asdict(options),
        "title": title,
        "speakers_sha256": speakers_sha256,
        "names_sha256": names_sha256,
        "version": COMPOSE_VERSION,
    }


def _speaker_at(turns: Sequence[Turn], starts: Sequence[float], moment: float) -> str | None:
    index = bisect.bisect_right(starts, moment) - 1
    candidates = [turns[i] for i in (index, index + 1) if 0 <= i < len(turns)]
    inside = [t for t in candidates if t.start <= moment <= t.end]
    if inside:
        return inside[0].voice
    distance, voice = min(
        ((min(abs(t.start - moment), abs(t.end - moment)), t.voice) for t in candidates), default=(NEAREST_TURN + 1, None)
    )
    return voice if distance <= NEAREST_TURN else None


def attribute(segments: Sequence[Segment], turns: Sequence[Turn]) -> list[Segment]:
    """Each word gets the speaker of the turn its middle falls in; a segment is cut where the
    speaker changes (segments are renumbered)."""
    ordered = sorted(turns, key=lambda t: t.start)
    starts = [t.start for t in ordered]
    result: list[Segment] = []
    for segment in segments:
        if not segment.words:
            result.append(replace(segment, speaker=_speaker_at(ordered, starts, (segment.start + segment.end) / 2)))
            continue
        words = []
        for group in glued(segment.words):  # the pieces of one written word share its speaker
            voice = _speaker_at(ordered, starts, (group[0].start + group[0].end) / 2)
            words += [replace(w, speaker=voice) for w in group]
        result += split_by_speaker(segment, words)
    return [replace(s, id=i) for i, s in enumerate(result)]


def speaker_table(
    segments: Sequence[Segment], diarization: Diarization, names: Mapping[str, str], catalogue: Sequence[Speaker]
) -> tuple[SpeakerInfo, ...]:
    """Who spoke, in order of first appearance: label, name, role (from the catalogue),
    speaking time (the span of their words) and word count."""
    roles = {s.name: s.role for s in catalogue}
    spoken = speaking(segments)
    table = []
    for voice in sorted(diarization.voices, key=lambda v: v.first):
        if voice.label in spoken:
            name = names.get(voice.label, voice.label)
            table.append(SpeakerInfo(voice.label, name, roles.get(name, ""), *spoken[voice.label]))
    return tuple(table)


def compose(
    asr: Transcript,
    terms: Sequence[Term],
    options: VocabularyOptions,
    diarization: Diarization | None = None,
    names: Mapping[str, str] | None = None,
    catalogue: Sequence[Speaker] = (),
) -> Transcript:
    """The decoded transcript with the vocabulary applied and the speakers attributed; what
    was used is recorded in the provenance."""
    corrected = correct(asr, terms, options)
    recorded: dict[str, object] = {**asr.provenance.options, "vocabulary": [t.text for t in terms] if options.enabled else []}
    if diarization is not None and diarization.turns:
        names = {**diarization.names, **(names or {})}
        segments = attribute(corrected.segments, diarization.turns)
        corrected = replace(corrected, segments=tuple(segments), speakers=speaker_table(segments, diarization, names, catalogue))
        recorded["speakers"] = dict(diarization.provenance)
    return replace(corrected, provenance=replace(corrected.provenance, options=recorded))
