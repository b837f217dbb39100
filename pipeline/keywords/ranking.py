"""Ranking: TF-IDF against the series, with a background-French prior and position."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from .model import Candidate, KeywordOptions


class Background(Protocol):
    """Background French word frequency, on the Zipf scale (0 unknown … 8 very frequent)."""

    def __call__(self, word: str) -> float: ...


def wordfreq_background(word: str) -> float:
    """Zipf frequency of a French word from wordfreq (offline data shipped in the wheel)."""
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "fr"))


def background_idf(words: Sequence[str], background: Background) -> float:
    """An IDF-like weight from everyday French frequency: about 1 for very common words
    (Zipf 7, « faire »), about 4 for rare ones (Zipf 3, « interopérabilité »)."""
    if not words:
        return 1.0
    zipf = sum(background(w) for w in words) / len(words)
    return min(5.0, max(1.0, 1.0 + 0.8 * (7.0 - zipf)))


def rank(
    candidates: Mapping[str, Candidate],
    document_frequency: Mapping[str, int],
    documents: int,
    options: KeywordOptions,
    background: Background | None = None,
    title_words: frozenset[str] = frozenset(),
    weight: Callable[[Candidate], float] | None = None,
) -> list[tuple[str, float]]:
    """Candidates ranked by score, best first (ties broken by lemma, so the order is stable);
    ``weight``, when given, multiplies each candidate's score (the themes' specificity)."""
    scored = []
    for lemma, candidate in candidates.items():
        tf = len(candidate.occurrences)
        idf = math.log((documents + 1) / (document_frequency.get(lemma, 0) + 1)) + 1.0
        if background is not None and options.background_documents:
            prior = options.background_documents
            idf = (documents * idf + prior * background_idf(candidate.words, background)) / (documents + prior)
        score = tf * idf
        score *= 1.0 + options.position_weight / (1.0 + 10.0 * candidate.first)
        if options.title_boost and title_words and set(candidate.words) & title_words:
            score *= 1.0 + options.title_boost
        score *= 1.0 + options.length_bonus * (len(candidate.words) - 1)
        if options.heard_weight and candidate.heard < 1.0:
            # a word French does not know, that Whisper doubted, is doubly suspect
            unknown = background is not None and any(background(w) == 0 for w in candidate.words if w.isalpha())
            score *= candidate.heard ** (options.heard_weight * (2 if unknown else 1))
        if weight is not None:
            score *= weight(candidate)
        scored.append((lemma, score))
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored


def document_frequencies(sessions: Iterable[Iterable[str]]) -> Counter[str]:
    """In how many sessions each candidate lemma occurs."""
    return Counter(lemma for lemmas in sessions for lemma in set(lemmas))
