"""The keywords stage's data: options, candidates, keywords and a session's result."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class KeywordOptions:
    """How candidates are found and ranked."""

    top_n: int = 30
    """Keywords kept per session."""
    max_words: int = 5
    """Longest candidate, in words."""
    title_boost: float = 0.25
    """Extra weight for a candidate whose words appear in the title (0 disables)."""
    position_weight: float = 2.0
    """Weight of an early first mention: score × (1 + w / (1 + 10 × relative position))."""
    background_documents: float = 5.0
    """Strength of the background-frequency prior on the IDF, in pseudo-documents: it
    dominates while the series has few sessions and fades as it grows (0 disables)."""
    length_bonus: float = 0.0
    """Extra weight per word beyond the first, for multi-word phrases."""
    de_phrases: bool = True
    """Allow one « de » complement in a candidate (« gouvernance des données »)."""
    nested: bool = True
    """Also count every noun, and every noun with its adjectives, inside longer phrases."""
    standalone: bool = True
    """Keep a nested candidate only if it also occurs on its own at least once."""
    merge_abbreviations: bool = True
    """An acronym and the phrase it abbreviates, both said, are one keyword (« système
    d'information (SI) »)."""
    merge_names: bool = True
    """A name said short and in full (« Arafat », « Yasser Arafat ») is one keyword."""
    heard_weight: float = 1.0
    """A candidate's score is multiplied by how surely Whisper heard it (see
    :attr:`Candidate.heard`) to this power, twice this power when one of its words is
    unknown to everyday French (wordfreq, Zipf 0): a keyword Whisper was unsure of is most
    often a word it misheard, and a misheard word is often no French word at all
    (« agoustique ») (0 disables)."""
    series_words: float = 1.0
    """How much a one-word keyword that the themes' texts share loses: its score is
    multiplied by 1 - series_words × (1 - specificity), so with 1 « numérique »
    (specificity 0.10) keeps a tenth of it and « données » (0.23) a quarter: words the whole
    series says are not what one session is about. A word of one theme, or of none, and
    every phrase (« gouvernance des données »), keep all of it (0 disables)."""
    theme_similarity: float = 0.4
    """Cosine similarity to the centre of a theme's label and terms (word vectors without
    their common directions) above which a keyword joins it."""
    theme_margin: float = 0.03
    """How much closer to that theme than to the next one the keyword must be."""
    theme_confidence: float = 0.5
    """The probability a passage's most probable theme must reach for the passage to be filed
    under it (see :mod:`.filing`); below it the passage has no theme. 0.5: the filing is then
    more often right than wrong (the probabilities are calibrated on the dev passages)."""
    catalogue_prior: float = 2.0
    """How much more likely a passage is to be on a theme the catalogue gives its session:
    the theme's odds are multiplied by it in every passage (1 disables). The editor's
    choice tips a passage that hesitates, never one that says another theme's words."""


@dataclass(frozen=True)
class Occurrence:
    """Where a keyword is said: the index of its sentence, and that sentence's time span."""

    sentence: int
    start: float
    end: float


@dataclass(frozen=True)
class Keyword:
    """A ranked keyword with its most frequent surface form and every occurrence."""

    lemma: str
    surface: str
    score: float
    count: int
    occurrences: tuple[Occurrence, ...]
    themes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThemePassage:
    """A passage of a session and where it is filed: its sentences (``first``-``last``), time
    span, each theme's probability (and « none »'s), the theme it is filed under (empty: no
    theme) and the words of that theme's field it says, most said first."""

    first: int
    last: int
    start: float
    end: float
    probabilities: Mapping[str, float]
    theme: str = ""
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThemeKeywords:
    """A theme's ranked keywords in one session and the share of the session that deals with it."""

    theme_id: str
    label: str
    keywords: tuple[str, ...]
    coverage: float
    """The expected share of the session's speech time about the theme: each passage's
    probability of the theme weighed by its duration (for an axis: the share of time in
    sentences that say one of its keywords or terms). Orders the themes."""
    share: float = 0.0
    """The share of speech time in passages filed under the theme (probability at least
    ``theme_confidence``): what readers are shown (for an axis, its coverage)."""


@dataclass(frozen=True)
class SessionKeywords:
    """The keywords stage's result for one session."""

    session_id: str
    keywords: tuple[Keyword, ...]
    themes: tuple[ThemeKeywords, ...]
    candidates: tuple[str, ...] = ()
    """Every candidate lemma (for the series' document frequencies)."""
    provenance: Mapping[str, Any] = field(default_factory=dict)
    passages: tuple[ThemePassage, ...] = ()
    """The session's passages and the themes they are filed under (see :mod:`.filing`)."""


@dataclass(frozen=True)
class Candidate:
    """A candidate keyword of one session: its lemma key, content words, most frequent
    surface form, occurrences and the relative position (0-1) of its first mention."""

    lemma: str
    words: tuple[str, ...]
    surface: str
    occurrences: tuple[Occurrence, ...]
    first: float
    themes: tuple[str, ...] = ()
    """Themes and axes one of whose terms this candidate is, said as the theme file writes it."""
    heard: float = 1.0
    """How surely Whisper heard it: over its occurrences, the mean of the lowest probability
    of its words (1 without word probabilities)."""


@dataclass
class CandidateBuilder:
    """A candidate being collected (mutable until frozen)."""

    lemma: str
    words: tuple[str, ...]
    first: float
    surfaces: Counter[str] = field(default_factory=Counter)
    occurrences: list[Occurrence] = field(default_factory=list)
    alone: int = 0
    themes: set[str] = field(default_factory=set)
    heard: list[float] = field(default_factory=list)

    def freeze(self) -> Candidate:
        """The finished candidate."""
        surface = self.surfaces.most_common(1)[0][0]
        heard = sum(self.heard) / len(self.heard) if self.heard else 1.0
        return Candidate(self.lemma, self.words, surface, tuple(self.occurrences), self.first, tuple(sorted(self.themes)), heard)
