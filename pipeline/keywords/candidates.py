"""Candidate keywords: noun phrases found by part-of-speech patterns, grouped by lemma.

Each token gets one letter (N noun, P proper noun, A adjective, 9 number, D « de », T
article, O anything else); noun phrases are regular expressions over those letters. Oral
fillers, locution nouns and time words are never part of a candidate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..sentences import Sentence, sentences_of
from ..transcript import Transcript
from .lexicon import FILLER_PHRASES, FILLERS, LIGHT_NOUNS, LOCUTION_NOUNS, TIME_WORDS
from .model import Candidate, CandidateBuilder, KeywordOptions, Occurrence

NOUNS = frozenset({"NOUN", "PROPN"})
ACRONYM = re.compile(r"^[A-ZÀ-Ý][A-ZÀ-Ý0-9]{1,7}$")


def tag_of(token: Any) -> str:
    """One letter per token for the pattern grammar."""
    text = token.text
    if not text.strip() or token.is_punct:
        return "O"
    lower = text.lower()
    if lower in FILLERS or lower in LOCUTION_NOUNS or token.lemma_.lower() in LOCUTION_NOUNS or lower in TIME_WORDS:
        return "O"
    if not any(c.isalnum() for c in text) or "[" in text or "]" in text:
        return "O"
    if ACRONYM.match(text) and token.pos_ in {"NOUN", "PROPN", "X", "ADJ"}:
        return "N"
    if token.pos_ == "PROPN" or (token.pos_ == "X" and text[:1].isupper()):
        return "P"
    if token.pos_ == "NOUN":
        return "N" if not token.is_stop else "O"
    if token.pos_ == "ADJ":
        return "A" if not token.is_stop else "O"
    if token.pos_ == "NUM":
        return "9"
    if token.pos_ == "ADP" and token.lemma_.lower() == "de":
        return "D"
    if token.pos_ == "DET" and lower in {"la", "l'", "l’", "les", "le"}:
        return "T"
    return "O"


# Noun phrase: optional pre-nominal adjective, nouns, adjectives or numbers, and at most one
# « de » complement (« gouvernance des données », « centres de données »).
PATTERN = re.compile(r"A?[NP]+[A9]*(?:DT?A?[NP]+[A9]*)*")


SIMPLE = re.compile(r"A?[NP]+[A9]*")
# Inside a phrase: a run of common nouns with adjectives, or a whole run of proper nouns
# (« Hewlett-Packard », « Ansar Eddine » stay whole).
NOUN_CORE = re.compile(r"N+A*|P+9*")
# Inside a chain of « de » complements, each « N de N » pair (« centres de données » in
# « consommation énergétique des centres de données »).
DE_PAIR = re.compile(r"(?=([NP]+A*DT?A?[NP]+A*))")


def _phrases(tags: str, options: KeywordOptions) -> Iterable[tuple[int, int]]:
    for match in (PATTERN if options.de_phrases else SIMPLE).finditer(tags):
        start, end = match.span()
        yield start, end
        if not options.nested:
            continue
        inner = tags[start:end]
        emitted = {(start, end)}
        for pair in DE_PAIR.finditer(inner):
            span = (start + pair.start(1), start + pair.end(1))
            if span not in emitted:
                emitted.add(span)
                yield span
        for core in NOUN_CORE.finditer(inner):
            span = (start + core.start(), start + core.end())
            if span not in emitted:
                emitted.add(span)
                yield span
            if core.group().startswith("P"):
                continue
            for offset, tag in enumerate(inner[core.start() : core.end()]):
                single = (start + core.start() + offset, start + core.start() + offset + 1)
                if tag == "N" and single not in emitted:
                    emitted.add(single)
                    yield single


def lemma_of(token: Any) -> str:
    """The lower-cased lemma of a token (an acronym is its own lemma)."""
    text = str(token.text)
    if ACRONYM.match(text):
        return text.lower()
    return str(token.lemma_ or text).lower().replace("’", "'")


def collect_candidates(docs: Sequence[Any], sentences: Sequence[Sentence], options: KeywordOptions) -> dict[str, Candidate]:
    """Candidates of one session keyed by lemma, from its parsed sentences (spaCy docs)."""
    total = max(sum(len(d) for d in docs), 1)
    seen = 0
    builders: dict[str, CandidateBuilder] = {}
    for doc, sentence in zip(docs, sentences, strict=True):
        tokens = list(doc)
        tags = "".join(tag_of(t) for t in tokens)
        lemmas = [lemma_of(t) for t in tokens]
        maximal = {m.span() for m in (PATTERN if options.de_phrases else SIMPLE).finditer(tags)}
        for start, end in _phrases(tags, options):
            words = tuple(lemmas[i] for i in range(start, end) if tags[i] in "NPA9")
            if not words or len(words) > options.max_words:
                continue
            span = tokens[start:end]
            surface = "".join(t.text_with_ws for t in span).strip()
            low = surface.lower()
            if any(p in low for p in FILLER_PHRASES) or (len(words) == 1 and len(low) < 3) or all(w.isdigit() for w in words):
                continue
            if len(words) == 1 and words[0] in LIGHT_NOUNS:
                continue
            lemma = " ".join(lemmas[start:end])
            builder = builders.setdefault(lemma, CandidateBuilder(lemma=lemma, words=words, first=(seen + start) / total))
            builder.surfaces[surface if any(c.isupper() for c in surface[1:]) or span[0].pos_ == "PROPN" else low] += 1
            builder.occurrences.append(Occurrence(sentence.index, sentence.start, sentence.end))
            builder.alone += (start, end) in maximal
        seen += len(tokens)
    return {k: b.freeze() for k, b in builders.items() if b.alone or not options.standalone}


def analyse(
    transcript: Transcript, nlp: Any, options: KeywordOptions | None = None, sentences: Sequence[Sentence] | None = None
) -> dict[str, Candidate]:
    """Phase one: parse a transcript's sentences with spaCy and collect its candidates."""
    sentences = sentences if sentences is not None else sentences_of(transcript)
    docs = list(nlp.pipe([s.text for s in sentences], batch_size=256))
    return collect_candidates(docs, sentences, options or KeywordOptions())
