"""The review report: where an editor should listen before publishing a transcript.

Spans to check, in audio order, each with its reason and a link to that moment of the replay:

- ``doubt``: words likely wrong: the doubt model (:mod:`pipeline.doubt`) reads Whisper's word
  probability in its context;
- ``loop``: a word or phrase repeated three times or more in a row (Whisper's repetition loop);
- ``no-speech``: text where Whisper thought nobody spoke (a hallucination over music or noise?);
- ``lost``: speech the guard found without any text (``quality.speech_without_words``);
- ``number``: figures, amounts, percentages (a wrong digit changes the meaning);
- ``name``: a proper name or acronym the catalogue and the glossary do not know;
- ``replaced``: a replacement made by the series' vocabulary or glossary.

The report is a detector and is measured as one (README, « Review report »): the share of word
errors inside flagged spans, and the share of words flagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from . import doubt
from .store import Names
from .subtitles import short_clock
from .transcript import Transcript
from .vocabulary import normalise

REVIEW_VERSION = 2

REASONS = {
    "doubt": "mots incertains",
    "loop": "répétition en boucle",
    "no-speech": "texte sur un passage sans parole ?",
    "lost": "parole sans texte",
    "number": "nombre",
    "name": "nom propre inconnu du catalogue et du glossaire",
    "replaced": "remplacement par le vocabulaire de la série",
}
NUMBER = re.compile(r"\d|%|€|\bpour ?cent\b|\bmillions?\b|\bmilliards?\b", re.IGNORECASE)
SENTENCE_END = (".", "?", "!", "…", ":")


@dataclass(frozen=True)
class ReviewOptions:
    """What the report flags."""

    doubt_bound: float | None = None
    """A word the doubt model finds wrong with at least this probability is doubtful (None: the
    model's own bound, which flags 16 % of the dev files' words; README, « Review report »)."""
    min_probability: float | None = None
    """Instead of the doubt model, a word Whisper gave a lower probability than this is doubtful
    (the rule before the model, kept as a baseline: 0.7 flags 16 % of the words)."""
    no_speech_probability: float = 0.6
    """A segment Whisper thought silent with at least this probability is suspect."""
    loop_repeats: int = 3
    """A phrase of up to four words said this many times in a row is a loop."""


@dataclass(frozen=True)
class Flag:
    """A span to check: where, why, and the text there."""

    start: float
    end: float
    kind: str
    text: str
    note: str = ""


def _runs(flags: Iterable[Flag]) -> list[Flag]:
    """Doubtful words or numbers that follow each other (no word between) become one flag."""
    merged: list[Flag] = []
    for flag in sorted(flags, key=lambda f: (f.kind, f.start)):
        last = merged[-1] if merged else None
        if last is not None and last.kind == flag.kind and flag.start - last.end <= 0.1 and flag.kind in {"doubt", "number"}:
            merged[-1] = Flag(last.start, max(last.end, flag.end), last.kind, f"{last.text} {flag.text}", last.note)
        else:
            merged.append(flag)
    return merged


def _loops(tokens: Sequence[doubt.WrittenWord], repeats: int) -> list[Flag]:
    found: list[Flag] = []
    keys = [normalise(t.text) for t in tokens]
    index = 0
    while index < len(tokens):
        best = 0
        for size in range(1, 5):
            count = 1
            while (
                index + (count + 1) * size <= len(keys)
                and keys[index + count * size : index + (count + 1) * size] == keys[index : index + size]
            ):
                count += 1
            if count >= repeats and all(keys[index : index + size]):
                best = max(best, count * size)
        if best:
            span = tokens[index : index + best]
            found.append(Flag(span[0].start, span[-1].end, "loop", " ".join(t.text for t in span)))
            index += best
        else:
            index += 1
    return found


def doubtful(
    words: Sequence[doubt.WrittenWord],
    features: np.ndarray,
    options: ReviewOptions,
    model: doubt.DoubtModel | None = None,
    known_words: frozenset[str] = frozenset(),
) -> list[Flag]:
    """The words likely wrong among ``words`` (their ``features`` from :func:`doubt.features_of`;
    ``model``: the shipped doubt model unless given), each with Whisper's probability as its
    note; a word the catalogue or the glossary spells is not."""
    if options.min_probability is not None:
        chosen = [w.probability < options.min_probability for w in words]
    else:
        model = model or doubt.shipped()
        bound = model.bound if options.doubt_bound is None else options.doubt_bound
        chosen = list(model.probabilities(features) >= bound) if words else []
    return [
        Flag(w.start, w.end, "doubt", w.text, f"{w.probability:.0%}")
        for w, c in zip(words, chosen, strict=True)
        if c and normalise(w.text.strip('.,;:!?…«»"()[]')) not in known_words
    ]


def review(
    transcript: Transcript, known: Iterable[str] = (), options: ReviewOptions | None = None, model: doubt.DoubtModel | None = None
) -> tuple[Flag, ...]:
    """The spans of a transcript to check, in audio order. ``known``: names and terms the
    catalogue and the glossary spell (never flagged as unknown names); ``model``: the doubt
    model (the shipped one unless given)."""
    options = options or ReviewOptions()
    known_words = frozenset(normalise(w) for term in known for w in term.split())
    by_segment = [doubt.written(segment.words) for segment in transcript.segments]
    words = [w for tokens in by_segment for w in tokens]
    flags = doubtful(words, doubt.features_of(transcript.segments, by_segment), options, model, known_words)
    for segment, tokens in zip(transcript.segments, by_segment, strict=True):
        if segment.text.strip() and segment.no_speech_prob >= options.no_speech_probability:
            flags.append(Flag(segment.start, segment.end, "no-speech", segment.text.strip(), f"{segment.no_speech_prob:.0%}"))
        flags += _loops(tokens, options.loop_repeats)
        previous = ""
        for index, token in enumerate(tokens):
            text = token.text
            if NUMBER.search(text):
                flags.append(Flag(token.start, token.end, "number", text))
            core = text.strip('.,;:!?…«»"()[]')
            sentence_start = index == 0 or previous.endswith(SENTENCE_END)
            capital = core[:1].isupper() and (not sentence_start or (len(core) > 1 and core.isupper()))
            if capital and normalise(core) and normalise(core) not in known_words:
                flags.append(Flag(token.start, token.end, "name", core))
            previous = text
    flags += [Flag(s.start, s.end, "lost", "", s.note) for s in transcript.quality.speech_without_words]
    flags += [Flag(c.start, c.end, "replaced", f"{c.heard} → {c.written}", c.rule) for c in transcript.corrections if c.rule != "editor"]
    return tuple(sorted(_runs(flags), key=lambda f: (f.start, f.kind)))


def flagged_share(transcript: Transcript, flags: Sequence[Flag]) -> float:
    """The share of the transcript's words that fall in a flagged span."""
    words = [w for s in transcript.segments for w in s.words]
    if not words:
        return 0.0
    return sum(1 for w in words if covered((w.start + w.end) / 2, flags)) / len(words)


def covered(moment: float, flags: Sequence[Flag], margin: float = 0.05) -> bool:
    """Whether a moment falls in one of the flagged spans."""
    return any(f.start - margin <= moment <= f.end + margin for f in flags)


def to_markdown(transcript: Transcript, flags: Sequence[Flag], title: str, replay: str) -> str:
    """``review.md``: a checklist in audio order, each item linked to its moment
    (``replay`` is the session page, relative to the report)."""
    counts = {kind: sum(1 for f in flags if f.kind == kind) for kind in REASONS}
    lines = [
        f"# À relire : {title}",
        "",
        f"{len(flags)} passage(s) à vérifier, dans l'ordre de l'enregistrement. Corrigez `{Names.TRANSCRIPT_TXT}`,",
        "puis lancez `pipeline run` : toutes les sorties suivent.",
        "",
        ", ".join(f"{REASONS[k]} : {n}" for k, n in counts.items() if n) or "Rien à signaler.",
        "",
    ]
    for flag in flags:
        note = f" ({flag.note})" if flag.note else ""
        text = f" « {flag.text} »" if flag.text else ""
        lines.append(f"- [ ] [{short_clock(flag.start)}]({replay}#t={int(flag.start)}) {REASONS[flag.kind]}{note}{text}")
    return "\n".join(lines) + "\n"
