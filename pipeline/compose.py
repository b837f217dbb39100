"""The publishable transcript, composed from what Whisper heard (``asr.json``).

The ``transcript`` stage is cheap and loads no model: it applies the series' vocabulary to
the decoded words (:mod:`pipeline.vocabulary`), then writes ``transcript.json`` and its
text, SubRip and WebVTT renderings. A change of vocabulary reruns this stage only, never
Whisper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace

from .transcript import Transcript
from .vocabulary import Term, VocabularyOptions, correct

COMPOSE_VERSION = 1
"""Bumped when the composed transcript changes for the same inputs."""


def inputs(asr_sha256: str, terms: Sequence[Term], options: VocabularyOptions, title: str) -> dict[str, object]:
    """What the publishable transcript depends on."""
    return {
        "asr_sha256": asr_sha256,
        "terms": [asdict(t) for t in terms],
        "vocabulary": asdict(options),
        "title": title,
        "version": COMPOSE_VERSION,
    }


def compose(asr: Transcript, terms: Sequence[Term], options: VocabularyOptions) -> Transcript:
    """The decoded transcript with the vocabulary applied, its use recorded in the provenance."""
    corrected = correct(asr, terms, options)
    recorded: Mapping[str, object] = {**asr.provenance.options, "vocabulary": [t.text for t in terms] if options.enabled else []}
    return replace(corrected, provenance=replace(corrected.provenance, options=recorded))
